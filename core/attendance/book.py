"""The event book: every accepted sighting becomes one raw event.

`AttendanceBook.observe` is the one entry for a sighting, live (the recogniser) or imported (an earlier
log). A known person's sighting is stored unless another of theirs lies within the cooldown of it; any
number of sightings in between change nothing. Nothing is ever moved or overwritten: which shift and day
a sighting counts for is decided by the rules (core.attendance.status) from the person's shift for that
date. The stored kind is the book's reading when it was seen, for display: `check_in` for the first
sighting in a shift's window, `check_out` for a later one (a sighting outside every window reads as a
check-in). The store is the source of truth, so a restarted app never marks anyone twice.
The rules are the `attendance` section of the settings (AttendanceSettings).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from core.base.dated import HeldOrigin
from core.base.records import AttendanceEvent, EventKind
from core.base.settings import AttendanceSettings
from core.base.timekeeping import AuditAction
from core.gallery.store import GalleryStore

from .rosters import ShiftPlan
from .schedule import site_zone
from .windows import person_slots, slot_at

_LOOK_AROUND = timedelta(days=2)  # a shift's window reaches at most this far from a sighting


def local_now() -> datetime:
    return datetime.now().astimezone()


class AttendanceBook:
    """Turns recognitions into raw attendance events according to the rules."""

    def __init__(
        self,
        store: GalleryStore,
        rules: AttendanceSettings | None = None,
        clock: Callable[[], datetime] = local_now,
        hold_locked: bool = False,
    ):
        self.store = store
        self.hold_locked = hold_locked  # a sighting dated in a locked month is held, not counted
        self.rules = rules or AttendanceSettings()
        self.clock = clock
        self._lock = threading.Lock()
        # person id -> their latest stored sighting: skips the store while the cooldown runs
        self._last: dict[int, datetime] = {}

    def observe(
        self,
        person_id: int | None,
        similarity: float,
        source: str,
        track_id: int | None = None,
        snapshot_jpeg: bytes | None = None,
        when: datetime | None = None,
    ) -> AttendanceEvent | None:
        """Record a sighting (when: default now; naive = this machine's local time); returns the stored
        event, or None when another sighting of the person lies within the cooldown."""
        when = when or self.clock()
        if when.tzinfo is None:
            when = when.astimezone()  # naive = local time
        event = AttendanceEvent(
            None, person_id, None, EventKind.UNKNOWN, when, source, similarity, track_id, snapshot_jpeg
        )
        if person_id is None:
            return self.store.record_event(event)  # the caller logs an unknown face once per track
        with self._lock:
            return self._observe_known(event, person_id)

    def _observe_known(self, event: AttendanceEvent, person_id: int) -> AttendanceEvent | None:
        when, cooldown = event.time, self.rules.cooldown
        last = self._last.get(person_id)
        if last is not None and last <= when < last + cooldown:
            return None
        zone = site_zone(self.rules.time_zone)
        day = when.astimezone(zone).date()
        nearby = [
            e
            for e in self.store.events(day - _LOOK_AROUND, day + _LOOK_AROUND, person_id=person_id)
            if e.kind is not EventKind.UNKNOWN
        ]
        close = [e for e in nearby if abs(e.time - when) < cooldown]
        if close:
            self._remember(person_id, max(e.time for e in close))
            return None
        event = replace(event, kind=self._reading(person_id, when, nearby))
        month = f"{when.astimezone(zone):%Y-%m}"
        if self.hold_locked and self.store.month_is_locked(month):
            self.store.hold_sighting(event, month, HeldOrigin.LIVE)
            self.store.append_audit(
                "recognition", AuditAction.EVENTS_HELD, month, "dated in a locked month",
                {"origin": HeldOrigin.LIVE.value, "held": 1}, person_id=person_id,
            )  # fmt: skip
            self._remember(person_id, when)
            return None
        stored = self.store.record_event(event)
        self._remember(person_id, stored.time)
        return stored

    def _reading(self, person_id: int, when: datetime, nearby: list[AttendanceEvent]) -> EventKind:
        """check_out when an earlier sighting of the person lies in the same shift window, else check_in."""
        person = self.store.roster_entry(person_id)
        if person is None:
            return EventKind.CHECK_IN
        groups = {g.id: g for g in self.store.list_groups()}
        shifts = {s.id: s for s in self.store.list_shifts()}
        plan = ShiftPlan(
            groups,
            shifts,
            self.store.shift_assignments(person_id),
            self.store.shift_rotations(person_id),
            self.store.rule_history(groups, shifts),
        )
        zone = site_zone(self.rules.time_zone)
        day = when.astimezone(zone).date()
        slot = slot_at(person_slots(lambda d: plan.planned(person, d), day, day, zone), when)
        if slot is None:
            return EventKind.CHECK_IN
        earlier = any(slot.opens <= e.time.timestamp() < when.timestamp() for e in nearby)
        return EventKind.CHECK_OUT if earlier else EventKind.CHECK_IN

    def _remember(self, person_id: int, moment: datetime) -> None:
        known = self._last.get(person_id)
        if known is None or moment > known:
            self._last[person_id] = moment

    def forget(self, person_id: int | None = None) -> None:
        """Drop the cache (e.g. after events were deleted or people merged)."""
        with self._lock:
            if person_id is None:
                self._last.clear()
            else:
                self._last.pop(person_id, None)
