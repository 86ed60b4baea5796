"""The monthly timesheet: a person x day grid of statuses, hours and shift codes, with totals per person."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from core.base.timekeeping import DayStatus, PersonDay

from .schedule import month_days
from .status import AttendanceFacts, day_statuses

# One or two letters per status for the grid; the legend is written beside every export.
STATUS_CODES: dict[DayStatus, str] = {
    DayStatus.PRESENT: "P",
    DayStatus.LATE: "L",
    DayStatus.EARLY_LEAVE: "E",
    DayStatus.SHORT_DAY: "S",
    DayStatus.HALF_DAY: "HD",
    DayStatus.INCOMPLETE: "I",
    DayStatus.ABSENT: "A",
    DayStatus.PENDING: "?",
    DayStatus.HOLIDAY: "H",
    DayStatus.ON_LEAVE: "LV",
    DayStatus.DAY_OFF: "-",
    DayStatus.UNSCHEDULED: "",
    DayStatus.NOT_ENROLLED: "",
    DayStatus.LEFT: "",
}


@dataclass(frozen=True)
class TimesheetTotals:
    attended: int  # days present in any form (present, late, early leave, short, incomplete)
    late: int
    absent: int
    on_leave: int
    holidays: int
    hours: float
    late_minutes: int
    early_leave_minutes: int
    half_days: int = 0


@dataclass(frozen=True)
class TimesheetRow:
    person_id: int
    name: str
    external_id: str | None
    group: str | None
    days: tuple[PersonDay, ...]  # one per day of the month, in order
    totals: TimesheetTotals


@dataclass(frozen=True)
class Timesheet:
    month: date  # the first day
    days: tuple[date, ...]
    rows: tuple[TimesheetRow, ...]
    computed_at: datetime
    locked: bool = False
    differs_from_snapshot: tuple[int, ...] = ()  # a locked month: people whose days compute differently now

    @property
    def title(self) -> str:
        return f"{self.month:%Y-%m}"


def totals_of(days: list[PersonDay]) -> TimesheetTotals:
    counts = Counter(d.status for d in days)
    return TimesheetTotals(
        attended=sum(1 for d in days if d.status.attended),
        late=sum(1 for d in days if d.late_minutes > 0),
        absent=counts[DayStatus.ABSENT],
        on_leave=counts[DayStatus.ON_LEAVE],
        holidays=counts[DayStatus.HOLIDAY],
        hours=round(sum(d.hours for d in days), 2),
        late_minutes=sum(d.late_minutes for d in days),
        early_leave_minutes=sum(d.early_leave_minutes for d in days),
        half_days=sum(1 for d in days if d.half_day),
    )


def build_timesheet(
    facts: AttendanceFacts, month: date, reported_up_to: datetime, now: datetime | None = None, locked: bool = False
) -> Timesheet:
    days = month_days(month)
    statuses = day_statuses(facts, days, reported_up_to, now)
    people = len(facts.roster)
    rows = []
    for position, person in enumerate(facts.roster):
        person_days = statuses[position::people] if people else []
        rows.append(
            TimesheetRow(
                person.person_id,
                person.name,
                person.external_id,
                person_days[0].group if person_days else None,
                tuple(person_days),
                totals_of(person_days),
            )
        )
    return Timesheet(month.replace(day=1), tuple(days), tuple(rows), now or reported_up_to, locked)


def hours_text(hours: float) -> str:
    """Hours as a timesheet writes them, hours and minutes: 7.82 is '7:49', 8 is '8:00'."""
    minutes = round(max(0.0, float(hours)) * 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def cell_text(day: PersonDay) -> str:
    """A grid cell: the status code, with the hours when there are any ('P 8:00', 'L 7:30'), and the shift's
    code when it is not the group's own ('P 8:00 Night', '- off'). Blank before the person joined."""
    if day.status is DayStatus.NOT_ENROLLED:
        return ""  # no shift was theirs before they joined
    code = STATUS_CODES[day.status]
    text = f"{code} {hours_text(day.hours)}".strip() if day.hours > 0 else code
    return f"{text} {day.shift}".strip() if day.shift and day.shift != day.group else text
