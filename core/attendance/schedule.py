"""Schedules in wall-clock time: parsing, the site's time zone, and each day's shift window.

A day's *window* is the stretch of real time whose punches belong to that day. By default it is centred
on the shift: it opens half the off-duty gap before the start and closes half the gap after the end,
so consecutive days' windows meet exactly and a night shift's morning check-out belongs to the day
the shift began. A shift's checkin_before and checkout_after minutes narrow (or widen) it in real time.
A day without a shift has the calendar day as its window (core.attendance.windows fits neighbours).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.base.errors import InvalidInputError
from core.base.timekeeping import WEEKDAY_NAMES, HoursMode, Schedule

DAY = timedelta(days=1)


def parse_days(text: str) -> frozenset[int]:
    """'mon-fri', 'mon-sun', 'sat,sun', 'mon,wed-fri' -> weekday numbers (Monday 0)."""
    days: set[int] = set()
    for part in filter(None, (p.strip().lower() for p in str(text).split(","))):
        ends = [e.strip()[:3] for e in part.split("-")]
        if len(ends) > 2 or any(e not in WEEKDAY_NAMES for e in ends):
            raise InvalidInputError(f"{part!r} is not a day or a range of days; use names like mon-fri or sat,sun.")
        first, last = WEEKDAY_NAMES.index(ends[0]), WEEKDAY_NAMES.index(ends[-1])
        span = (last - first) % 7
        days.update((first + i) % 7 for i in range(span + 1))
    if not days:
        raise InvalidInputError("Give at least one working day, e.g. mon-fri.")
    return frozenset(days)


def parse_clock(text: str) -> time:
    """'09:00' or '9:00' -> time(9, 0)."""
    try:
        hours, minutes = str(text).strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a time of day; use HH:MM, e.g. 09:00 or 22:30.") from None


def parse_month(text: str) -> date:
    """'2026-11' -> date(2026, 11, 1)."""
    try:
        year, month = str(text).strip().split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a month; use YYYY-MM, e.g. 2026-11.") from None


def month_days(month: date) -> list[date]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return [first + timedelta(days=i) for i in range((following - first).days)]


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


MINUTES_A_DAY = 24 * 60


def _minutes_option(name: str, value: int | None) -> int | None:
    if value is not None and not 0 <= int(value) <= MINUTES_A_DAY:
        raise InvalidInputError(f"{name} must be between 0 and {MINUTES_A_DAY} minutes.")
    return None if value is None else int(value)


def _hours_option(name: str, value: float) -> float:
    if not 0 <= float(value) <= 24:
        raise InvalidInputError(f"{name} must be between 0 and 24 hours.")
    return float(value)


def make_schedule(
    start: str,
    end: str,
    grace_minutes: int,
    days: str,
    min_hours: float,
    early_grace_minutes: int | None = None,
    checkin_before_minutes: int | None = None,
    checkout_after_minutes: int | None = None,
    half_day_below: float = 0.0,
    absent_below: float = 0.0,
    hours_mode: HoursMode | str = HoursMode.FIRST_LAST,
) -> Schedule:
    if not 0 <= int(grace_minutes) <= MINUTES_A_DAY:
        raise InvalidInputError("The grace period must be between 0 and 1440 minutes.")
    if not 0 <= float(min_hours) <= 24:
        raise InvalidInputError("The minimum hours must be between 0 and 24.")
    try:
        mode = HoursMode(hours_mode)
    except ValueError:
        choices = ", ".join(m.value for m in HoursMode)
        raise InvalidInputError(f"{hours_mode!r} is not a way to count hours; use one of {choices}.") from None
    schedule = Schedule(
        parse_clock(start),
        parse_clock(end),
        int(grace_minutes),
        parse_days(days),
        float(min_hours),
        _minutes_option("The early grace", early_grace_minutes),
        _minutes_option("Check-in before", checkin_before_minutes),
        _minutes_option("Check-out after", checkout_after_minutes),
        _hours_option("Half day below", half_day_below),
        _hours_option("Absent below", absent_below),
        mode,
    )
    if schedule.length == DAY:
        raise InvalidInputError("A shift cannot start and end at the same time; give a different end.")
    if schedule.absent_below and schedule.half_day_below and schedule.absent_below > schedule.half_day_below:
        raise InvalidInputError("Absent below must not be more hours than half day below.")
    return schedule


# ---- the site's time zone ----


def _machine_zone_name() -> str | None:
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        return name
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return None
    marker = "zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else None


@lru_cache(maxsize=16)
def site_zone(name: str = "") -> tzinfo:
    """The site's zone by IANA name ('Europe/London'); empty = this machine's zone."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInputError(f"{name!r} is not a time zone name; use an IANA name like Europe/London.") from None
    machine = _machine_zone_name()
    if machine:
        try:
            return ZoneInfo(machine)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return datetime.now().astimezone().tzinfo or UTC


def localize(wall: datetime, zone: tzinfo) -> datetime:
    """A naive wall-clock time in `zone`, made aware. In a repeated hour the first one counts; a time in
    the hour skipped at a spring change moves forward by the gap (as a wall clock would show it)."""
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone)


@dataclass(frozen=True)
class ShiftWindow:
    """One day of one schedule, as real (UTC epoch) seconds."""

    day: date
    opens: float  # punches from here ...
    closes: float  # ... up to (not including) here belong to `day` (a checkout_after limit's own second counts)
    start: float | None = None  # the shift (None: no schedule)
    end: float | None = None
    working: bool = False


def shift_window(day: date, schedule: Schedule | None, zone: tzinfo) -> ShiftWindow:
    if schedule is None:
        midnight = localize(datetime.combine(day, time()), zone).timestamp()
        return ShiftWindow(day, midnight, localize(datetime.combine(day + DAY, time()), zone).timestamp())
    start_wall = datetime.combine(day, schedule.start)
    end_wall = start_wall + schedule.length
    half_gap = (DAY - schedule.length) / 2
    start = localize(start_wall, zone).timestamp()
    end = localize(end_wall, zone).timestamp()
    before, after = schedule.checkin_before_minutes, schedule.checkout_after_minutes
    opens = localize(start_wall - half_gap, zone).timestamp() if before is None else start - before * 60.0
    closes = localize(start_wall - half_gap + DAY, zone).timestamp() if after is None else end + after * 60.0 + 1
    return ShiftWindow(day, opens, closes, start, end, day.weekday() in schedule.working_days)
