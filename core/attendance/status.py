"""Day status for every enrolled person, computed from the raw events every time.

Pure functions of the facts (people, groups, holidays, leave, raw events, corrections) and two
moments: `reported_up_to`, the latest time up to which every kiosk has reported its events, and
`now`. On a standalone kiosk both are the clock. On the site server, `reported_up_to` is the oldest
of the kiosks' last uploads, so the same events give the same answer on a kiosk or on the admin
station, and nobody is marked absent while a kiosk that may hold their check-in is behind.

A person's shift for a day comes from their dated assignments, rotation or group (core.attendance.rosters);
a punch counts for the day whose shift window holds it (core.attendance.windows), never by its calendar day.
The rules for a person on a working day of their shift:
- no punch: `pending` until the grace limit has passed with every kiosk reported, then `absent`
  (live during the shift; `final` once every kiosk has reported past the day's window). While a
  kiosk is behind (reported_up_to < now) and has not reported past the shift's end: `pending`.
- the first punch after start + late grace is `late`, by whole minutes from the start (a started minute
  counts); exactly at the limit is on time.
- once the shift is over: a last punch before end - early grace is `early_leave`; fewer hours than the
  schedule's minimum is `short_day`; one punch only in check-out mode is `incomplete`. With two punches
  or more, fewer hours than absent_below is `absent` and fewer than half_day_below a `half_day`. Hours
  run from the first punch to the last, or (hours mode `pairs`) add each in-out pair's span.
- precedence: not enrolled yet (days before the start date, else before enrollment), left (after the end
  date), holiday, leave, day off, then incomplete, absent (below), half day, late, early leave, short day,
  present. A person's group is the one they were in on that day (dated memberships).
Punches in the same second count once; any number of sightings in between change nothing.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo

from core.base.dated import NO_HISTORY, RuleHistory
from core.base.errors import InvalidInputError
from core.base.records import AttendanceEvent
from core.base.timekeeping import (
    Correction,
    DayStatus,
    Group,
    Holiday,
    HoursMode,
    Leave,
    PersonDay,
    RosterEntry,
    Shift,
    ShiftAssignment,
    ShiftRotation,
    ShiftSource,
)

from .corrections import effective_punches
from .rosters import ShiftPlan
from .windows import FittedCache, Slot, WindowCache, person_slots


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
    shifts: Mapping[int, Shift] = field(default_factory=dict)
    assignments: Sequence[ShiftAssignment] = ()
    rotations: Sequence[ShiftRotation] = ()
    history: RuleHistory = NO_HISTORY

    def plan(self) -> ShiftPlan:
        return ShiftPlan(self.groups, self.shifts, self.assignments, self.rotations, self.history)


@dataclass
class _Index:
    """Facts arranged for fast lookups; built once per computation."""

    facts: AttendanceFacts
    plan: ShiftPlan
    punch_seconds: dict[int, list[int]] = field(default_factory=dict)  # person -> distinct sorted seconds
    site_holidays: set[date] = field(default_factory=set)
    group_holidays: set[tuple[date, int]] = field(default_factory=set)
    leave: dict[int, list[Leave]] = field(default_factory=dict)
    windows: WindowCache = field(default_factory=dict)
    fitted: FittedCache = field(default_factory=dict)

    @classmethod
    def build(cls, facts: AttendanceFacts) -> _Index:
        index = cls(facts, facts.plan())
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


def _minutes(seconds: float) -> int:
    return max(0, math.ceil(seconds / 60.0 - 1e-9))


def _hours(inside: Sequence[int], mode: HoursMode) -> float:
    if len(inside) < 2:
        return 0.0
    if mode is HoursMode.PAIRS:
        return sum(inside[i + 1] - inside[i] for i in range(0, len(inside) - 1, 2)) / 3600.0
    return (inside[-1] - inside[0]) / 3600.0


def _outside(slots: list[Slot], seconds: Sequence[int], zone: tzinfo) -> dict[date, tuple[datetime, ...]]:
    """Punches between the fitted windows, by their calendar day."""
    found: dict[date, list[datetime]] = defaultdict(list)
    for before, after in zip(slots, slots[1:], strict=False):
        if before.closes < after.opens:
            for ts in seconds[bisect_left(seconds, before.closes) : bisect_left(seconds, after.opens)]:
                moment = datetime.fromtimestamp(ts, zone)
                found[moment.date()].append(moment)
    return {day: tuple(moments) for day, moments in found.items()}


Why = list[str] | None  # the rules' reasons in plain words, recorded as they decide (core.attendance.explain)


def _note(why: Why, text: str) -> None:
    if why is not None:
        why.append(text)


def _working_status(
    slot: Slot,
    inside: Sequence[int],
    hours: float,
    checkout_mode: bool,
    reported: float,
    now: float,
    zone: tzinfo,
    why: Why = None,
) -> tuple[DayStatus, int, int, bool, bool]:
    """(status, late minutes, early-leave minutes, below minimum, half day) of a working day."""
    window, schedule = slot.window, slot.planned.schedule
    assert window.start is not None and window.end is not None and schedule is not None
    if not inside:
        if reported >= window.end:
            status = DayStatus.ABSENT
            _note(why, f"no sighting in the shift's window, and every station has reported past its end "
                  f"{_clock(window.end, zone)}: absent")  # fmt: skip
        elif reported < now:  # a kiosk is behind: its upload may still hold a check-in
            status = DayStatus.PENDING
            _note(why, f"no sighting yet, and a station has reported only up to {_clock(reported, zone)}: pending")
        else:
            limit = window.start + schedule.grace_minutes * 60.0
            status = DayStatus.ABSENT if now >= limit else DayStatus.PENDING
            _note(why, f"no sighting by {_clock(now, zone)}; the grace limit is {_clock(limit, zone)}: {status.value}")
        return status, 0, 0, False, False
    late = _minutes(inside[0] - window.start) if inside[0] > window.start + schedule.grace_minutes * 60.0 else 0
    first, start, grace = _clock(inside[0], zone), _clock(window.start, zone), schedule.grace_minutes
    if late:
        _note(why, f"first sighting {first} is {late} min after {start} with {grace} min grace: late {late}")
    else:
        _note(why, f"first sighting {first} is within {start} + {grace} min grace: on time")
    shift_over = reported >= window.end
    early = 0
    below_minimum = half_day = absent = False
    if shift_over and len(inside) == 1 and checkout_mode:
        _note(why, "one sighting only, and check-out mode needs a check-out: incomplete")
        return DayStatus.INCOMPLETE, late, 0, False, False
    if not shift_over:
        _note(why, f"the shift is not over for every station (ends {_clock(window.end, zone)}): hours not judged yet")
    if shift_over and len(inside) >= 2:
        last = _clock(inside[-1], zone)
        if inside[-1] < window.end - schedule.early_grace * 60.0:
            early = _minutes(window.end - inside[-1])
            _note(why, f"last sighting {last} is {early} min before the end {_clock(window.end, zone)} "
                  f"with {schedule.early_grace} min grace: early leave {early}")  # fmt: skip
        counted = "in-out pairs" if schedule.hours_mode is HoursMode.PAIRS else "first to last sighting"
        _note(why, f"hours {hours_text_of(hours)} ({counted})")
        below_minimum = schedule.min_hours > 0 and hours < schedule.min_hours
        absent = schedule.absent_below > 0 and hours < schedule.absent_below
        half_day = not absent and schedule.half_day_below > 0 and hours < schedule.half_day_below
        for below, limit, words in (
            (absent, schedule.absent_below, "absent below"),
            (half_day, schedule.half_day_below, "half day below"),
            (below_minimum, schedule.min_hours, "the minimum"),
        ):
            if below:
                _note(why, f"{hours_text_of(hours)} h is under {words} {hours_text_of(limit)} h")
    elif shift_over and len(inside) == 1:
        _note(why, "one sighting only: no hours")
    for flag, status in (
        (absent, DayStatus.ABSENT),
        (half_day, DayStatus.HALF_DAY),
        (late, DayStatus.LATE),
        (early, DayStatus.EARLY_LEAVE),
        (below_minimum, DayStatus.SHORT_DAY),
    ):
        if flag:
            _note(why, f"status: {status.value} (absent, half day, late, early leave, short day: the first that holds)")
            return status, late, early, below_minimum, half_day
    _note(why, "status: present")
    return DayStatus.PRESENT, late, early, below_minimum, half_day


def _clock(ts: float, zone: tzinfo) -> str:
    return f"{datetime.fromtimestamp(ts, zone):%H:%M}"


def hours_text_of(hours: float) -> str:
    """Hours as h:mm: 7.82 is '7:49'."""
    minutes = round(max(0.0, float(hours)) * 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


@dataclass(frozen=True)
class _Someone:
    """One roster person's facts, looked up once for all their days."""

    person: RosterEntry
    enrolled: date | None  # the first day counted: the start date, else the site-zone day of enrollment
    seconds: Sequence[int]
    leave: Sequence[Leave]


