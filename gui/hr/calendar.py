"""Holidays and leave: this year's list, a day off for the whole site (or a group), a person's leave over a range."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine
from core.base.errors import RollcallError

from ..attendance.common import date_edit, pydate, read_only_table
from ..widgets import hbox
from .common import WrapRow, fill_people, kiosk_only, message_line, overview_height
from .edit_dialogs import FormDialog, day_text, holiday_dialog, leave_dialog, open_dialog, remove_dialog

HOLIDAY, LEAVE = "holiday", "leave"


class CalendarPage(QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        today = engine.site_today()
        self.holiday_day = date_edit(today)
        self.holiday_name = QLineEdit()
        self.holiday_name.setPlaceholderText("e.g. New Year's Day")
        self.holiday_group = QComboBox()
        self.holiday_button = QPushButton("Add holiday")
        holiday_box = QGroupBox("Holiday")
        form = QFormLayout(holiday_box)
        form.addRow("Day", self.holiday_day)
        form.addRow("Name", self.holiday_name)
        form.addRow("For", self.holiday_group)
        form.addRow(self.holiday_button)

        self.leave_person = QComboBox()
        self.leave_first, self.leave_last = date_edit(today), date_edit(today)
        self.leave_reason = QLineEdit()
        self.leave_reason.setPlaceholderText("Required: annual leave, sick, training…")
        self.leave_button = QPushButton("Add leave")
        leave_box = QGroupBox("Leave")
        leave_form = QFormLayout(leave_box)
        leave_form.addRow("Person", self.leave_person)
        leave_form.addRow("From", self.leave_first)
        leave_form.addRow("To (inclusive)", self.leave_last)
        leave_form.addRow("Reason", self.leave_reason)
        leave_form.addRow(self.leave_button)
        self.message_label = message_line()
        self.table = read_only_table(["When", "What", "For"], stretch=2)
        overview_height(self.table)  # a few rows at least; the forms below stay on a 720-pixel screen
        self.list_box = QGroupBox()
        list_layout = QVBoxLayout(self.list_box)
        list_layout.addWidget(self.table)
        self.edit_button = QPushButton("Edit…")
        self.remove_button = QPushButton("Remove…")
        list_layout.addLayout(hbox(self.edit_button, self.remove_button, None))
        self.dialog: FormDialog | None = None

        layout = QVBoxLayout(self)
        layout.addWidget(self.list_box)
        layout.addWidget(WrapRow(holiday_box, leave_box))
        layout.insertWidget(0, self.message_label)  # at the top, where one looks
        layout.addStretch(1)
        self.holiday_button.clicked.connect(lambda: self.add_holiday())
        self.leave_button.clicked.connect(lambda: self.add_leave())
        self.edit_button.clicked.connect(lambda: self.edit_selected())
        self.remove_button.clicked.connect(lambda: self.remove_selected())
        self.refresh()

    def refresh(self) -> None:
        kiosk_only(self.engine, self.holiday_button, self.leave_button, self.edit_button, self.remove_button)
        current = self.holiday_group.currentData()
        self.holiday_group.clear()
        self.holiday_group.addItem("The whole site", None)
        for group in self.engine.groups():
            self.holiday_group.addItem(f"Group {group.name}", group.id)
        self.holiday_group.setCurrentIndex(max(self.holiday_group.findData(current), 0))
        fill_people(self.leave_person, self.engine)
        self.fill_list()

    def fill_list(self) -> None:
        """This calendar year's holidays and leave, by first day."""
        year = self.engine.site_today().year
        start, end = date(year, 1, 1), date(year, 12, 31)
        self.list_box.setTitle(f"Holidays and leave in {year}")
        groups = {g.id: g.name for g in self.engine.groups()}
        names = {o.person.id: o.person.name for o in self.engine.people(include_inactive=True)}
        rows = [
            (
                h.day,
                (HOLIDAY, h),
                h.day.strftime("%a %d %b"),
                f"Holiday: {h.name}",
                f"Group {groups.get(h.group_id, h.group_id)}" if h.group_id else "The whole site",
            )
            for h in self.engine.holidays_between(start, end)
        ]
        rows += [
            (
                item.first_day,
                (LEAVE, item),
                f"{item.first_day:%d %b} to {item.last_day:%d %b}",
                f"Leave: {item.reason}",
                names.get(item.person_id, f"person {item.person_id}"),
            )
            for item in self.engine.leave_between(start, end)
        ]
        self.table.setRowCount(0)
        for row, (_, entry, *cells) in enumerate(sorted(rows, key=lambda r: r[0])):
            self.table.insertRow(row)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, entry)
                self.table.setItem(row, column, item)

    def selected(self) -> tuple[str, object] | None:
        """The (kind, holiday or leave) of the selected row."""
        item = self.table.item(self.table.currentRow(), 0) if self.table.currentRow() >= 0 else None
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def edit_selected(self) -> FormDialog | None:
        chosen = self.selected()
        if chosen is None:
            self.message_label.setText("Choose a holiday or leave in the list first.")
            return None
        kind, entry = chosen
        make = holiday_dialog if kind == HOLIDAY else leave_dialog
        self.dialog = open_dialog(make(self.engine, entry, self))
        return self.dialog

    def remove_selected(self) -> FormDialog | None:
        chosen = self.selected()
        if chosen is None:
            self.message_label.setText("Choose a holiday or leave in the list first.")
            return None
        kind, entry = chosen
        if kind == HOLIDAY:
            text = f"Remove the holiday {entry.name} on {day_text(entry.day)}? That day becomes a working day again."
            act = lambda: self.engine.remove_holiday(entry.id)  # noqa: E731
        else:
            names = {o.person.id: o.person.name for o in self.engine.people(include_inactive=True)}
            who = names.get(entry.person_id, "this person")
            text = (
                f"Remove {who}'s leave from {day_text(entry.first_day)} to {day_text(entry.last_day)} "
                "(cancelled, or entered by mistake)? Those days count as working days again."
            )
            act = lambda: self.engine.remove_leave(entry.id, "removed in the window")  # noqa: E731
        self.dialog = open_dialog(remove_dialog(f"Remove {kind}", text, act, self))
        return self.dialog

    def add_holiday(self) -> None:
        day = pydate(self.holiday_day.date())
        name = self.holiday_name.text().strip() or "Holiday"
        try:
            self.engine.add_holiday(day, name, self.holiday_group.currentData())
        except RollcallError as exc:
            self.message_label.refuse(str(exc))
            return
        self.message_label.setText(f"{name} on {day:%a %d %b %Y} added for {self.holiday_group.currentText().lower()}.")

    def add_leave(self) -> None:
        person_id = self.leave_person.currentData()
        first, last = pydate(self.leave_first.date()), pydate(self.leave_last.date())
        if person_id is None:
            return
        try:
            self.engine.add_leave(person_id, first, last, self.leave_reason.text())
        except RollcallError as exc:
            self.message_label.refuse(str(exc))
            return
        self.leave_reason.clear()
        who = self.leave_person.currentText()
        self.message_label.setText(f"Leave for {who} from {first:%d %b} to {last:%d %b %Y}.")

    def on_changes(self, changes: Changes) -> None:
        if changes.touches(ChangeKind.SCHEDULES, ChangeKind.PEOPLE):
            self.refresh()
