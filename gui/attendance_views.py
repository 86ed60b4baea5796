"""The Attendance panel's HR views: Today (the live day board), Timesheet, History, Charts and Audit.

Each view reads through the Engine and refreshes when a change record says its data changed.
"""

from __future__ import annotations

from datetime import date, timedelta

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDateEdit, QFileDialog, QHeaderView, QInputDialog,
                               QLabel, QPushButton, QTableView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine
from core.attendance.timesheet import STATUS_CODES, Timesheet, cell_text
from core.base.errors import RollcallError
from core.base.timekeeping import DayStatus, PersonDay

from .correction_dialog import CorrectionDialog
from .dialogs import show_error
from .widgets import hbox

BOARD_REFRESH_MS = 60_000  # statuses move with the clock (pending -> absent) even without new events
ATTENDANCE_CHANGES = (ChangeKind.EVENTS, ChangeKind.PEOPLE, ChangeKind.SCHEDULES, ChangeKind.CORRECTIONS)

STATUS_COLORS: dict[DayStatus, str] = {
    DayStatus.PRESENT: "#dcfce7", DayStatus.LATE: "#fef3c7", DayStatus.EARLY_LEAVE: "#ffedd5",
    DayStatus.SHORT_DAY: "#ffedd5", DayStatus.INCOMPLETE: "#e0e7ff", DayStatus.ABSENT: "#fee2e2",
    DayStatus.PENDING: "#f3f4f6", DayStatus.HOLIDAY: "#e0f2fe", DayStatus.ON_LEAVE: "#ede9fe",
    DayStatus.DAY_OFF: "#ffffff", DayStatus.UNSCHEDULED: "#ffffff", DayStatus.NOT_ENROLLED: "#ffffff",
}
STATUS_LABELS: dict[DayStatus, str] = {status: status.value.replace("_", " ").capitalize() for status in DayStatus}


def qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def date_edit(day: date, display: str = "d MMM yyyy") -> QDateEdit:
    edit = QDateEdit(qdate(day))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat(display)
    return edit


def read_only_table(columns: list[str], stretch: int | None = 0) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setShowGrid(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    if stretch is not None:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return table


def _time(moment) -> str:
    return moment.strftime("%H:%M:%S") if moment else ""


def fill_day_rows(table: QTableWidget, rows: list[PersonDay], first_column: str) -> None:
    """Name (or date), group, status, late, early, first, last, hours; the status cell coloured."""
    table.setSortingEnabled(False)
    table.setRowCount(len(rows))
    for r, d in enumerate(rows):
        lead = d.name if first_column == "name" else d.day.strftime("%a %d %b %Y")
        cells = [lead, d.external_id or "", d.group or "", STATUS_LABELS[d.status],
                 str(d.late_minutes) if d.late_minutes else "", str(d.early_leave_minutes) if d.early_leave_minutes else "",
                 _time(d.first_seen), _time(d.last_seen), f"{d.hours:.2f}" if d.hours else ""]
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, d.person_id)
            if c == 3:
                item.setBackground(QBrush(QColor(STATUS_COLORS[d.status])))
                item.setToolTip("not final: a kiosk may still report" if not d.final else "final")
            table.setItem(r, c, item)
    table.setSortingEnabled(first_column == "name")  # History keeps its newest-first order


DAY_COLUMNS = ["Name", "External ID", "Group", "Status", "Late (min)", "Early (min)", "First seen", "Last seen",
               "Hours"]


NOBODY_ENROLLED = "Nobody is enrolled yet."
NOBODY_IN_GROUP = "Nobody is in this group."
# Most telling first; every status is counted (one left out would hide its people from the summary).
SUMMARY_ORDER = (DayStatus.PRESENT, DayStatus.LATE, DayStatus.EARLY_LEAVE, DayStatus.SHORT_DAY, DayStatus.INCOMPLETE,
                 DayStatus.ABSENT, DayStatus.PENDING, DayStatus.HOLIDAY, DayStatus.ON_LEAVE, DayStatus.DAY_OFF,
                 DayStatus.UNSCHEDULED, DayStatus.NOT_ENROLLED)