def _status(
    index: _Index,
    who: _Someone,
    slot: Slot,
    inside: Sequence[int],
    hours: float,
    reported: float,
    now: float,
    why: Why = None,
) -> tuple[DayStatus, int, int, bool, bool]:
    """(status, late minutes, early-leave minutes, below minimum, half day) by the rules' precedence."""
    day, group = slot.day, index.plan.group_of(who.person, slot.day)
    if who.enrolled is not None and day < who.enrolled:
        _note(why, f"the day is before the person's first day {who.enrolled.isoformat()}: not enrolled")
        return DayStatus.NOT_ENROLLED, 0, 0, False, False
    if who.person.end_day is not None and day > who.person.end_day:
        _note(why, f"the day is after the person's last day {who.person.end_day.isoformat()}: left")
        return DayStatus.LEFT, 0, 0, False, False
    if day in index.site_holidays or (group is not None and (day, group.id) in index.group_holidays):
        _note(why, "a holiday applies (it comes before leave, days off and sightings): holiday")
        return DayStatus.HOLIDAY, 0, 0, False, False
    if who.leave and any(item.covers(day) for item in who.leave):
        _note(why, "leave covers the day (it comes before days off and sightings): on leave")
        return DayStatus.ON_LEAVE, 0, 0, False, False
    if slot.planned.source is ShiftSource.NONE:
        status = DayStatus.PRESENT if inside else DayStatus.UNSCHEDULED
        _note(why, f"no shift applies; {'a sighting' if inside else 'no sighting'} on the day: {status.value}")
        return status, 0, 0, False, False
    if not slot.working:
        _note(why, "the shift does not work on this day: day off")
        return DayStatus.DAY_OFF, 0, 0, False, False
    return _working_status(slot, inside, hours, index.facts.checkout_mode, reported, now, index.facts.zone, why)


