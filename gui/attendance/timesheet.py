"""Timesheet: a month's person x day grid with its totals; export, and lock or unlock the month."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from core.app.engine import Engine
from core.attendance.timesheet import STATUS_CODES, Timesheet, cell_text, hours_text
from core.base.errors import RollcallError

from ..dialogs import show_error
from ..files import save_file
from ..widgets import hbox, styled_label
from .common import STATUS_COLORS, STATUS_LABELS, admin_only, date_edit, month_text
from .frozen import FrozenColumnTableView
from .locking import ReasonDialog, lock_or_unlock
from .why import WhyDialog, open_why

DAY_COLUMN_WIDTH = 52
CELL_PADDING = 12  # pixels beside a cell's text, so it reads whole
AnyIndex = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the table's (invisible) root


class TimesheetModel(QAbstractTableModel):
    """A month's person x day grid (a model, not items: 1,000 people x 31 days stay quick)."""

    LEAD = ["Name", "Group"]
    TOTALS = ["Attended", "Late", "Absent", "Leave", "Half days", "Hours"]

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.sheet: Timesheet | None = None

    def set_sheet(self, sheet: Timesheet) -> None:
        self.beginResetModel()
        self.sheet = sheet
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = ROOT) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() or self.sheet is None else len(self.sheet.rows)

    def columnCount(self, parent: AnyIndex = ROOT) -> int:  # noqa: N802
        return 0 if parent.isValid() or self.sheet is None else len(self.LEAD) + len(self.sheet.days) + len(self.TOTALS)

    def total_columns(self) -> range:
        return range(self.columnCount() - len(self.TOTALS), self.columnCount())

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,  # noqa: N802
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> object:
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal or self.sheet is None:
            return None
        days = len(self.sheet.days)
        if section < len(self.LEAD):
            return self.LEAD[section]
        if section < len(self.LEAD) + days:
            day = self.sheet.days[section - len(self.LEAD)]
            return f"{day.day}\n{day:%a}"
        return self.TOTALS[section - len(self.LEAD) - days]

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
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
                shift = f" ({person_day.shift})" if person_day.shift else ""
                return f"{row.name}, {person_day.day:%a %d %b}{shift}: {STATUS_LABELS[person_day.status]}{late}"
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
        totals = [str(t.attended), str(t.late), str(t.absent), str(t.on_leave), str(t.half_days), hours_text(t.hours)]
        return totals[day_index - days]


class TimesheetView(QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.month_edit = date_edit(engine.site_today().replace(day=1), "MMMM yyyy")
        self.export_xlsx_button = QPushButton("Export XLSX…")
        self.export_xlsx_button.setProperty("primary", True)
        self.export_csv_button = QPushButton("Export CSV…")
        self.lock_button = QPushButton("Lock month…")
        self.lock_button.setToolTip("Make the month's timesheet final: punches and corrections in it are refused")
        admin_only(engine, self.lock_button)
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("summary")
        legend = " · ".join(f"{code} {STATUS_LABELS[status].lower()}" for status, code in STATUS_CODES.items() if code)
        blank = [STATUS_LABELS[status].lower() for status, code in STATUS_CODES.items() if not code]
        legend += f" · blank: {' or '.join(blank)} · hours as h:mm (7:49 is 7 hours 49 minutes)"
        self.legend_label = styled_label(legend)
        self.model = TimesheetModel(self)
        self.table = FrozenColumnTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setDefaultSectionSize(DAY_COLUMN_WIDTH)
        self.table.setShowGrid(True)
        layout = QVBoxLayout(self)
        layout.addLayout(
            hbox(
                QLabel("Month"),
                self.month_edit,
                None,
                self.lock_button,
                self.export_csv_button,
                self.export_xlsx_button,
            )
        )
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.legend_label)
        self.month_edit.dateChanged.connect(lambda _: self.refresh())
        self.export_xlsx_button.clicked.connect(lambda: self.export("xlsx"))
        self.export_csv_button.clicked.connect(lambda: self.export("csv"))
        self.lock_button.clicked.connect(lambda: self.toggle_lock())
        self.table.doubleClicked.connect(lambda index: self.open_why(index.row(), index.column()))
        self.table.setToolTip("Double-click a day to see why it has its status")
        self.lock_dialog: ReasonDialog | None = None

    def month(self) -> str:
        return month_text(self.month_edit)

    def refresh(self) -> None:
        admin_only(self.engine, self.lock_button)
        try:
            sheet = self.engine.timesheet(self.month())
        except RollcallError as exc:
            self.summary_label.setText(str(exc))
            return
        self.model.set_sheet(sheet)
        for column in (0, 1, *self.model.total_columns()):  # whole words in the lead and total headers
            self.table.resizeColumnToContents(column)
        texts = {cell_text(day) for row in sheet.rows for day in row.days} | {"Wed"}
        metrics = self.table.fontMetrics()
        width = max(DAY_COLUMN_WIDTH, max(metrics.horizontalAdvance(text) for text in texts) + CELL_PADDING)
        for column in range(len(self.model.LEAD), len(self.model.LEAD) + len(sheet.days)):  # "E 8.1 Late", whole
            self.table.setColumnWidth(column, width)
        lock = "  ·  locked (final)" if sheet.locked else ""
        if sheet.differs_from_snapshot:  # payroll still sees what was locked; someone changed the facts behind it
            lock += f"  ·  {len(sheet.differs_from_snapshot)} would compute differently now: shown as locked"
        hours = sum(r.totals.hours for r in sheet.rows)
        people = "1 person" if len(sheet.rows) == 1 else f"{len(sheet.rows)} people"
        self.summary_label.setText(f"{sheet.month:%B %Y}: {people}, {hours_text(hours)} hours{lock}")
        self.lock_button.setText("Unlock month…" if sheet.locked else "Lock month…")

    def open_why(self, row: int, column: int) -> WhyDialog | None:
        """Why? for the person and day of a grid cell (a name or total cell opens nothing)."""
        sheet = self.model.sheet
        day_index = column - len(self.model.LEAD)
        if sheet is None or not 0 <= row < len(sheet.rows) or not 0 <= day_index < len(sheet.days):
            return None
        return open_why(self.engine, sheet.rows[row].person_id, sheet.days[day_index], self)

    def export(self, kind: str, path: str | None = None) -> None:
        if path is None:
            path = save_file(
                self, "Export timesheet", f"timesheet-{self.month()}.{kind}", f"{kind.upper()} files (*.{kind})"
            )
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

    def toggle_lock(self) -> ReasonDialog:
        """Asks first: names the consequence and requires a reason (the dialog stays as `lock_dialog`)."""
        self.lock_dialog = lock_or_unlock(self.engine, self.month(), self)
        return self.lock_dialog
