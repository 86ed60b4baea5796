"""Day status for every enrolled person, computed from the raw events every time.

Pure functions of the facts (people, groups, holidays, leave, raw events, corrections) and two
moments: `reported_up_to`, the latest time up to which every kiosk has reported its events, and
`now`. On a standalone kiosk both are the clock. On the site server, `reported_up_to` is the oldest
of the kiosks' last uploads, so the same events give the same answer on a kiosk or on the admin
station, and nobody is marked absent while a kiosk that may hold their check-in is behind.

The rules for a person on a working day of their group's schedule:
- no punch: `pending` until the grace limit has passed with every kiosk reported, then `absent`
  (live during the shift; `final` once every kiosk has reported past the day's window). While a
  kiosk is behind (reported_up_to < now) and has not reported past the shift's end: `pending`.
- the first punch after start + grace is `late`, by whole minutes from the start (a started minute
  counts); exactly at the limit is on time.
- once the shift is over: a last punch before end - grace is `early_leave`; fewer hours from first to
  last punch than the schedule's minimum is `short_day`; one punch only in check-out mode is
  `incomplete`.
- precedence: not enrolled yet (days before enrollment), holiday, leave, day off, then incomplete,
  late, early leave, short day, present.
Punches in the same second count once; any number of sightings in between change nothing.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from core.base.records import AttendanceEvent
from core.base.timekeeping import Correction, DayStatus, Group, Holiday, Leave, PersonDay, RosterEntry

from .corrections import effective_punches
from .schedule import ShiftWindow, shift_window


@dataclass(frozen=True)
class AttendanceFacts:
    """Everything the rules read, from whichever store (kiosk SQLite or the site's PostgreSQL)."""

    roster: Sequence[RosterEntry]
    groups: Mapping[int, Group]
    holidays: Sequence[Holiday]
    leave: Sequence[Leave]
    events: Sequence[AttendanceEvent]
    corrections: Sequence[Correction]
    zone: tzinfo
    checkout_mode: bool = False


@dataclass
class _Index:
    """Facts arranged for fast lookups; built once per computation."""

    facts: AttendanceFacts
    punch_seconds: dict[int, list[int]] = field(default_factory=dict)  # person -> distinct sorted seconds
    site_holidays: set[date] = field(default_factory=set)
    group_holidays: set[tuple[date, int]] = field(default_factory=set)
    leave: dict[int, list[Leave]] = field(default_factory=dict)
    windows: dict[tuple[int | None, date], ShiftWindow] = field(default_factory=dict)

    @classmethod
    def build(cls, facts: AttendanceFacts) -> "_Index":
        index = cls(facts)
        seconds: dict[int, set[int]] = defaultdict(set)
        for punch in effective_punches(facts.events, facts.corrections):
            seconds[punch.person_id].add(math.floor(punch.ts))
        index.punch_seconds = {person: sorted(values) for person, values in seconds.items()}
        for holiday in facts.holidays:
            if holiday.group_id is None:
                index.site_holidays.add(holiday.day)
            else:
                index.group_holidays.add((holiday.day, holiday.group_id))
        leave: dict[int, list[Leave]] = defaultdict(list)
        for item in facts.leave:
            leave[item.person_id].append(item)
        index.leave = dict(leave)
        return index

    def window(self, group: Group | None, day: date) -> ShiftWindow:
        key = (group.id if group else None, day)
        found = self.windows.get(key)
        if found is None:
            found = self.windows[key] = shift_window(day, group.schedule if group else None, self.facts.zone)
        return found


def _minutes(seconds: float) -> int:
    return max(0, math.ceil(seconds / 60.0 - 1e-9))


def _person_day(index: _Index, person: RosterEntry, day: date, reported: float, now: float) -> PersonDay:
    facts = index.facts
    group = facts.groups.get(person.group_id) if person.group_id is not None else None
    window = index.window(group, day)
    seconds = index.punch_seconds.get(person.person_id, ())
    inside = seconds[bisect_left(seconds, window.opens):bisect_left(seconds, window.closes)] if seconds else []
    first = last = None
    hours = 0.0
    if inside:
        first = datetime.fromtimestamp(inside[0], facts.zone)
        last = datetime.fromtimestamp(inside[-1], facts.zone)
        hours = (inside[-1] - inside[0]) / 3600.0

    def person_day(status: DayStatus, late_minutes: int = 0, early_leave_minutes: int = 0,
                   below_minimum: bool = False) -> PersonDay:
        return PersonDay(person_id=person.person_id, name=person.name, external_id=person.external_id,
                         group=group.name if group else None, day=day, first_seen=first, last_seen=last,
                         punches=len(inside), hours=hours, final=reported >= window.closes, status=status,
                         late_minutes=late_minutes, early_leave_minutes=early_leave_minutes,
                         below_minimum=below_minimum)

    if person.enrolled_at is not None and day < person.enrolled_at.astimezone(facts.zone).date():
        return person_day(DayStatus.NOT_ENROLLED)
    if day in index.site_holidays or (group is not None and (day, group.id) in index.group_holidays):
        return person_day(DayStatus.HOLIDAY)
    if any(item.covers(day) for item in index.leave.get(person.person_id, ())):
        return person_day(DayStatus.ON_LEAVE)
    if group is None:
        return person_day(DayStatus.PRESENT if inside else DayStatus.UNSCHEDULED)
    if not window.working or window.start is None or window.end is None:
        return person_day(DayStatus.DAY_OFF)

    schedule = group.schedule
    grace = schedule.grace_minutes * 60.0
    if not inside:
        if reported >= window.end:
            status = DayStatus.ABSENT
        elif reported < now:  # a kiosk is behind: its upload may still hold a check-in
            status = DayStatus.PENDING
        else:
            status = DayStatus.ABSENT if now >= window.start + grace else DayStatus.PENDING
        return person_day(status)

    late_minutes = _minutes(inside[0] - window.start) if inside[0] > window.start + grace else 0
    shift_over = reported >= window.end
    early_leave_minutes = below_minimum = incomplete = 0
    if shift_over and len(inside) == 1 and facts.checkout_mode:
        incomplete = True
    elif shift_over and len(inside) >= 2:
        if inside[-1] < window.end - grace:
            early_leave_minutes = _minutes(window.end - inside[-1])
        below_minimum = schedule.min_hours > 0 and hours < schedule.min_hours
    if incomplete:
        status = DayStatus.INCOMPLETE
    elif late_minutes:
        status = DayStatus.LATE
    elif early_leave_minutes:
        status = DayStatus.EARLY_LEAVE
    elif below_minimum:
        status = DayStatus.SHORT_DAY
    else:
        status = DayStatus.PRESENT
    return person_day(status, late_minutes, early_leave_minutes, bool(below_minimum))


def day_statuses(facts: AttendanceFacts, days: Iterable[date], reported_up_to: datetime,
                 now: datetime | None = None) -> list[PersonDay]:
    """Every roster person's status on every day, by day then roster order.

    reported_up_to: every kiosk has reported its events up to this moment (standalone: now).
    now: the clock (default reported_up_to).
    """
    index = _Index.build(facts)
    reported = reported_up_to.timestamp()
    clock = (now or reported_up_to).timestamp()
    return [_person_day(index, person, day, reported, clock) for day in days for person in facts.roster]


def person_statuses(facts: AttendanceFacts, person_id: int, days: Iterable[date], reported_up_to: datetime,
                    now: datetime | None = None) -> list[PersonDay]:
    """One person's days (their history)."""
    roster = [p for p in facts.roster if p.person_id == person_id]
    narrowed = AttendanceFacts(roster, facts.groups, facts.holidays, facts.leave, facts.events, facts.corrections,
                               facts.zone, facts.checkout_mode)
    return day_statuses(narrowed, days, reported_up_to, now)