def summary_text(rows: list[PersonDay], empty: str = NOBODY_ENROLLED) -> str:
    """Counts per status ("1 late · 2 absent"); `empty` when there are no rows at all."""
    if not rows:
        return empty
    counts: dict[DayStatus, int] = {}
    for d in rows:
        counts[d.status] = counts.get(d.status, 0) + 1
    order = [*SUMMARY_ORDER, *(status for status in DayStatus if status not in SUMMARY_ORDER)]
    return " · ".join(f"{counts[s]} {STATUS_LABELS[s].lower()}" for s in order if counts.get(s))


KIOSK_HR_TIP = "On a site's kiosk: corrections and month locks are made on the site's admin station."


def admin_only(engine: Engine, button: QPushButton) -> None:
    """On a site's kiosk, HR changes are the admin station's: the button stays, disabled, saying why."""
    allowed = engine.hr_edits_allowed
    button.setEnabled(allowed)
    tip = button.property("own_tip")
    if tip is None:
        tip = button.toolTip()
        button.setProperty("own_tip", tip)
    button.setToolTip(tip if allowed else KIOSK_HR_TIP)


class TodayView(QWidget):
    """The day board: every enrolled person's status, live while recognising."""

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.rows: list[PersonDay] = []
        self.day_edit = date_edit(engine.site_today())
        self.group_box = QComboBox()
        self.today_button = QPushButton("Today")
        self.correct_button = QPushButton("Correct…")
        self.correct_button.setToolTip("A manual punch, or void or reassign one of the selected person's events")
        admin_only(engine, self.correct_button)
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("summary")
        self.table = read_only_table(DAY_COLUMNS)
        layout = QVBoxLayout(self)
        layout.addLayout(hbox(QLabel("Day"), self.day_edit, self.today_button, QLabel("Group"), self.group_box, None,
                              self.correct_button))
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)
        self.day_edit.dateChanged.connect(lambda _: self.refresh())
        self.group_box.currentIndexChanged.connect(lambda _: self.refresh())
        self.today_button.clicked.connect(lambda: self.day_edit.setDate(qdate(self.engine.site_today())))
        self.correct_button.clicked.connect(lambda: self.open_correction())
        self.table.doubleClicked.connect(lambda _: self.open_correction())
        self.timer = QTimer(self)
        self.timer.timeout.connect(lambda: self.refresh() if self.isVisible() else None)
        self.timer.start(BOARD_REFRESH_MS)
        self.reload_groups()

    def reload_groups(self) -> None:
        current = self.group_box.currentData()
        self.group_box.blockSignals(True)
        self.group_box.clear()
        self.group_box.addItem("All groups", None)
        for group in self.engine.groups():
            self.group_box.addItem(group.name, group.name)
        index = self.group_box.findData(current)
        self.group_box.setCurrentIndex(max(index, 0))
        self.group_box.blockSignals(False)
        self.refresh()

    def refresh(self) -> None:
        admin_only(self.engine, self.correct_button)
        try:
            self.rows = self.engine.day_board(pydate(self.day_edit.date()), self.group_box.currentData())
        except RollcallError as exc:
            self.rows = []
            self.summary_label.setText(str(exc))
            return
        fill_day_rows(self.table, self.rows, "name")
        group = self.group_box.currentData()
        self.summary_label.setText(summary_text(self.rows, NOBODY_IN_GROUP if group else NOBODY_ENROLLED))

    def status_of(self, name: str) -> PersonDay | None:
        return next((r for r in self.rows if r.name == name), None)

    def selected_person_id(self) -> int | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def open_correction(self) -> CorrectionDialog | None:
        dialog = CorrectionDialog(self.engine, pydate(self.day_edit.date()), self.selected_person_id(), self)
        dialog.open()
        return dialog


