"""Typed records of time and attendance: shifts and schedules, groups, rosters, holidays, leave, corrections,
audit.

Moments are timezone-aware datetimes; the store keeps them in UTC. Days are calendar days of the
site's time zone (AttendanceSettings.time_zone).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OFF = "off"  # a rotation's day without a shift


class HoursMode(enum.StrEnum):
    """How a day's hours are counted from its punches."""

    FIRST_LAST = "first-last"  # from the first punch to the last
    PAIRS = "pairs"  # alternating in and out: each pair's span, so breaks are left out


@dataclass(frozen=True)
class Schedule:
    """A shift's working day: start and end wall-clock times in the site's zone.

    An end at or before the start is a night shift that ends on the next calendar day.
    working_days holds weekday numbers (Monday 0 ... Sunday 6) of the day the shift starts.
    A sighting counts for the shift from checkin_before minutes before its start up to checkout_after
    minutes after its end; None = half the off-duty gap (consecutive days' windows meet).
    """

    start: time
    end: time
    grace_minutes: int = 0  # late grace: arriving up to this many minutes after the start is on time
    working_days: frozenset[int] = frozenset(range(5))
    min_hours: float = 0.0  # a day with fewer hours between first and last punch is a short day
    early_grace_minutes: int | None = None  # leaving this early is not early leave; None = grace_minutes
    checkin_before_minutes: int | None = None
    checkout_after_minutes: int | None = None
    half_day_below: float = 0.0  # hours; a day with fewer is a half day (0 = never)
    absent_below: float = 0.0  # hours; a day with fewer is absent (0 = never)
    hours_mode: HoursMode = HoursMode.FIRST_LAST

    @property
    def late_grace_minutes(self) -> int:
        return self.grace_minutes

    @property
    def early_grace(self) -> int:
        """Early grace in minutes."""
        return self.grace_minutes if self.early_grace_minutes is None else self.early_grace_minutes

    @property
    def crosses_midnight(self) -> bool:
        return (self.end.hour, self.end.minute, self.end.second) <= (
            self.start.hour,
            self.start.minute,
            self.start.second,
        )

    @property
    def length(self) -> timedelta:
        """Planned length in wall-clock time (DST days are an hour longer or shorter in real time)."""
        start = timedelta(hours=self.start.hour, minutes=self.start.minute, seconds=self.start.second)
        end = timedelta(hours=self.end.hour, minutes=self.end.minute, seconds=self.end.second)
        return end - start + (timedelta(days=1) if self.crosses_midnight else timedelta(0))

    @property
    def grace(self) -> timedelta:
        return timedelta(minutes=self.grace_minutes)

    def days_text(self) -> str:
        return ",".join(WEEKDAY_NAMES[d] for d in sorted(self.working_days))


@dataclass(frozen=True)
class Group:
    """A department, class or shift: the people in it share one schedule."""

    id: int
    name: str
    schedule: Schedule  # its default shift's schedule (its own, when it names no shift)
    require_challenge: bool = False  # its people answer the liveness challenge before they are marked
    shift_id: int | None = None  # its default shift; None = the group's own schedule, coded by its name


@dataclass(frozen=True)
class Shift:
    """A shift type: a named schedule ('Day', 'Night') that groups, assignments and rosters refer to."""

    id: int
    name: str  # also its code in rosters and timesheets
    schedule: Schedule


@dataclass(frozen=True)
class ShiftAssignment:
    """A person works `shift_id` (None: is off) from first_day to last_day (inclusive; None = open-ended), on
    the shift's working days. It overrides their rotation and their group's default shift; the newest wins on
    overlap. A one-day assignment is how a roster cell is edited."""

    id: int
    person_id: int
    shift_id: int | None
    first_day: date
    last_day: date | None = None

    def covers(self, day: date) -> bool:
        return self.first_day <= day and (self.last_day is None or day <= self.last_day)


@dataclass(frozen=True)
class ShiftRotation:
    """A rotating roster: pattern[i] (a shift id, or None = off) on first_day + i, repeated. From its first
    day on it replaces the person's group default and any earlier rotation."""

    id: int
    person_id: int
    pattern: tuple[int | None, ...]
    first_day: date

    def shift_on(self, day: date) -> int | None:
        return self.pattern[(day - self.first_day).days % len(self.pattern)]


