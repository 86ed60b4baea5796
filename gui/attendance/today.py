"""Today: the live day board, every enrolled person's status, with the correction dialog."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QVBoxLayout, QWidget

from core.app.engine import Engine
from core.base.errors import RollcallError
from core.base.timekeeping import PersonDay

from ..correction_dialog import CorrectionDialog
from ..widgets import hbox
from .common import (
    BOARD_REFRESH_MS,
    DAY_COLUMNS,
    NOBODY_ENROLLED,
    NOBODY_IN_GROUP,
    admin_only,
    date_edit,
    fill_day_rows,
    pydate,
    qdate,
    read_only_table,
    sorted_by_name,
    summary_text,
)
from .evidence_tips import EvidenceTips
from .why import WhyDialog, open_why

ONE_DAY = timedelta(days=1)
FIRST_COLUMN = DAY_COLUMNS.index("First seen")  # then Last seen


def sighted_seconds(engine: Engine, first: date, last: date) -> set[int]:
    """The epoch seconds of the raw events from first to last (what a camera saw, not a manual punch)."""
    seconds: set[int] = set()
    day = first
    while day <= last:
        seconds.update(int(e.time.timestamp()) for e in engine.events_on(day))
        day += ONE_DAY
    return seconds


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
        self.why_button = QPushButton("Why?")
        self.why_button.setToolTip("Why the selected person has this status: shift, sightings with photos, rules")
        admin_only(engine, self.correct_button)
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("summary")
        self.table = sorted_by_name(read_only_table(DAY_COLUMNS))
        layout = QVBoxLayout(self)
        layout.addLayout(
            hbox(
                QLabel("Day"),
                self.day_edit,
                self.today_button,
                QLabel("Group"),
                self.group_box,
                None,
                self.why_button,
                self.correct_button,
            )
        )
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)
        self.day_edit.dateChanged.connect(lambda _: self.refresh())
        self.group_box.currentIndexChanged.connect(lambda _: self.refresh())
        self.today_button.clicked.connect(lambda: self.day_edit.setDate(qdate(self.engine.site_today())))
        self.correct_button.clicked.connect(lambda: self.open_correction())
        self.why_button.clicked.connect(lambda: self.open_why())
        self.table.doubleClicked.connect(lambda _: self.open_correction())
        self.evidence = EvidenceTips(engine, self.table, self.sighting_at)  # the face kept, on hover
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
        day = pydate(self.day_edit.date())
        try:
            self.rows = self.engine.day_board(day, self.group_box.currentData())
            sighted = sighted_seconds(self.engine, day - ONE_DAY, day + ONE_DAY)  # a night shift spans two
        except RollcallError as exc:
            self.rows = []
            self.summary_label.setText(str(exc))
            return
        fill_day_rows(self.table, self.rows, "name", sighted)
        group = self.group_box.currentData()
        self.summary_label.setText(summary_text(self.rows, NOBODY_IN_GROUP if group else NOBODY_ENROLLED))

    def sighting_at(self, row: int, column: int) -> tuple[int, datetime] | None:
        """The person and moment of a First or Last cell (None elsewhere)."""
        item = self.table.item(row, 0)
        if item is None or column not in (FIRST_COLUMN, FIRST_COLUMN + 1):
            return None
        person_id = item.data(Qt.ItemDataRole.UserRole)
        day = next((r for r in self.rows if r.person_id == person_id), None)
        moment = None if day is None else day.first_seen if column == FIRST_COLUMN else day.last_seen
        return (person_id, moment) if moment is not None else None

    def status_of(self, name: str) -> PersonDay | None:
        return next((r for r in self.rows if r.name == name), None)

    def names_shown(self) -> list[str]:
        """The names in the table's order, top to bottom."""
        items = (self.table.item(r, 0) for r in range(self.table.rowCount()))
        return [item.text() for item in items if item is not None]

    def selected_person_id(self) -> int | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def open_why(self) -> WhyDialog | None:
        return open_why(self.engine, self.selected_person_id(), pydate(self.day_edit.date()), self)

    def open_correction(self) -> CorrectionDialog | None:
        dialog = CorrectionDialog(self.engine, pydate(self.day_edit.date()), self.selected_person_id(), self)
        dialog.open()
        return dialog
