"""History: one person's days over a range, newest first."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from core.app.engine import Engine
from core.attendance.timesheet import hours_text
from core.base.errors import RollcallError

from ..text import plural
from ..widgets import hbox
from .common import DAY_COLUMNS, NOBODY_ENROLLED, date_edit, fill_day_rows, pydate, read_only_table
from .today import sighted_seconds


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
        layout.addLayout(
            hbox(QLabel("Person"), self.person_box, QLabel("From"), self.start_edit, QLabel("to"), self.end_edit, None)
        )
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
        first, last = pydate(self.start_edit.date()), pydate(self.end_edit.date())
        try:
            days = self.engine.person_history(person_id, first, last)
            sighted = sighted_seconds(self.engine, first - timedelta(days=1), last + timedelta(days=1))
        except RollcallError as exc:
            self.table.setRowCount(0)
            self.summary_label.setText(str(exc))
            return
        fill_day_rows(self.table, list(reversed(days)), "day", sighted)
        attended = sum(1 for d in days if d.status.attended)
        late = sum(1 for d in days if d.late_minutes)
        self.summary_label.setText(
            f"{plural(attended, 'day')} attended, {late} late, {hours_text(sum(d.hours for d in days))} hours"
        )
