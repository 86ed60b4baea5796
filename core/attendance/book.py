"""Attendance rules: who is marked when.

A person's first sighting on a day is their check-in. Within the cooldown nothing more is
recorded. In check-out mode later sightings move that day's single check-out to the latest
sighting. The store is the source of truth, so a restarted app never marks anyone twice.
Days are calendar days of the event time's own offset; pass local, timezone-aware times.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from core.base.errors import InvalidInputError
from core.base.records import AttendanceEvent
from core.base.settings import Settings
from core.gallery.store import GalleryStore


def local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class AttendanceRules:
    cooldown: timedelta = timedelta(minutes=10)
    checkout_mode: bool = False

    def __post_init__(self) -> None:
        if self.cooldown < timedelta(0):
            raise InvalidInputError("The cooldown cannot be negative.")

    @classmethod
    def from_settings(cls, settings: Settings) -> "AttendanceRules":
        return cls(cooldown=timedelta(minutes=max(0.0, float(settings.cooldown_minutes))),
                   checkout_mode=bool(settings.checkout_mode))


class AttendanceBook:
    """Turns recognitions into attendance events according to the rules."""

    def __init__(self, store: GalleryStore, rules: AttendanceRules | None = None,
                 clock: Callable[[], datetime] = local_now):
        self.store = store
        self.rules = rules or AttendanceRules()
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
        event = AttendanceEvent(None, person_id, None, "unknown", when, source, similarity, track_id, snapshot_jpeg)
        if person_id is None:
            return self.store.record_event(event)  # the caller logs an unknown face once per track
        with self._lock:
            return self._observe_known(event)

    def _observe_known(self, event: AttendanceEvent) -> AttendanceEvent | None:
        person_id, when, day = event.person_id, event.time, event.time.date()
        cached = self._quiet.get(person_id)
        if cached and cached[0] == day and (cached[1] is None or when < cached[1]):
            return None
        last = self.store.last_event(person_id, day, kinds=("check_in", "check_out"))
        if last is None:
            return self._remember(self.store.record_event(_as_kind(event, "check_in")))
        if when - last.time < self.rules.cooldown or not self.rules.checkout_mode:
            self._remember(last)
            return None
        checkout = last if last.kind == "check_out" else self.store.last_event(person_id, day, kinds="check_out")
        if checkout is None:
            return self._remember(self.store.record_event(_as_kind(event, "check_out")))
        return self._remember(self.store.update_event_time(
            checkout.id, when, similarity=event.similarity, source=event.source,
            track_id=event.track_id, snapshot_jpeg=event.snapshot_jpeg))

    def _remember(self, last: AttendanceEvent) -> AttendanceEvent:
        quiet_until = last.time + self.rules.cooldown if self.rules.checkout_mode else None
        self._quiet[last.person_id] = (last.time.date(), quiet_until)
        return last

    def forget(self, person_id: int | None = None) -> None:
        """Drop the cache (e.g. after events were deleted or people merged)."""
        with self._lock:
            if person_id is None:
                self._quiet.clear()
            else:
                self._quiet.pop(person_id, None)


def _as_kind(event: AttendanceEvent, kind: str) -> AttendanceEvent:
    return replace(event, kind=kind)
