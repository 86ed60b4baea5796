"""Delivery: one round over every target's due rows (a generator with progress and cancel), and rounds
on a background thread while the app or `rollcall recognize` runs.

A round opens its own connection to the database file, so HTTP never waits on the store's lock. Each row
is marked in its own short transaction after the target answers: a crash between the two sends the row
again next time (at least once), and the idempotency key (the row's UUID) lets the target see the repeat.
A target that cannot be reached, or refuses the login, keeps its rows queued and is left until next round.
Every module here is imported at the top, never lazily, so the thread and its caller never race an import.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Protocol

from core.base.errors import Cancelled
from core.integrations.erpnext import ErpnextClient
from core.integrations.http import Answer, TargetUnreachable, Verdict
from core.integrations.odoo import OdooClient
from core.integrations.outbox import (
    DaySpan,
    DeliveryPolicy,
    Message,
    OutboxItem,
    due,
    enqueue,
    last_day_status,
    mark_dead,
    mark_delivered,
    mark_retry,
    message,
    more_queued,
    purge_delivered,
    queued_since,
    remember_day_status,
    transaction,
)
from core.integrations.targets import TAKES, MessageType, Target, TargetKind, load_secrets, load_targets
from core.integrations.webhook import WebhookClient

log = logging.getLogger(__name__)
BUSY_TIMEOUT_MS = 5000
SECONDS_PER_DAY = 86400


class TargetBusy(Exception):
    """The target answered 5xx or asked to slow down; the row is marked for retry, the round moves on."""


class Client(Protocol):
    def deliver(self, message: Message) -> Answer: ...

    def finish(self, delivered: int, synced_until: datetime) -> str: ...

    def check(self) -> str: ...


@dataclass(frozen=True)
class DayStatusChange:
    day: date
    status: str
    record: dict  # PersonDay.to_json()


DayStatusOf = Callable[[int, datetime], DayStatusChange | None]  # person, moment -> their day's status
DaySpansOf = Callable[[int, date], list[DaySpan]]  # person, day -> the spans of that day and the day before


@dataclass(frozen=True)
class DeliveryProgress:
    target: str
    delivered: int
    retried: int
    dead: int


@dataclass(frozen=True)
class TargetRound:
    target: str
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    error: str | None = None  # why the round left this target early (down, login refused)


@dataclass(frozen=True)
class DeliveryReport:
    targets: tuple[TargetRound, ...]
    seconds: float

    @property
    def delivered(self) -> int:
        return sum(t.delivered for t in self.targets)

    @property
    def dead(self) -> int:
        return sum(t.dead for t in self.targets)

    @property
    def errors(self) -> list[str]:
        return [f"{t.target}: {t.error}" for t in self.targets if t.error]


def client_for(target: Target, secret: str, policy: DeliveryPolicy) -> Client:
    if target.kind is TargetKind.ERPNEXT:
        return ErpnextClient(target, secret, policy.timeout_s)
    if target.kind is TargetKind.ODOO:
        return OdooClient(target, secret, policy.timeout_s)
    return WebhookClient(target, secret, policy.timeout_s, clock_skew_s=policy.clock_skew_s)


def open_outbox(db_path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(db_path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@dataclass
class _Tally:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


class DeliveryRound:
    """What one round needs: the database, the secrets' folder, the site's zone and this station's name."""

    def __init__(
        self,
        db_path: Path | str,
        data_dir: Path,
        zone: tzinfo,
        station: str,
        policy: DeliveryPolicy | None = None,
        day_status: DayStatusOf | None = None,
        clock: Callable[[], float] = time.time,
        day_spans: DaySpansOf | None = None,
    ):
        self.db_path, self.data_dir, self.zone, self.station = db_path, data_dir, zone, station
        self.policy, self.day_status, self.clock = policy or DeliveryPolicy(), day_status, clock
        self.day_spans = day_spans
        self._spans: dict[tuple[int, date], list[DaySpan]] = {}  # this round's, per person and day

    def run(
        self, cancel: Callable[[], bool] | None = None, only: str | None = None, now: bool = False
    ) -> Generator[DeliveryProgress, None, DeliveryReport]:
        """One round; `now` also tries rows still waiting out their backoff (a round someone asked for)."""
        started = time.monotonic()
        self._spans = {}
        conn = open_outbox(self.db_path)
        try:
            secrets = load_secrets(self.data_dir)
            with transaction(conn):
                purge_delivered(conn, self.clock() - self.policy.keep_delivered_days * SECONDS_PER_DAY)
            rounds = []
            for target in load_targets(conn):
                if only is not None and target.name != only:
                    continue
                secret = secrets.get(target.name)
                if secret is None:
                    rounds.append(TargetRound(target.name, error="its secret is missing; add the target again"))
                    continue
                client = client_for(target, secret, self.policy)
                rounds.append((yield from self._target(conn, target, client, cancel, now)))
            return DeliveryReport(tuple(rounds), time.monotonic() - started)
        finally:
            conn.close()

    def _target(
        self, conn: sqlite3.Connection, target: Target, client: Client, cancel: Callable[[], bool] | None, now: bool
    ) -> Generator[DeliveryProgress, None, TargetRound]:
        tally = _Tally()
        while items := due(conn, target.name, math.inf if now else self.clock(), self.policy.batch):
            for item in items:
                if cancel is not None and cancel():
                    raise Cancelled("Delivery cancelled; the rest stays queued.")
                try:
                    self._one(conn, target, client, item, tally)
                except TargetBusy as exc:
                    return TargetRound(target.name, tally.delivered, tally.retried, tally.dead, str(exc))
                except TargetUnreachable as exc:
                    with transaction(conn):
                        mark_retry(conn, item, str(exc), self.clock(), self.policy)
                    tally.retried += 1
                    return TargetRound(target.name, tally.delivered, tally.retried, tally.dead, str(exc))
                yield DeliveryProgress(target.name, tally.delivered, tally.retried, tally.dead)
        synced_until = queued_since(conn, target.name) or datetime.fromtimestamp(self.clock(), UTC)
        try:
            client.finish(tally.delivered, synced_until)
        except TargetUnreachable as exc:
            return TargetRound(target.name, tally.delivered, tally.retried, tally.dead, str(exc))
        return TargetRound(target.name, tally.delivered, tally.retried, tally.dead)

    def _span(self, record: Message) -> DaySpan | None:
        """The work day a sighting or punch counted for, by the rules (cached for the round)."""
        if self.day_spans is None or record.person_id is None or record.type is MessageType.DAY_STATUS:
            return None
        day = record.time.astimezone(self.zone).date()
        key = (record.person_id, day)
        if key not in self._spans:
            self._spans[key] = self.day_spans(record.person_id, day)
        moment = record.time.replace(microsecond=0)  # the day board counts whole seconds
        return next(
            (s for s in self._spans[key] if s.first.replace(microsecond=0) <= moment <= s.last.replace(microsecond=0)),
            None,
        )

    def _one(self, conn: sqlite3.Connection, target: Target, client: Client, item: OutboxItem, tally: _Tally) -> None:
        record = message(conn, item, self.zone, self.station)
        if record is None:  # its event or correction was erased meanwhile
            with transaction(conn):
                mark_delivered(conn, item.id, self.clock(), "not sent: erased before delivery")
            return
        if target.kind is not TargetKind.WEBHOOK:
            record = replace(record, span=self._span(record))
        answer = client.deliver(record)
        now = self.clock()
        change = self._day_status_change(conn, target, record) if answer.verdict is Verdict.DELIVERED else None
        with transaction(conn):
            if answer.verdict is Verdict.DELIVERED:
                mark_delivered(conn, item.id, now, answer.detail or None)
                tally.delivered += 1
                if change is not None and record.person_id is not None:
                    enqueue(
                        conn,
                        target.name,
                        str(uuid.uuid4()),
                        MessageType.DAY_STATUS,
                        now=now,
                        person_id=record.person_id,
                        payload={
                            "day": change.day.isoformat(),
                            "status": change.status,
                            "record": change.record,
                            "changed_at": datetime.fromtimestamp(now, UTC).isoformat(),
                        },
                    )
                    remember_day_status(conn, target.name, record.person_id, change.day, change.status)
            elif answer.verdict is Verdict.DEAD:
                mark_dead(conn, item.id, answer.detail)
                tally.dead += 1
                log.warning("Integration %s: a dead letter (%s)", target.name, answer.detail)
            else:
                mark_retry(conn, item, answer.detail, now, self.policy)
                tally.retried += 1
        if answer.verdict is Verdict.RETRY:  # 5xx, 429: the target is struggling; leave it until next round
            raise TargetBusy(answer.detail)

    def _day_status_change(self, conn: sqlite3.Connection, target: Target, record: Message) -> DayStatusChange | None:
        """A new day status for the person after this record, when the target takes day statuses."""
        if (
            self.day_status is None
            or record.person_id is None
            or record.type is MessageType.DAY_STATUS
            or MessageType.DAY_STATUS not in TAKES[target.kind]
        ):
            return None
        if more_queued(conn, target.name, record.person_id):  # a burst: the status after its last row is enough
            return None
        change = self.day_status(record.person_id, record.time)
        if change is None or last_day_status(conn, target.name, record.person_id, change.day) == change.status:
            return None
        return change


class BackgroundDelivery:
    """Delivery rounds on a thread every `interval_s`; failures are logged and retried next round."""

    def __init__(self, delivery_round: DeliveryRound, on_result: Callable[[DeliveryReport], None] | None = None):
        self.delivery_round, self.on_result = delivery_round, on_result
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rollcall-integrations", daemon=True)
        self.rounds_finished = 0  # rounds run to the end, failed ones included

    def start(self) -> BackgroundDelivery:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._thread.join(timeout if timeout is not None else self.delivery_round.policy.timeout_s + 5)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                generator = self.delivery_round.run(cancel=self._stop.is_set)
                while True:
                    next(generator)
            except StopIteration as done:
                if self.on_result is not None:
                    self.on_result(done.value)
            except Cancelled:
                return
            except Exception:  # a damaged secrets file, a locked database: logged, tried again next round
                log.exception("Integration delivery round failed")
            self.rounds_finished += 1
            self._stop.wait(self.delivery_round.policy.interval_s)
