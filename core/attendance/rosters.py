"""Who works which shift on which date: dated assignments, rotating rosters and each group's default shift.

Precedence for a person's day: a dated assignment that covers it (the newest on overlap), then the newest
rotation that has started, then the group's default shift, else no shift. An assignment or a group's
shift works on the shift's working days; a rotation's pattern says itself which days are off.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from core.base.errors import InvalidInputError
from core.base.timekeeping import (
    OFF,
    Group,
    RosterDay,
    RosterEntry,
    Schedule,
    Shift,
    ShiftAssignment,
    ShiftRotation,
    ShiftSource,
)

MAX_PATTERN_DAYS = 366


@dataclass(frozen=True)
class PlannedDay:
    """A person's shift for one day, before any punch is read."""

    shift: str | None  # the shift's code; OFF for a rotation's day off; None = no shift at all
    schedule: Schedule | None  # None: the calendar day is the window
    working: bool
    source: ShiftSource


NO_SHIFT = PlannedDay(None, None, False, ShiftSource.NONE)
ROTATION_OFF = PlannedDay(OFF, None, False, ShiftSource.ROTATION)
ASSIGNED_OFF = PlannedDay(OFF, None, False, ShiftSource.ASSIGNMENT)


class ShiftPlan:
    """The roster facts arranged for lookups by person and day."""

    def __init__(
        self,
        groups: Mapping[int, Group],
        shifts: Mapping[int, Shift],
        assignments: Iterable[ShiftAssignment] = (),
        rotations: Iterable[ShiftRotation] = (),
    ):
        self.groups = groups
        self.shifts = shifts
        self._assignments: dict[int, list[ShiftAssignment]] = defaultdict(list)
        for assignment in sorted(assignments, key=lambda a: -a.id):  # newest first
            self._assignments[assignment.person_id].append(assignment)
        self._planned: dict[tuple[int, bool, ShiftSource], PlannedDay] = {}
        self._rotations: dict[int, list[ShiftRotation]] = defaultdict(list)
        for rotation in sorted(rotations, key=lambda r: (r.first_day, r.id), reverse=True):  # latest start first
            self._rotations[rotation.person_id].append(rotation)

    def _from_shift(self, shift_id: int, day: date, source: ShiftSource, every_day: bool = False) -> PlannedDay:
        shift = self.shifts.get(shift_id)
        if shift is None:  # a shift this station does not know yet (a site's book is behind)
            return NO_SHIFT
        working = every_day or day.weekday() in shift.schedule.working_days
        key = (shift_id, working, source)
        found = self._planned.get(key)
        if found is None:
            found = self._planned[key] = PlannedDay(shift.name, shift.schedule, working, source)
        return found

    def planned(self, person: RosterEntry, day: date) -> PlannedDay:
        for assignment in self._assignments.get(person.person_id, ()):
            if assignment.covers(day):
                if assignment.shift_id is None:
                    return ASSIGNED_OFF
                return self._from_shift(assignment.shift_id, day, ShiftSource.ASSIGNMENT)
        for rotation in self._rotations.get(person.person_id, ()):
            if rotation.first_day <= day:
                shift_id = rotation.shift_on(day)
                if shift_id is None:
                    return ROTATION_OFF
                return self._from_shift(shift_id, day, ShiftSource.ROTATION, every_day=True)
        group = self.groups.get(person.group_id) if person.group_id is not None else None
        if group is None:
            return NO_SHIFT
        shift = self.shifts.get(group.shift_id) if group.shift_id is not None else None
        schedule = shift.schedule if shift is not None else group.schedule
        code = shift.name if shift is not None else group.name
        return PlannedDay(code, schedule, day.weekday() in schedule.working_days, ShiftSource.GROUP)


def roster_days(plan: ShiftPlan, roster: Sequence[RosterEntry], first: date, last: date) -> list[RosterDay]:
    """The roster view: every person's shift on every day from first to last, by person then day."""
    if last < first:
        raise InvalidInputError("The end date is before the start date.")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    cells = []
    for person in roster:
        for day in days:
            planned = plan.planned(person, day)
            cells.append(RosterDay(person.person_id, person.name, day, planned.shift, planned.working, planned.source))
    return cells


def parse_pattern(text: str, shifts_by_key: Mapping[str, Shift], key: Callable[[str], str]) -> tuple[int | None, ...]:
    """'Day,Day,Night,Night,off,off' -> shift ids (None = off); unknown names are refused by name."""
    names = [part.strip() for part in str(text).split(",")]
    if not names or any(not name for name in names):
        raise InvalidInputError("Give the pattern as shift names separated by commas, e.g. 'Day,Day,Night,off'.")
    if len(names) > MAX_PATTERN_DAYS:
        raise InvalidInputError(f"A pattern has at most {MAX_PATTERN_DAYS} days; this one has {len(names)}.")
    pattern: list[int | None] = []
    for name in names:
        if name.casefold() == OFF:
            pattern.append(None)
            continue
        shift = shifts_by_key.get(key(name))
        if shift is None:
            known = ", ".join(sorted(s.name for s in shifts_by_key.values())) or "none yet"
            raise InvalidInputError(f"No shift named {name!r} in the pattern (shifts: {known}; 'off' for a day off).")
        pattern.append(shift.id)
    if all(entry is None for entry in pattern):
        raise InvalidInputError("A pattern of only days off rosters nobody; name at least one shift.")
    return tuple(pattern)