class ShiftSource(enum.StrEnum):
    """Where a person's shift for a day comes from (highest precedence first)."""

    ASSIGNMENT = "assignment"
    ROTATION = "rotation"
    GROUP = "group"
    NONE = "none"


@dataclass(frozen=True)
class RosterDay:
    """Who works which shift on a day: one cell of the roster (person x day)."""

    person_id: int
    name: str
    day: date
    shift: str | None  # the shift's code; None = no shift (OFF for a rotation's day off)
    working: bool
    source: ShiftSource

    def to_json(self) -> dict:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "date": self.day.isoformat(),
            "shift": self.shift,
            "working": self.working,
            "source": self.source.value,
        }


@dataclass(frozen=True)
class RosterEntry:
    """An enrolled person as the rules see them."""

    person_id: int
    name: str
    external_id: str | None
    group_id: int | None
    enrolled_at: datetime | None = None  # days before this (in the site's zone) are not_enrolled
    start_day: date | None = None  # joined: days before are not_enrolled (None: the enrollment day)
    end_day: date | None = None  # left: days after are `left`; None = still employed

    def first_day(self, zone: tzinfo) -> date | None:
        """The first day the rules count: the start date, else the day of enrollment."""
        if self.start_day is not None:
            return self.start_day
        return self.enrolled_at.astimezone(zone).date() if self.enrolled_at is not None else None


@dataclass(frozen=True)
class Holiday:
    id: int
    day: date
    name: str
    group_id: int | None = None  # None = the whole site


@dataclass(frozen=True)
class Leave:
    id: int
    person_id: int
    first_day: date
    last_day: date  # inclusive
    reason: str

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


class CorrectionKind(enum.StrEnum):
    PUNCH = "punch"  # a manual punch for a person at a time
    VOID = "void"  # a raw event no longer counts
    REASSIGN = "reassign"  # a raw event counts for another person


@dataclass(frozen=True)
class Correction:
    """A change to what the raw events mean; the events themselves are never edited."""

    id: int
    kind: CorrectionKind
    reason: str
    made_by: str
    made_at: datetime
    event_id: int | None = None  # VOID and REASSIGN
    person_id: int | None = None  # PUNCH and REASSIGN: who it counts for
    time: datetime | None = None  # PUNCH: when


class AuditAction(enum.StrEnum):
    PUNCH = "punch"
    VOID = "void"
    REASSIGN = "reassign"
    GROUP_ADD = "group_add"
    GROUP_ASSIGN = "group_assign"
    GROUP_CHALLENGE = "group_challenge"
    HOLIDAY_ADD = "holiday_add"
    LEAVE_ADD = "leave_add"
    PERSON_RENAME = "person_rename"
    PERSON_DELETE = "person_delete"
    PERSON_MERGE = "person_merge"
    MONTH_LOCK = "month_lock"
    MONTH_UNLOCK = "month_unlock"
    UNKNOWN_ENROLL = "unknown_enroll"  # an unknown visitor's group enrolled as a new person
    UNKNOWN_ASSIGN = "unknown_assign"  # ... added to a person already enrolled
    UNKNOWN_DISMISS = "unknown_dismiss"  # ... reviewed, nobody to enroll
    UNKNOWN_UNASSIGN = "unknown_unassign"  # an "Add to person" undone: the visitor is open for review again
    UNKNOWN_RESTORE = "unknown_restore"  # a dismissed visitor back in review
    EVENTS_IMPORTED = "events_imported"  # a terminal's log or a migration (file name, sha256, counts)
    SHIFT_ADD = "shift_add"
    SHIFT_ASSIGN = "shift_assign"  # a dated assignment of a person to a shift
    SHIFT_ROTATE = "shift_rotate"  # a person's rotating roster
    GROUP_SHIFT = "group_shift"  # a group's default shift
    GROUP_EDIT = "group_edit"  # a group renamed, or its schedule changed from a day
    GROUP_REMOVE = "group_remove"
    SHIFT_EDIT = "shift_edit"  # a shift type renamed, or its rules changed from a day
    SHIFT_REMOVE = "shift_remove"
    HOLIDAY_EDIT = "holiday_edit"
    HOLIDAY_REMOVE = "holiday_remove"
    LEAVE_EDIT = "leave_edit"
    LEAVE_REMOVE = "leave_remove"
    ASSIGNMENT_EDIT = "assignment_edit"
    ASSIGNMENT_REMOVE = "assignment_remove"
    ROTATION_REMOVE = "rotation_remove"
    PERSON_EXTERNAL_ID = "person_external_id"  # an external (employee) ID set, changed or cleared
    PERSON_DATES = "person_dates"  # a start (joined) or end (left) date set or moved
    PERSON_ARCHIVE = "person_archive"  # a leaver archived: recognition stops, the record stays
    EVENTS_HELD = "events_held"  # sightings dated in a locked month, held (not counted)
    HELD_COUNTED = "held_counted"  # held sightings counted after an unlock
    HELD_DISMISSED = "held_dismissed"
    CHAIN_STARTED = "chain_started"  # the tamper-evident chain began: the rows before it chained as found


