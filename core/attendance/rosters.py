"""Who works which shift on which date: dated assignments, rotating rosters and each group's default shift.

Precedence for a person's day: a dated assignment that covers it (the newest on overlap), then the newest
rotation that has started, then the group's default shift, else no shift. An assignment or a group's
shift works on the shift's working days; a rotation's pattern says itself which days are off.
A group's schedule, a shift type's rules and a person's group are read as they were on that day
(core.base.dated: every change applies from a day on).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from core.base.dated import NO_HISTORY, RuleHistory
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
T = TypeVar("T")


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
        history: RuleHistory = NO_HISTORY,
    ):
        self.groups = groups
        self.shifts = shifts
        self._groups_before: dict[int, list[tuple[date, Group]]] = defaultdict(list)
        for group_before in history.groups:
            self._groups_before[group_before.group.id].append((group_before.until, group_before.group))
        self._shifts_before: dict[int, list[tuple[date, Shift]]] = defaultdict(list)
        for shift_before in history.shifts:
            self._shifts_before[shift_before.shift.id].append((shift_before.until, shift_before.shift))
        self._members_before: dict[int, list[tuple[date, int | None]]] = defaultdict(list)
        for member_before in history.memberships:
            self._members_before[member_before.person_id].append((member_before.until, member_before.group_id))
        for group_changes in self._groups_before.values():
            group_changes.sort(key=lambda change: change[0])
        for shift_changes in self._shifts_before.values():
            shift_changes.sort(key=lambda change: change[0])
        for member_changes in self._members_before.values():
            member_changes.sort(key=lambda change: change[0])
        self._assignments: dict[int, list[ShiftAssignment]] = defaultdict(list)
        for assignment in sorted(assignments, key=lambda a: -a.id):  # newest first
            self._assignments[assignment.person_id].append(assignment)
        self._planned: dict[tuple[int, str, Schedule, bool, ShiftSource], PlannedDay] = {}
        self._rotations: dict[int, list[ShiftRotation]] = defaultdict(list)
        for rotation in sorted(rotations, key=lambda r: (r.first_day, r.id), reverse=True):  # latest start first
            self._rotations[rotation.person_id].append(rotation)

    def shift_on(self, shift_id: int | None, day: date) -> Shift | None:
        """The shift type's rules as they were on `day`."""
        if shift_id is None:
            return None
        current: Shift | None = self.shifts.get(shift_id)
        return _as_of(self._shifts_before.get(shift_id), day, current)

    def group_on(self, group_id: int | None, day: date) -> Group | None:
        """The group's schedule and default shift as they were on `day`."""
        if group_id is None:
            return None
        current: Group | None = self.groups.get(group_id)
        return _as_of(self._groups_before.get(group_id), day, current)

    def group_of(self, person: RosterEntry, day: date) -> Group | None:
        """The person's group on `day`, as it was then."""
        return self.group_on(_as_of(self._members_before.get(person.person_id), day, person.group_id), day)

    def _from_shift(self, shift_id: int, day: date, source: ShiftSource, every_day: bool = False) -> PlannedDay:
        shift = self.shift_on(shift_id, day)
        if shift is None:  # a shift this station does not know yet (a site's book is behind)
            return NO_SHIFT
        working = every_day or day.weekday() in shift.schedule.working_days
        key = (shift_id, shift.name, shift.schedule, working, source)
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
        group = self.group_of(person, day)
        if group is None:
            return NO_SHIFT
        shift = self.shift_on(group.shift_id, day)
        schedule = shift.schedule if shift is not None else group.schedule
        code = shift.name if shift is not None else group.name
        return PlannedDay(code, schedule, day.weekday() in schedule.working_days, ShiftSource.GROUP)


def _as_of(before: Sequence[tuple[date, T]] | None, day: date, current: T) -> T:
    """The value on `day`: the first recorded change after it tells what it was; none: the current value."""
    for until, value in before or ():
        if day < until:
            return value
    return current


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
