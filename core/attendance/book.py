"""Attendance rules: who is marked when.

A person's first sighting on a day is their check-in. Within the cooldown nothing more is
recorded. In check-out mode later sightings move that day's single check-out to the latest
sighting. The store is the source of truth, so a restarted app never marks anyone twice.
Days are calendar days of the event time's own offset; pass local, timezone-aware times.
The rules are the `attendance` section of the settings (AttendanceSettings).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime

from core.base.records import AttendanceEvent, EventKind
from core.base.settings import AttendanceSettings
from core.gallery.store import GalleryStore


def local_now() -> datetime:
    return datetime.now().astimezone()


class AttendanceBook:
    """Turns recognitions into attendance events according to the rules."""

    def __init__(self, store: GalleryStore, rules: AttendanceSettings | None = None,
                 clock: Callable[[], datetime] = local_now):
        self.store = store
        self.rules = rules or AttendanceSettings()
        self.clock = clock
        self._lock = threading.Lock()
        # person id -> (day, quiet until; None = rest of the day): skips the store while nothing can happen
        self._quiet: dict[int, tuple[date, datetime | None]] = {}

    def observe(self, person_id: int | None, similarity: float, source: str, track_id: int | None = None,
                snapshot_jpeg: bytes | None = None, when: datetime | None = None) -> AttendanceEvent | None:
        """Record what this sighting means, if anything; returns the event or None."""
        when = when or self.clock()
        if when.tzinfo is None:
            when = when.astimezone()  # naive = local time
        event = AttendanceEvent(None, person_id, None, EventKind.UNKNOWN, when, source, similarity, track_id, snapshot_jpeg)
        if person_id is None:
            return self.store.record_event(event)  # the caller logs an unknown face once per track
        with self._lock:
            return self._observe_known(event, person_id)

    def _observe_known(self, event: AttendanceEvent, person_id: int) -> AttendanceEvent | None:
        when, day = event.time, event.time.date()
        cached = self._quiet.get(person_id)
        if cached and cached[0] == day and (cached[1] is None or when < cached[1]):
            return None
        last = self.store.last_event(person_id, day, kinds=(EventKind.CHECK_IN, EventKind.CHECK_OUT))
        if last is None:
            return self._remember(person_id, self.store.record_event(_as_kind(event, EventKind.CHECK_IN)))
        if when - last.time < self.rules.cooldown or not self.rules.checkout_mode:
            self._remember(person_id, last)
            return None
        checkout = (last if last.kind is EventKind.CHECK_OUT
                    else self.store.last_event(person_id, day, kinds=EventKind.CHECK_OUT))
        if checkout is None:
            return self._remember(person_id, self.store.record_event(_as_kind(event, EventKind.CHECK_OUT)))
        return self._remember(person_id, self.store.update_event_time(
            checkout.id, when, similarity=event.similarity, source=event.source,
            track_id=event.track_id, snapshot_jpeg=event.snapshot_jpeg))

    def _remember(self, person_id: int, last: AttendanceEvent) -> AttendanceEvent:
        quiet_until = last.time + self.rules.cooldown if self.rules.checkout_mode else None
        self._quiet[person_id] = (last.time.date(), quiet_until)
        return last

    def forget(self, person_id: int | None = None) -> None:
        """Drop the cache (e.g. after events were deleted or people merged)."""
        with self._lock:
            if person_id is None:
                self._quiet.clear()
            else:
                self._quiet.pop(person_id, None)


def _as_kind(event: AttendanceEvent, kind: EventKind) -> AttendanceEvent:
    return replace(event, kind=kind)
