"""What the attendance views share: status colours and labels, date edits, read-only tables, day rows."""

from __future__ import annotations

from datetime import date, datetime

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QDateEdit, QHeaderView, QPushButton, QTableWidget, QTableWidgetItem

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine
from core.attendance.presence import present_people
from core.attendance.timesheet import hours_text
from core.base.timekeeping import DayStatus, PersonDay

from .frozen import freeze_first_column

BOARD_REFRESH_MS = 60_000  # statuses move with the clock (pending -> absent) even without new events
ATTENDANCE_CHANGES = (ChangeKind.EVENTS, ChangeKind.PEOPLE, ChangeKind.SCHEDULES, ChangeKind.CORRECTIONS)

STATUS_COLORS: dict[DayStatus, str] = {
    DayStatus.PRESENT: "#dcfce7",
    DayStatus.LATE: "#fef3c7",
    DayStatus.EARLY_LEAVE: "#ffedd5",
    DayStatus.SHORT_DAY: "#ffedd5",
    DayStatus.HALF_DAY: "#fde68a",
    DayStatus.INCOMPLETE: "#e0e7ff",
    DayStatus.ABSENT: "#fee2e2",
    DayStatus.PENDING: "#f3f4f6",
    DayStatus.HOLIDAY: "#e0f2fe",
    DayStatus.ON_LEAVE: "#ede9fe",
    DayStatus.DAY_OFF: "#ffffff",
    DayStatus.UNSCHEDULED: "#ffffff",
    DayStatus.NOT_ENROLLED: "#ffffff",
    DayStatus.LEFT: "#f3f4f6",
}
STATUS_LABELS: dict[DayStatus, str] = {status: status.value.replace("_", " ").capitalize() for status in DayStatus}
MANUAL = "manual punch"  # shown beside a time no sighting made

DAY_COLUMNS = [
    "Name",
    "Employee ID",
    "Group",
    "Status",
    "Late (min)",
    "Early (min)",
    "First seen",
    "Last seen",
    "Hours",
]
NOBODY_ENROLLED = "Nobody is enrolled yet."
NOBODY_IN_GROUP = "Nobody is in this group."
# Most telling first; every status is counted (one left out would hide its people from the summary).
SUMMARY_ORDER = (
    DayStatus.PRESENT,
    DayStatus.LATE,
    DayStatus.EARLY_LEAVE,
    DayStatus.SHORT_DAY,
    DayStatus.HALF_DAY,
    DayStatus.INCOMPLETE,
    DayStatus.ABSENT,
    DayStatus.PENDING,
    DayStatus.HOLIDAY,
    DayStatus.ON_LEAVE,
    DayStatus.DAY_OFF,
    DayStatus.UNSCHEDULED,
    DayStatus.NOT_ENROLLED,
    DayStatus.LEFT,
)
KIOSK_HR_TIP = "On a site's kiosk: corrections and month locks are made on the site's admin station."


def qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def date_edit(day: date, display: str = "d MMM yyyy") -> QDateEdit:
    edit = QDateEdit(qdate(day))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat(display)
    return edit


def month_text(edit: QDateEdit) -> str:
    """'2026-11' from a month edit."""
    return f"{edit.date().year():04d}-{edit.date().month():02d}"


def read_only_table(columns: list[str], stretch: int | None = 0) -> QTableWidget:
    """Columns as wide as their contents (never squeezed: a narrow window scrolls), the first one frozen;
    `stretch` gets the spare room when it is the last column."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setShowGrid(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(stretch == len(columns) - 1 or stretch == 0)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    freeze_first_column(table)
    return table


def seen_text(moment: datetime | None, sighted: set[int]) -> str:
    """A time of day, marked when no raw sighting holds it (a manual punch is not a sighting)."""
    if moment is None:
        return ""
    text = moment.strftime("%H:%M")
    return text if int(moment.timestamp()) in sighted else f"{text} ({MANUAL})"


def fill_day_rows(table: QTableWidget, rows: list[PersonDay], first_column: str, sighted: set[int]) -> None:
    """Name (or date), group, status, late, early, first, last, hours; the status cell coloured.

    sighted: the seconds (epoch) of the raw events in the range; other times came from manual punches."""
    table.setSortingEnabled(False)
    table.setRowCount(len(rows))
    for r, d in enumerate(rows):
        lead = d.name if first_column == "name" else d.day.strftime("%a %d %b %Y")
        early = str(d.early_leave_minutes) if d.early_leave_minutes else ""
        cells = [
            lead,
            d.external_id or "",
            d.group or "",
            STATUS_LABELS[d.status],
            str(d.late_minutes) if d.late_minutes else "",
            early,
            seen_text(d.first_seen, sighted),
            seen_text(d.last_seen, sighted),
            hours_text(d.hours) if d.hours else "",
        ]
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, d.person_id)
            if c == 3:
                item.setBackground(QBrush(QColor(STATUS_COLORS[d.status])))
                item.setToolTip("not final: a kiosk may still report" if not d.final else "final")
            if MANUAL in text:
                item.setToolTip("Entered by hand as a correction (see the Audit tab), not seen by the camera")
            table.setItem(r, c, item)
    table.setSortingEnabled(first_column == "name")  # by the header's indicator; History keeps newest first


def sorted_by_name(table: QTableWidget) -> QTableWidget:
    """A to Z by the first column until the user clicks another header (Qt's own default reads Z to A)."""
    table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
    return table


def summary_text(rows: list[PersonDay], empty: str = NOBODY_ENROLLED) -> str:
    """'2 present (1 late) · 1 absent': the people present by the one count the Sightings tab and the
    timesheet use (core.attendance.presence), then every other status; `empty` when there are no rows."""
    if not rows:
        return empty
    counts: dict[DayStatus, int] = {}
    for d in rows:
        counts[d.status] = counts.get(d.status, 0) + 1
    order = [*SUMMARY_ORDER, *(status for status in DayStatus if status not in SUMMARY_ORDER)]

    def counted(status: DayStatus) -> str:
        return f"{counts[status]} {STATUS_LABELS[status].lower()}"

    how = [counted(s) for s in order if s.attended and s is not DayStatus.PRESENT and counts.get(s)]
    present = f"{len(present_people(rows))} present" + (f" ({', '.join(how)})" if how else "")
    return " · ".join([present, *(counted(s) for s in order if not s.attended and counts.get(s))])


def admin_only(engine: Engine, button: QPushButton) -> None:
    """On a site's kiosk, HR changes are the admin station's: the button stays, disabled, saying why."""
    allowed = engine.hr_edits_allowed
    button.setEnabled(allowed)
    tip = button.property("own_tip")
    if tip is None:
        tip = button.toolTip()
        button.setProperty("own_tip", tip)
    button.setToolTip(tip if allowed else KIOSK_HR_TIP)


def changes_matter(changes: Changes) -> bool:
    return changes.touches(*ATTENDANCE_CHANGES)
