"""The Engine's integration operations: targets (ERPNext, Odoo, webhooks), delivery rounds in the
foreground or on a background thread, the outbox's counts and its dead letters.

Integrations deliver from the admin station in a site, or from a standalone PC; a kiosk has none.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Generator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine_state import EngineState
from core.attendance.schedule import localize
from core.base.cancel import CancelCheck
from core.base.errors import InvalidInputError, PersonNotFoundError
from core.base.timekeeping import PersonDay
from core.integrations.backfill import BackfillProgress, BackfillReport, backfill
from core.integrations.delivery import (
    BackgroundDelivery,
    DayStatusChange,
    DeliveryProgress,
    DeliveryReport,
    DeliveryRound,
    client_for,
    open_outbox,
)
from core.integrations.http import TargetUnreachable
from core.integrations.outbox import (
    DaySpan,
    DeadLetter,
    DeliveryPolicy,
    TargetCounts,
    counts,
    dead_letters,
    retry_dead,
    transaction,
)
from core.integrations.targets import (
    IntegrationError,
    Target,
    check_secret,
    check_target,
    delete_target,
    forget_secret,
    load_secrets,
    load_targets,
    save_target,
    store_secret,
    update_target,
)
from core.site.records import SiteRole


class IntegrationOperations(EngineState):
    """Mixed into Engine: uses its store (the database file), settings, site and attendance rules."""

    _background_delivery: BackgroundDelivery | None = None
    integration_policy: DeliveryPolicy = DeliveryPolicy()

    if TYPE_CHECKING:  # AttendanceOperations'

        def person_history(self, person_id: int, first: date, last: date) -> list[PersonDay]: ...

        def site_zone(self) -> tzinfo: ...

    def _integration_db(self) -> sqlite3.Connection:
        if self.store.path == ":memory:":
            raise InvalidInputError("Integrations need a database file (this store is in memory).")
        return open_outbox(self.store.path)

    def _integration_folder(self) -> Path:
        return Path(self.store.path).parent

    def integration_targets(self) -> list[Target]:
        conn = self._integration_db()
        try:
            return load_targets(conn)
        finally:
            conn.close()

    def integration_target(self, name: str) -> Target:
        for target in self.integration_targets():
            if target.name == name:
                return target
        raise InvalidInputError(f"No integration target named {name!r}; `rollcall integrations list` shows them.")

    def add_integration(self, target: Target, secret: str, replace: bool = False) -> Outcome[Target]:
        """Save a target (its secret in the 0600 secrets file); from now on every event and correction is
        queued for it. `replace` changes an existing target's settings and secret and keeps its queue."""
        if self.site.role is SiteRole.KIOSK:
            raise InvalidInputError("A kiosk delivers nothing itself: add integrations on the site's admin station.")
        target = check_target(target)
        secret = check_secret(target.kind, secret)
        conn = self._integration_db()
        try:
            exists = any(existing.name == target.name for existing in load_targets(conn))
            if exists and not replace:
                raise InvalidInputError(
                    f"An integration target named {target.name!r} exists; --replace changes it and keeps its queue."
                )
            store_secret(self._integration_folder(), target.name, secret)
            with transaction(conn):
                if exists:
                    update_target(conn, target)
                else:
                    save_target(conn, target)
        finally:
            conn.close()
        return self._done(target, Changes.of(ChangeKind.SETTINGS))

    def remove_integration(self, name: str) -> Outcome[bool]:
        """Forget a target, its queue and its secret."""
        conn = self._integration_db()
        try:
            with transaction(conn):
                removed = delete_target(conn, name)
        finally:
            conn.close()
        forget_secret(self._integration_folder(), name)
        return self._done(removed, Changes.of(ChangeKind.SETTINGS) if removed else Changes())

    def test_integration(self, name: str) -> str:
        """One round trip that changes nothing (a login, a signed ping); IntegrationError says what failed."""
        target = self.integration_target(name)
        secret = load_secrets(self._integration_folder()).get(name)
        if secret is None:
            raise IntegrationError(f"{name}: its secret is missing; add the target again.")
        try:
            return client_for(target, secret, self.integration_policy).check()
        except TargetUnreachable as exc:
            raise IntegrationError(f"{name}: {exc}") from None

    def _delivery_round(self) -> DeliveryRound:
        station = self.site.station if self.site.joined and self.site.station else socket.gethostname()
        return DeliveryRound(
            self.store.path,
            self._integration_folder(),
            self.site_zone(),
            station,
            self.integration_policy,
            self._day_status_of,
            day_spans=self._day_spans_of,
        )

    def _day_spans_of(self, person_id: int, day: date) -> list[DaySpan]:
        """The work days that a moment on `day` can count for (that day and the one before, for a night
        shift): each one's first and last sighting or punch, as the day board has them."""
        try:
            history = self.person_history(person_id, day - timedelta(days=1), day)
        except PersonNotFoundError:  # erased meanwhile
            return []
        return [DaySpan(d.day, d.first_seen, d.last_seen) for d in history if d.first_seen is not None and d.last_seen]

    def _day_status_of(self, person_id: int, moment: datetime) -> DayStatusChange | None:
        """The day the moment counted for (a night shift's check-out counts for the day before)."""
        day = moment.astimezone(self.site_zone()).date()
        history = self.person_history(person_id, day - timedelta(days=1), day)
        for person_day in reversed(history):
            if moment in (person_day.first_seen, person_day.last_seen):
                return DayStatusChange(person_day.day, person_day.status.value, person_day.to_json())
        return None

    def deliver_integrations(
        self, cancel: CancelCheck | None = None, only: str | None = None
    ) -> Generator[DeliveryProgress, None, DeliveryReport]:
        """One delivery round over every target (or one), asked for now: rows waiting out their backoff are
        tried too. Progress per row, cancel between rows."""
        if only is not None:
            self.integration_target(only)
        return (yield from self._delivery_round().run(cancel, only, now=True))

    def deliver_integrations_now(self, only: str | None = None) -> DeliveryReport:
        generator = self.deliver_integrations(only=only)
        while True:
            try:
                next(generator)
            except StopIteration as done:
                return done.value

    def backfill_integration(
        self, name: str, first: date, last: date, cancel: CancelCheck | None = None
    ) -> Generator[BackfillProgress, None, BackfillReport]:
        """Queue the sightings and corrections of the site days first..last for one target (a new one, say),
        idempotently: what the target already has a row for is not queued again. Delivery sends them."""
        target = self.integration_target(name)
        if last < first:
            raise InvalidInputError("The end date is before the start date.")
        zone = self.site_zone()
        opens = localize(datetime.combine(first, time()), zone).timestamp()
        closes = localize(datetime.combine(last + timedelta(days=1), time()), zone).timestamp()
        conn = self._integration_db()
        try:
            return (
                yield from backfill(
                    conn, target, opens, closes, datetime.now(UTC).timestamp(), self.integration_policy.batch, cancel
                )
            )
        finally:
            conn.close()

    def integration_status(self) -> list[TargetCounts]:
        conn = self._integration_db()
        try:
            return counts(conn)
        finally:
            conn.close()

    def integration_dead_letters(self, name: str | None = None) -> list[DeadLetter]:
        conn = self._integration_db()
        try:
            return dead_letters(conn, name)
        finally:
            conn.close()

    def retry_integration(self, name: str | None = None) -> Outcome[int]:
        """Dead letters queued again (of one target, or all); returns how many."""
        if name is not None:
            self.integration_target(name)
        conn = self._integration_db()
        try:
            with transaction(conn):
                count = retry_dead(conn, name)
        finally:
            conn.close()
        return self._done(count, Changes())

    def start_integration_delivery(self, on_result: Callable[[DeliveryReport], None] | None = None) -> bool:
        """Deliver in the background while the app or `recognize` runs (no-op with no targets, on a kiosk,
        or when already running)."""
        if (
            self._background_delivery is not None
            or self.store.path == ":memory:"
            or self.site.role is SiteRole.KIOSK
            or not self.integration_targets()
        ):
            return False
        self._background_delivery = BackgroundDelivery(self._delivery_round(), on_result).start()
        return True

    def stop_integration_delivery(self) -> None:
        background, self._background_delivery = self._background_delivery, None
        if background is not None:
            background.stop()
