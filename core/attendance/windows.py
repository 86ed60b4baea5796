"""Which shift a sighting counts for: a person's day windows over a span of days, fitted together.

Each day has the window of that person's planned shift (core.attendance.rosters): the shift's own window on
a working or a day-off day with a schedule, the calendar day without one. Neighbouring windows may overlap
(a day shift followed by a night shift, wide check-in windows); they are cut so that no sighting counts
twice: between two working shifts at the middle of the break between them, and a working shift's window
wins over a day without work. A sighting in no window counts for no shift (`outside_window`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from .rosters import PlannedDay
from .schedule import ShiftWindow, shift_window

WindowCache = dict[tuple[object, date], ShiftWindow]
FittedCache = dict[tuple[date, tuple[PlannedDay, ...]], list["Slot"]]


@dataclass
class Slot:
    """One day of one person: their planned shift and the real-time window its sightings fall in."""

    day: date
    planned: PlannedDay
    window: ShiftWindow
    opens: float  # after fitting to the neighbours
    closes: float

    @property
    def working(self) -> bool:
        return self.planned.working and self.window.start is not None


def _window(day: date, planned: PlannedDay, zone: tzinfo, cache: WindowCache) -> ShiftWindow:
    key = (planned.schedule, day)
    found = cache.get(key)
    if found is None:
        found = cache[key] = shift_window(day, planned.schedule, zone)
    return found


def _cut(before: Slot, after: Slot) -> float:
    """Where two overlapping neighbours' windows meet."""
    if before.working != after.working:
        return before.closes if before.working else after.opens
    end, start = before.window.end, after.window.start
    middle = (end + start) / 2 if end is not None and start is not None else (before.closes + after.opens) / 2
    return min(max(middle, after.opens), before.closes)


def fit(slots: list[Slot]) -> list[Slot]:
    """Cut overlapping neighbours (in day order) so that every moment belongs to at most one slot."""
    for before, after in zip(slots, slots[1:], strict=False):
        if before.closes > after.opens:
            before.closes = after.opens = _cut(before, after)
        after.opens = max(after.opens, before.closes)
        after.closes = max(after.closes, after.opens)
    return slots


def person_slots(
    planned_on: Callable[[date], PlannedDay],
    first: date,
    last: date,
    zone: tzinfo,
    cache: WindowCache | None = None,
    fitted: FittedCache | None = None,
) -> list[Slot]:
    """Slots for first - 1 .. last + 1 (the neighbours shape the edges), fitted. People with the same plan
    share one fitted list through `fitted` (treat it as read-only)."""
    cache = {} if cache is None else cache
    span = [first + timedelta(days=i) for i in range(-1, (last - first).days + 2)]
    plans = tuple(planned_on(day) for day in span)
    key = (first, plans)
    if fitted is not None and key in fitted:
        return fitted[key]
    slots = []
    for day, planned in zip(span, plans, strict=True):
        window = _window(day, planned, zone, cache)
        slots.append(Slot(day, planned, window, window.opens, window.closes))
    fit(slots)
    if fitted is not None:
        fitted[key] = slots
    return slots


def slot_at(slots: list[Slot], moment: datetime) -> Slot | None:
    """The slot whose window holds a moment, if any."""
    ts = moment.timestamp()
    return next((slot for slot in slots if slot.opens <= ts < slot.closes), None)
