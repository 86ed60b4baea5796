"""Attendance: Today (the day board), Timesheet, History, Charts, Audit, the raw Sightings (who was seen in a
date range, first and last time, CSV export of the events), and HR: roster, shifts, groups, holidays and leave,
event import and month locks (gui/hr)."""

from __future__ import annotations

from datetime import date, datetime

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine
from core.base.errors import RollcallError
from core.base.records import DayRow

from ..attendance.audit import AuditView
from ..attendance.common import changes_matter
from ..attendance.evidence_tips import EvidenceTips
from ..attendance.history import HistoryView
from ..attendance.timesheet import TimesheetView
from ..attendance.today import TodayView
from ..charts_view import ChartsView
from ..dialogs import show_error
from ..files import save_file
from ..hr.calendar import CalendarPage
from ..hr.groups import GroupsPage
from ..hr.held import HeldPage
from ..hr.import_page import ImportPage
from ..hr.locks import LocksPage
from ..hr.roster import RosterPage
from ..hr.shifts import ShiftsPage
from ..message_bar import MessageBar
from ..text import plural
from ..widgets import hbox, icon, panel_header
from ..workers import Job, LatestRead

COLUMNS = ["Date", "Name", "Employee ID", "First seen", "Last seen", "Sightings"]


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class AttendancePanel(QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.rows: list[DayRow] = []
        self.report = LatestRead(self.refresh)  # an admin station reads the site's report off the GUI thread

        today = _qdate(date.today())
        self.start_edit = QDateEdit(today)
        self.end_edit = QDateEdit(today)
        for edit in (self.start_edit, self.end_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("d MMM yyyy")
        self.today_button = QPushButton("Today")
        self.export_button = QPushButton(icon("download", light=True), "Export CSV…")
        self.export_button.setProperty("primary", True)
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("summary")
        self.status_label = MessageBar()  # what an export did, or why a read failed: at the top of the tab

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.evidence = EvidenceTips(engine, self.table, self.sighting_at)  # the face kept, on hover
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

        sightings = QWidget()
        sightings_layout = QVBoxLayout(sightings)
        sightings_layout.addWidget(self.status_label)
        sightings_layout.addLayout(
            hbox(
                QLabel("From"),
                self.start_edit,
                QLabel("to"),
                self.end_edit,
                self.today_button,
                None,
                self.export_button,
            )
        )
        sightings_layout.addWidget(self.summary_label)
        sightings_layout.addWidget(self.table, 1)

        self.today_view = TodayView(engine)
        self.timesheet_view = TimesheetView(engine)
        self.history_view = HistoryView(engine)
        self.charts_view = ChartsView(engine)
        self.audit_view = AuditView(engine)
        self.roster_page = RosterPage(engine)
        self.shifts_page = ShiftsPage(engine)
        self.groups_page = GroupsPage(engine)
        self.calendar_page = CalendarPage(engine)
        self.import_page = ImportPage(engine)
        self.locks_page = LocksPage(engine)
        self.held_page = HeldPage(engine)
        self.hr_pages = (
            self.roster_page,
            self.shifts_page,
            self.groups_page,
            self.calendar_page,
            self.import_page,
            self.locks_page,
            self.held_page,
        )
        self.hr_tabs = QTabWidget()  # the HR office's setup, one tab per task
        for page, title in zip(
            self.hr_pages,
            ("Roster", "Shifts", "Groups", "Holidays && leave", "Import log", "Month locks", "Held"),
            strict=True,
        ):  # "&&": a tab's "&" marks a shortcut
            self.hr_tabs.addTab(page, title)
        self.tabs = QTabWidget()
        for view, title in (
            (self.today_view, "Today"),
            (self.timesheet_view, "Timesheet"),
            (self.history_view, "History"),
            (self.charts_view, "Charts"),
            (self.audit_view, "Audit"),
            (sightings, "Sightings"),
            (self.hr_tabs, "HR"),
        ):
            self.tabs.addTab(view, title)
        self._missed: dict[QWidget, Changes] = {}  # what each hidden HR page has yet to show
        self.tabs.currentChanged.connect(lambda _: self._refresh_current())
        self.hr_tabs.currentChanged.connect(lambda _: self._deliver_missed())
        self.tabs.currentChanged.connect(lambda _: self._deliver_missed())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(12)
        layout.addWidget(
            panel_header(
                "Attendance",
                "Who is present, late or absent today; timesheets, history, "
                "charts and the audit log of every correction; HR: roster, shifts, groups, "
                "holidays and leave, log import and month locks.",
            )
        )
        layout.addWidget(self.tabs, 1)

        self.start_edit.dateChanged.connect(self._start_changed)
        self.end_edit.dateChanged.connect(self._end_changed)
        self.today_button.clicked.connect(lambda: self.show_today())
        self.export_button.clicked.connect(lambda: self.export())
        self.refresh()

    # ---- range ----

    def date_range(self) -> tuple[date, date]:
        return _pydate(self.start_edit.date()), _pydate(self.end_edit.date())

    def set_range(self, start: date, end: date) -> None:
        self.start_edit.blockSignals(True)
        self.end_edit.blockSignals(True)
        self.start_edit.setDate(_qdate(start))
        self.end_edit.setDate(_qdate(end))
        self.start_edit.blockSignals(False)
        self.end_edit.blockSignals(False)
        self.refresh()

    def show_today(self) -> None:
        self.set_range(date.today(), date.today())

    def _start_changed(self, value: QDate) -> None:
        if value > self.end_edit.date():
            self.end_edit.setDate(value)  # refreshes through _end_changed
        else:
            self.refresh()

    def _end_changed(self, value: QDate) -> None:
        if value < self.start_edit.date():
            self.start_edit.setDate(value)
        else:
            self.refresh()

    # ---- table ----

    def refresh(self) -> None:
        start, end = self.date_range()
        if self.engine.reports_from_server:  # an admin station: every kiosk's events, from the server
            self._refresh_in_worker(start, end)
            return
        try:
            rows = self.engine.range_report(start, end)
        except RollcallError as exc:
            rows = []
            self.status_label.refuse(str(exc))
        self._show_rows(rows, start, end)

    def is_refreshing(self) -> bool:
        return self.report.busy()

    def _refresh_in_worker(self, start: date, end: date) -> None:
        if not self.report.may_start():  # read again when this one is back
            return
        self.status_label.setText("Reading the site's attendance…")
        self.report.start(
            Job(self.engine.range_report, start, end, name="attendance report"),
            lambda rows: (self.status_label.setText(""), self._show_rows(rows, start, end)),
            lambda message: (self.status_label.refuse(message), self._show_rows([], start, end)),
        )

    def _show_rows(self, rows: list[DayRow], start: date, end: date) -> None:
        self.rows = rows
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.rows))
        for row, day_row in enumerate(self.rows):
            first, last = day_row.first_seen, day_row.last_seen
            cells = [
                day_row.day.isoformat(),
                day_row.name,
                day_row.external_id or "",
                first.strftime("%H:%M:%S"),
                last.strftime("%H:%M:%S"),
                str(day_row.events),
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, day_row.person_id)
                if column == 5:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self.table.setSortingEnabled(True)
        self._presence_stale = not self.isVisible()  # counted by the rules: not while recognising behind it
        self.summary_label.setText("" if self._presence_stale else self.presence_text(start, end))

    def sighting_at(self, row: int, column: int) -> tuple[int, datetime] | None:
        """The person and moment of a First seen or Last seen cell (None elsewhere)."""
        item = self.table.item(row, 1)
        if item is None or column not in (3, 4):
            return None
        name, day = item.text(), self.table.item(row, 0)
        found = next((r for r in self.rows if r.name == name and day and r.day.isoformat() == day.text()), None)
        return None if found is None else (found.person_id, found.first_seen if column == 3 else found.last_seen)

    def presence_text(self, start: date, end: date) -> str:
        """Present by the rules (as Today and the timesheet count, manual punches included); the table below
        lists only what cameras and terminals recorded."""
        days = (
            "today"
            if start == end == date.today()
            else (f"on {start:%d %b %Y}" if start == end else f"from {start:%d %b %Y} to {end:%d %b %Y}")
        )
        seen = {r.person_id for r in self.rows}
        try:
            presence = self.engine.presence(start, end)
        except RollcallError:  # too many days to count by the rules: the sightings alone
            return f"{plural(len(seen), 'person')} seen {days}"
        text = f"{plural(presence.count, 'person')} present {days}"
        extra = len(presence.present - seen)
        if extra:
            text += f" ({extra} by a manual punch or a correction, so not in the sightings below)"
        return text

    def names(self) -> list[str]:
        return [r.name for r in self.rows]

    def show_view(self, view: QWidget) -> QWidget:
        """The tab holding the view (an HR page inside the HR tab), refreshed; returns the view."""
        tab = view
        if view in self.hr_pages:
            self.hr_tabs.setCurrentWidget(view)
            tab = self.hr_tabs
        self.tabs.setCurrentWidget(tab)
        self._refresh_current()
        return view

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if getattr(self, "_presence_stale", False):
            self._presence_stale = False
            self.summary_label.setText(self.presence_text(*self.date_range()))
        self._deliver_missed()
        self._refresh_current()

    def _refresh_current(self) -> None:
        """Only the visible HR view is recomputed, and only while the panel shows (a month is not free)."""
        if not self.isVisible():
            return
        view = self.tabs.currentWidget()
        if view is self.history_view:
            self.history_view.reload_people()
        elif view is self.today_view:
            self.today_view.reload_groups()
        elif view in (self.timesheet_view, self.charts_view, self.audit_view):
            view.refresh()

    def on_changes(self, changes: Changes) -> None:
        """New events, corrections, schedules, or people renamed or deleted: the views show them all."""
        if changes.touches(ChangeKind.EVENTS, ChangeKind.PEOPLE, ChangeKind.CORRECTIONS, ChangeKind.SCHEDULES):
            self.refresh()  # the present count follows manual punches and schedules too
        if changes_matter(changes):
            self._refresh_current()
        for page in self.hr_pages:  # each knows the kinds it shows; a hidden page catches up when shown
            self._missed[page] = self._missed.get(page, Changes()) | changes
        self._deliver_missed()

    def _deliver_missed(self) -> None:
        """Changes reach the HR page on screen now, the others when they are shown: pages nobody sees
        do not read the database on the GUI thread after every edit."""
        for page in self.hr_pages:
            if page.isVisible() and page in self._missed:
                page.on_changes(self._missed.pop(page))

    # ---- export ----

    def export(self, path: str | None = None) -> None:
        start, end = self.date_range()
        if path is None:
            suggested = f"attendance-{start.isoformat()}" + (f"-to-{end.isoformat()}" if end != start else "") + ".csv"
            path = save_file(self, "Export attendance", suggested, "CSV files (*.csv)")
        if not path:
            return
        if not path.lower().endswith(".csv"):
            path += ".csv"
        try:
            count = self.engine.export_csv(path, start, end)
        except (RollcallError, OSError) as exc:
            show_error(self, f"Could not export: {exc}" if isinstance(exc, OSError) else str(exc))
            return
        self.status_label.setText(f"Exported {count} events to {path}")