@dataclass(frozen=True)
class AuditEntry:
    """One line of the append-only audit log.

    People are named by id only ("person 3"): erasing a person must remove their name from the
    database file, and the log itself is never edited. Views show the current name beside the id.
    """

    id: int
    at: datetime
    actor: str
    action: AuditAction
    subject: str  # what it was about ("person 3", "event 17", "2026-11", "group Night")
    reason: str
    details: dict = field(default_factory=dict)
    person_id: int | None = None


class DayStatus(enum.StrEnum):
    """A person's status on one day; the text is the JSON contract."""

    PRESENT = "present"
    LATE = "late"
    EARLY_LEAVE = "early_leave"
    SHORT_DAY = "short_day"  # first to last punch is below the schedule's minimum hours
    HALF_DAY = "half_day"  # fewer hours than the shift's half_day_below
    INCOMPLETE = "incomplete"  # checked in, never out (check-out mode), after the shift ended
    ABSENT = "absent"
    PENDING = "pending"  # cannot be decided yet: not due, or a kiosk has not reported far enough
    HOLIDAY = "holiday"
    ON_LEAVE = "on_leave"
    DAY_OFF = "day_off"  # not one of the group's working days
    UNSCHEDULED = "unscheduled"  # in no group and not seen
    NOT_ENROLLED = "not_enrolled"  # a day before the person joined (their start date, else their enrollment)
    LEFT = "left"  # a day after the person's end date (a leaver, archived)

    @property
    def attended(self) -> bool:
        return self in ATTENDED


ATTENDED = frozenset(
    {
        DayStatus.PRESENT,
        DayStatus.LATE,
        DayStatus.EARLY_LEAVE,
        DayStatus.SHORT_DAY,
        DayStatus.HALF_DAY,
        DayStatus.INCOMPLETE,
    }
)


@dataclass(frozen=True)
class PersonDay:
    """What the rules say about one person on one day."""

    person_id: int
    name: str
    external_id: str | None
    group: str | None
    day: date
    status: DayStatus
    first_seen: datetime | None = None  # in the site's zone
    last_seen: datetime | None = None
    punches: int = 0  # distinct punch seconds that counted
    hours: float = 0.0  # first to last punch (or the pairs' spans), when there are two or more
    late_minutes: int = 0
    early_leave_minutes: int = 0
    below_minimum: bool = False
    final: bool = False  # every kiosk has reported past the end of this day's window
    shift: str | None = None  # the shift's code for the day
    half_day: bool = False  # fewer hours than the shift's half_day_below
    outside_window: tuple[datetime, ...] = ()  # this calendar day's sightings that counted for no shift

    def to_json(self) -> dict:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "external_id": self.external_id,
            "group": self.group,
            "date": self.day.isoformat(),
            "status": self.status.value,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "late_minutes": self.late_minutes,
            "early_leave_minutes": self.early_leave_minutes,
            "hours": round(self.hours, 2),
            "punches": self.punches,
            "below_minimum": self.below_minimum,
            "final": self.final,
            "shift": self.shift,
            "half_day": self.half_day,
            "outside_window": [moment.isoformat() for moment in self.outside_window],
        }
