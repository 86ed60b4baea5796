"""Engine operations that keep a locked month final: the snapshot taken with each lock and checked on every
read, and the sightings held because they are dated inside a locked month (a late kiosk sync, an import, a
camera while the month is locked). Held sightings are recorded and audited, not counted and not sent to
integrations, until HR unlocks the month and counts them, or dismisses them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine_state import EngineState, T
from core.attendance.schedule import month_days, month_key, parse_month
from core.attendance.snapshot import SnapshotCheck, check_snapshot, snapshot_rows, timesheet_from_snapshot
from core.attendance.timesheet import Timesheet
from core.base.dated import HeldOrigin, HeldSighting, HeldState
from core.base.errors import InvalidInputError
from core.base.records import AttendanceEvent
from core.base.timekeeping import AuditAction

HELD, EVENTS, SCHEDULES = ChangeKind.HELD, ChangeKind.EVENTS, ChangeKind.SCHEDULES


class FinalOperations(EngineState):
    """Mixed into Engine; uses AttendanceOperations' computed timesheet, unlock and publish helpers."""

    if TYPE_CHECKING:

        def computed_timesheet(self, month: date) -> Timesheet: ...

        def unlock_month(self, month: str, reason: str, actor: str | None = None) -> Outcome[bool]: ...

        def _hr_done(self, value: T, changes: Changes) -> Outcome[T]: ...

        def _actor(self, actor: str | None) -> str: ...

    # ---- snapshots ----

    def _take_snapshot(self, month: str) -> int:
        """Inside lock_month's transaction: keep the month's computed days. Returns the rows kept."""
        rows = snapshot_rows(self.computed_timesheet(parse_month(month)))
        self.store.save_snapshot(rows)
        return len(rows)

    def locked_timesheet(self, month: date) -> Timesheet | None:
        """A locked month served from its snapshot, checked against the month computed now (None: no snapshot)."""
        rows = self.store.snapshot(month_key(month))
        if not rows:
            return None
        recomputed = self.computed_timesheet(month)
        roster = {entry.person_id: entry for entry in self.store.roster(include_inactive=True)}
        sheet = timesheet_from_snapshot(month, month_days(month), rows, roster, recomputed.computed_at)
        check = check_snapshot(month_key(month), rows, recomputed)
        return Timesheet(sheet.month, sheet.days, sheet.rows, sheet.computed_at, True, check.differing)

    def verify_locked_month(self, month: str) -> SnapshotCheck:
        """Compare a locked month's snapshot with the month computed again now."""
        key = month_key(parse_month(month))
        if key not in self.store.locked_months():
            raise InvalidInputError(f"{key} is not locked; only a locked month has a snapshot.")
        rows = self.store.snapshot(key)
        return check_snapshot(key, rows, self.computed_timesheet(parse_month(key)))

    # ---- held sightings ----

    def held_sightings(self, month: str | None = None, state: HeldState | None = HeldState.HELD) -> list[HeldSighting]:
        """Sightings held for a locked month (of one month; in a state), oldest first."""
        return self.store.held_sightings(state, month_key(parse_month(month)) if month else None)

    def held_count(self) -> int:
        return len(self.store.held_sightings(HeldState.HELD))

    def hold_sightings(
        self, sightings: Iterable[AttendanceEvent], origin: HeldOrigin, note: str, actor: str | None = None
    ) -> list[HeldSighting]:
        """Inside the caller's transaction: hold sightings dated in a locked month, with one audit entry."""
        zone = self.site_zone()
        held = [self.store.hold_sighting(event, f"{event.time.astimezone(zone):%Y-%m}", origin) for event in sightings]
        if held:
            months: dict[str, int] = {}
            for item in held:
                months[item.month] = months.get(item.month, 0) + 1
            self.store.append_audit(
                self._actor(actor),
                AuditAction.EVENTS_HELD,
                ", ".join(sorted(months)),
                note,
                {"origin": origin.value, "held": len(held), "months": months},
            )
        return held

    def count_held(
        self, held_ids: Iterable[int], reason: str, actor: str | None = None
    ) -> Outcome[list[AttendanceEvent]]:
        """Unlock the months the sightings are dated in (audited, with the reason) and count them: each becomes
        an event, and is queued for integrations."""
        self.site.require_hr_edit()
        actor = self._actor(actor)
        held = [self.store.held_sighting(int(i)) for i in held_ids]
        for month in sorted({item.month for item in held} & set(self.store.locked_months())):
            self.unlock_month(month, reason, actor=actor)
        counted = []
        with self.store.transaction():
            for item in held:
                counted.append(self.store.count_held_sighting(item.id, actor, reason))
            if counted:
                self.store.append_audit(
                    actor,
                    AuditAction.HELD_COUNTED,
                    ", ".join(sorted({item.month for item in held})),
                    reason,
                    {"held_ids": [item.id for item in held], "event_ids": [e.id for e in counted]},
                )
        people = [e.person_id for e in counted if e.person_id is not None]
        return self._hr_done(counted, Changes.of(HELD, EVENTS, person_ids=people) if counted else Changes())

    def dismiss_held(self, held_ids: Iterable[int], reason: str, actor: str | None = None) -> Outcome[int]:
        """HR decides these held sightings do not count; they stay listed as dismissed, with the reason."""
        self.site.require_hr_edit()
        if not reason.strip():
            raise InvalidInputError("Dismissing held sightings needs a reason, for the audit log.")
        actor = self._actor(actor)
        ids = [int(i) for i in held_ids]
        with self.store.transaction():
            for held_id in ids:
                self.store.dismiss_held_sighting(held_id, actor, reason.strip())
            if ids:
                self.store.append_audit(
                    actor, AuditAction.HELD_DISMISSED, f"{len(ids)} held", reason.strip(), {"held_ids": ids}
                )
        return self._done(len(ids), Changes.of(HELD) if ids else Changes())