class TimesheetModel(QAbstractTableModel):
    """A month's person x day grid (a model, not items: 1,000 people x 31 days stay quick)."""

    LEAD = ["Name", "Group"]
    TOTALS = ["Attended", "Late", "Absent", "Leave", "Hours"]

    def __init__(self, parent=None):
        super().__init__(parent)
        self.sheet: Timesheet | None = None

    def set_sheet(self, sheet: Timesheet) -> None:
        self.beginResetModel()
        self.sheet = sheet
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() or self.sheet is None else len(self.sheet.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() or self.sheet is None else len(self.LEAD) + len(self.sheet.days) + len(self.TOTALS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal or self.sheet is None:
            return None
        days = len(self.sheet.days)
        if section < len(self.LEAD):
            return self.LEAD[section]
        if section < len(self.LEAD) + days:
            day = self.sheet.days[section - len(self.LEAD)]
            return f"{day.day}\n{day:%a}"
        return self.TOTALS[section - len(self.LEAD) - days]

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.sheet is None:
            return None
        row = self.sheet.rows[index.row()]
        column, days = index.column(), len(self.sheet.days)
        day_index = column - len(self.LEAD)
        if 0 <= day_index < days:
            person_day = row.days[day_index]
            if role == Qt.ItemDataRole.DisplayRole:
                return cell_text(person_day)
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(QColor(STATUS_COLORS[person_day.status]))
            if role == Qt.ItemDataRole.ToolTipRole:
                late = f", {person_day.late_minutes} min late" if person_day.late_minutes else ""
                return f"{row.name}, {person_day.day:%a %d %b}: {STATUS_LABELS[person_day.status]}{late}"
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return Qt.AlignmentFlag.AlignCenter
            return None
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if column == 0:
            return row.name
        if column == 1:
            return row.group or ""
        t = row.totals
        return [str(t.attended), str(t.late), str(t.absent), str(t.on_leave), f"{t.hours:.1f}"][day_index - days]


class TimesheetView(QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.month_edit = date_edit(engine.site_today().replace(day=1), "MMMM yyyy")
        self.export_xlsx_button = QPushButton("Export XLSX…")
        self.export_xlsx_button.setProperty("primary", True)
        self.export_csv_button = QPushButton("Export CSV…")
        self.lock_button = QPushButton("Lock month")
        admin_only(engine, self.lock_button)
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("summary")
        legend = " · ".join(f"{code} {status.value.replace('_', ' ')}" for status, code in STATUS_CODES.items() if code)
        self.legend_label = QLabel(legend)
        self.legend_label.setObjectName("muted")
        self.model = TimesheetModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setDefaultSectionSize(44)
        self.table.setShowGrid(True)
        layout = QVBoxLayout(self)
        layout.addLayout(hbox(QLabel("Month"), self.month_edit, None, self.lock_button, self.export_csv_button,
                              self.export_xlsx_button))
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.legend_label)
        self.month_edit.dateChanged.connect(lambda _: self.refresh())
        self.export_xlsx_button.clicked.connect(lambda: self.export("xlsx"))
        self.export_csv_button.clicked.connect(lambda: self.export("csv"))
        self.lock_button.clicked.connect(lambda: self.toggle_lock())

    def month(self) -> str:
        return f"{self.month_edit.date().year():04d}-{self.month_edit.date().month():02d}"

    def refresh(self) -> None:
        admin_only(self.engine, self.lock_button)
        try:
            sheet = self.engine.timesheet(self.month())
        except RollcallError as exc:
            self.summary_label.setText(str(exc))
            return
        self.model.set_sheet(sheet)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)
        lock = "  ·  locked (final)" if sheet.locked else ""
        hours = sum(r.totals.hours for r in sheet.rows)
        self.summary_label.setText(f"{sheet.month:%B %Y}: {len(sheet.rows)} people, {hours:.1f} hours{lock}")
        self.lock_button.setText("Unlock month…" if sheet.locked else "Lock month")

    def export(self, kind: str, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export timesheet", f"timesheet-{self.month()}.{kind}",
                                                  f"{kind.upper()} files (*.{kind})")
        if not path:
            return
        if not path.lower().endswith("." + kind):
            path += "." + kind
        try:
            written = self.engine.export_timesheet(self.month(), path)
        except (RollcallError, OSError) as exc:
            show_error(self, f"Could not export: {exc}")
            return
        self.summary_label.setText(f"Timesheet {self.month()} written to {written}")

    def toggle_lock(self, reason: str | None = None) -> None:
        try:
            if self.month() in self.engine.locked_months():
                if reason is None:
                    reason, ok = QInputDialog.getText(self, "Unlock month",
                                                      f"Why must {self.month()} change after it was final?")
                    if not ok:
                        return
                self.engine.unlock_month(self.month(), reason)
            else:
                self.engine.lock_month(self.month())
        except RollcallError as exc:
            show_error(self, str(exc))


class HistoryView(QWidget):
    """One person's days over a range."""

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        today = engine.site_today()
        self.person_box = QComboBox()
        self.start_edit = date_edit(today - timedelta(days=engine.settings.attendance.history_days - 1))
        self.end_edit = date_edit(today)
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("summary")
        self.table = read_only_table(["Day", *DAY_COLUMNS[1:]])
        layout = QVBoxLayout(self)
        layout.addLayout(hbox(QLabel("Person"), self.person_box, QLabel("From"), self.start_edit, QLabel("to"),
                              self.end_edit, None))
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)
        self.person_box.currentIndexChanged.connect(lambda _: self.refresh())
        self.start_edit.dateChanged.connect(lambda _: self.refresh())
        self.end_edit.dateChanged.connect(lambda _: self.refresh())
        self.reload_people()

    def reload_people(self) -> None:
        current = self.person_box.currentData()
        self.person_box.blockSignals(True)
        self.person_box.clear()
        for overview in self.engine.people():
            self.person_box.addItem(overview.person.name, overview.person.id)
        self.person_box.setCurrentIndex(max(self.person_box.findData(current), 0))
        self.person_box.blockSignals(False)
        self.refresh()

    def show_person(self, person_id: int) -> None:
        self.person_box.setCurrentIndex(max(self.person_box.findData(person_id), 0))

    def refresh(self) -> None:
        person_id = self.person_box.currentData()
        if person_id is None:
            self.table.setRowCount(0)
            self.summary_label.setText(NOBODY_ENROLLED)
            return
        try:
            days = self.engine.person_history(person_id, pydate(self.start_edit.date()), pydate(self.end_edit.date()))
        except RollcallError as exc:
            self.table.setRowCount(0)
            self.summary_label.setText(str(exc))
            return
        fill_day_rows(self.table, list(reversed(days)), "day")
        attended = sum(1 for d in days if d.status.attended)
        late = sum(1 for d in days if d.late_minutes)
        self.summary_label.setText(f"{attended} days attended, {late} late, "
                                   f"{sum(d.hours for d in days):.1f} hours")


class AuditView(QWidget):
    """The audit log, newest first; read-only (there is no way to edit it from the app)."""

    COLUMNS = ["When", "Who", "Action", "Subject", "Person", "Reason"]

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.table = read_only_table(self.COLUMNS, stretch=5)
        note = QLabel("Every correction, lock and unlock, rename and delete, with who made it and why. "
                      "The log cannot be edited.")
        note.setObjectName("muted")
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)

    def refresh(self) -> None:
        names = {o.person.id: o.person.name for o in self.engine.people(include_inactive=True)}
        zone = self.engine.site_zone()
        entries = self.engine.audit_log(self.engine.settings.attendance.audit_rows_shown)
        self.table.setRowCount(len(entries))
        for r, e in enumerate(entries):
            person = names.get(e.person_id, "(deleted)" if e.person_id is not None else "")
            cells = [e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action.value.replace("_", " "),
                     e.subject, person, e.reason]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))


def changes_matter(changes: Changes) -> bool:
    return changes.touches(*ATTENDANCE_CHANGES)