def _person_day(
    index: _Index,
    who: _Someone,
    slot: Slot,
    outside: tuple[datetime, ...],
    reported: float,
    now: float,
    why: Why = None,
) -> PersonDay:
    zone, planned, person, seconds = index.facts.zone, slot.planned, who.person, who.seconds
    inside = seconds[bisect_left(seconds, slot.opens) : bisect_left(seconds, slot.closes)] if seconds else []
    hours = _hours(inside, planned.schedule.hours_mode if planned.schedule is not None else HoursMode.FIRST_LAST)
    status, late, early, below_minimum, half_day = _status(index, who, slot, inside, hours, reported, now, why)
    group = index.plan.group_of(person, slot.day)
    return PersonDay(
        person.person_id,
        person.name,
        person.external_id,
        group.name if group else None,
        slot.day,
        status,
        datetime.fromtimestamp(inside[0], zone) if inside else None,
        datetime.fromtimestamp(inside[-1], zone) if inside else None,
        len(inside),
        hours,
        late,
        early,
        below_minimum,
        reported >= slot.closes,
        planned.shift,
        half_day,
        outside,
    )


def _person_days(
    index: _Index, person: RosterEntry, days: list[date], reported: float, now: float, why: Why = None
) -> dict[date, PersonDay]:
    """Each day's PersonDay; `why` (one day only) collects the rules' reasons as they decide."""
    plan, facts = index.plan, index.facts
    slots = person_slots(
        lambda day: plan.planned(person, day), days[0], days[-1], facts.zone, index.windows, index.fitted
    )
    seconds = index.punch_seconds.get(person.person_id, [])
    outside = _outside(slots, seconds, facts.zone)
    who = _Someone(
        person,
        person.first_day(facts.zone),
        seconds,
        index.leave.get(person.person_id, ()),
    )
    by_day = {slot.day: slot for slot in slots}
    return {day: _person_day(index, who, by_day[day], outside.get(day, ()), reported, now, why) for day in days}


def day_statuses(
    facts: AttendanceFacts, days: Iterable[date], reported_up_to: datetime, now: datetime | None = None
) -> list[PersonDay]:
    """Every roster person's status on every day, by day then roster order.

    reported_up_to: every kiosk has reported its events up to this moment (standalone: now).
    now: the clock (default reported_up_to).
    """
    days = list(days)
    if not days:
        return []
    index = _Index.build(facts)
    reported = reported_up_to.timestamp()
    clock = (now or reported_up_to).timestamp()
    span = sorted(set(days))
    per_person = [_person_days(index, person, span, reported, clock) for person in facts.roster]
    return [person_days[day] for day in days for person_days in per_person]


def reasoned_day(
    facts: AttendanceFacts, person_id: int, day: date, reported_up_to: datetime, now: datetime | None = None
) -> tuple[PersonDay, Slot, list[str]]:
    """One person's day by the same rules as day_statuses, with the slot it used and the reasons as they decided."""
    narrowed = replace(facts, roster=[p for p in facts.roster if p.person_id == person_id])
    if not narrowed.roster:
        raise InvalidInputError(f"Person {person_id} is not on the roster for {day.isoformat()}.")
    index = _Index.build(narrowed)
    why: list[str] = []
    reported = reported_up_to.timestamp()
    clock = (now or reported_up_to).timestamp()
    found = _person_days(index, narrowed.roster[0], [day], reported, clock, why)[day]
    plan = index.plan
    slots = person_slots(lambda d: plan.planned(narrowed.roster[0], d), day, day, facts.zone)
    return found, next(slot for slot in slots if slot.day == day), why


def person_statuses(
    facts: AttendanceFacts, person_id: int, days: Iterable[date], reported_up_to: datetime, now: datetime | None = None
) -> list[PersonDay]:
    """One person's days (their history)."""
    narrowed = replace(facts, roster=[p for p in facts.roster if p.person_id == person_id])
    return day_statuses(narrowed, days, reported_up_to, now)
