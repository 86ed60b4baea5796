"""Groups: make a group with its schedule, give it a default shift, and choose its members."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidgetItem,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine
from core.base.errors import RollcallError
from core.base.timekeeping import Group

from ..attendance.common import date_edit, pydate, read_only_table
from ..text import plural
from ..widgets import hbox
from .common import WrapRow, fill_people, fill_shifts, kiosk_only, message_line, minutes_spin, overview_height
from .edit_dialogs import FormDialog, group_dialog, open_dialog, remove_dialog

COLUMNS = ["Group", "Schedule", "Default shift", "Members"]
OWN_SCHEDULE = "(its own schedule)"


def schedule_text(group: Group) -> str:
    s = group.schedule
    grace = f", {s.grace_minutes} min grace" if s.grace_minutes else ""
    return f"{s.start:%H:%M}–{s.end:%H:%M} {s.days_text()}{grace}"


class GroupsPage(QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.groups: list[Group] = []
        self.table = read_only_table(COLUMNS, stretch=1)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. Office, Warehouse night")
        self.start_edit = QTimeEdit()
        self.end_edit = QTimeEdit()
        for edit, hour in ((self.start_edit, 9), (self.end_edit, 17)):
            edit.setDisplayFormat("HH:mm")
            edit.setTime(edit.time().fromString(f"{hour:02d}:00", "HH:mm"))
        self.grace_spin = minutes_spin(240)
        self.days_edit = QLineEdit("mon-fri")
        self.min_hours_spin = QDoubleSpinBox()
        self.min_hours_spin.setRange(0, 24)
        self.min_hours_spin.setSuffix(" h")
        self.add_button = QPushButton("Add group")
        self.add_button.setProperty("primary", True)
        new_box = QGroupBox("New group")
        form = QFormLayout(new_box)
        form.addRow("Name", self.name_edit)
        form.addRow("Start", self.start_edit)
        form.addRow("End", self.end_edit)
        self.end_edit.setToolTip("At or before the start: the day ends after midnight")
        form.addRow("Late grace", self.grace_spin)
        form.addRow("Working days", self.days_edit)
        form.addRow("Minimum hours", self.min_hours_spin)
        form.addRow(self.add_button)

        self.shift_box = QComboBox()
        self.shift_button = QPushButton("Set default shift")
        self.members_list = QListWidget()
        self.person_box = QComboBox()
        self.join_button = QPushButton("Add to group")
        self.leave_button = QPushButton("Remove from group")
        self.from_check = QCheckBox("From")
        self.from_check.setToolTip(
            "Changes apply from a day: today unless you choose one (a group's first shift and a person's first "
            "group apply from the start). Earlier days keep what they had; a locked month cannot change."
        )
        self.from_edit = date_edit(engine.site_today())
        self.from_edit.setEnabled(False)
        self.from_check.toggled.connect(self.from_edit.setEnabled)
        self.edit_button = QPushButton("Edit…")
        self.remove_button = QPushButton("Remove…")
        self.dialog: FormDialog | None = None
        edit_box = QGroupBox("Selected group")
        edit_layout = QVBoxLayout(edit_box)
        edit_layout.addLayout(hbox(self.edit_button, self.remove_button, self.from_check, self.from_edit, None))
        edit_layout.addLayout(hbox(QLabel("Default shift"), self.shift_box, self.shift_button, None))
        edit_layout.addWidget(QLabel("Members"))
        edit_layout.addWidget(self.members_list, 1)
        edit_layout.addLayout(hbox(self.person_box, self.join_button, self.leave_button, None))
        self.message_label = message_line()

        layout = QVBoxLayout(self)
        overview_height(self.table)  # a few rows at least; the forms below stay on a 720-pixel screen
        layout.addWidget(self.table)
        layout.addWidget(WrapRow(new_box, edit_box))
        layout.insertWidget(0, self.message_label)  # at the top, where one looks
        layout.addStretch(1)
        self.add_button.clicked.connect(lambda: self.add_group())
        self.shift_button.clicked.connect(lambda: self.set_shift())
        self.join_button.clicked.connect(lambda: self.set_member(self.person_box.currentData(), True))
        self.leave_button.clicked.connect(lambda: self.set_member(self.selected_member(), False))
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.edit_button.clicked.connect(lambda: self.edit_group())
        self.remove_button.clicked.connect(lambda: self.remove_group())
        self.refresh()

    def selected_group(self) -> Group | None:
        rows = self.table.selectionModel().selectedRows()
        return self.groups[rows[0].row()] if rows else None

    def select_group(self, name: str) -> None:
        for row, group in enumerate(self.groups):
            if group.name == name:
                self.table.selectRow(row)

    def selected_member(self) -> int | None:
        item = self.members_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def refresh(self) -> None:
        kiosk_only(
            self.engine,
            self.add_button,
            self.shift_button,
            self.join_button,
            self.leave_button,
            self.edit_button,
            self.remove_button,
        )
        chosen = self.selected_group()
        self.groups = self.engine.groups()
        shifts = {s.id: s.name for s in self.engine.shifts()}
        today = self.engine.site_today()
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.groups))
        for row, group in enumerate(self.groups):
            members = len(self.engine.roster(today, today, group.name))
            shift = shifts[group.shift_id] if group.shift_id in shifts else OWN_SCHEDULE
            cells = [group.name, schedule_text(group), shift, plural(members, "person")]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        fill_shifts(self.shift_box, self.engine, OWN_SCHEDULE)
        fill_people(self.person_box, self.engine)
        if chosen is not None:
            self.select_group(chosen.name)
        self._show_selected()

    def _show_selected(self) -> None:
        group = self.selected_group()
        self.members_list.clear()
        for widget in (
            self.shift_box,
            self.shift_button,
            self.join_button,
            self.leave_button,
            self.members_list,
            self.edit_button,
            self.remove_button,
        ):
            widget.setEnabled(group is not None and self.engine.hr_edits_allowed)
        if group is None:
            return
        self.shift_box.setCurrentIndex(max(self.shift_box.findData(group.shift_id), 0))
        today = self.engine.site_today()
        for day in self.engine.roster(today, today, group.name):
            item = QListWidgetItem(day.name)
            item.setData(Qt.ItemDataRole.UserRole, day.person_id)
            self.members_list.addItem(item)

    def _run(self, operation: Callable[..., object], *args: object) -> bool:
        try:
            operation(*args)
        except RollcallError as exc:
            self.message_label.refuse(str(exc))
            return False
        return True

    def add_group(self) -> None:
        name = self.name_edit.text().strip()
        if not name:
            self.message_label.refuse("A group needs a name.")
            return
        if self._run(
            self.engine.add_group,
            name,
            self.start_edit.time().toString("HH:mm"),
            self.end_edit.time().toString("HH:mm"),
            self.grace_spin.value(),
            self.days_edit.text(),
            self.min_hours_spin.value(),
        ):
            self.name_edit.clear()
            self.message_label.setText(f"Group {name} added.")
            self.select_group(name)

    def since(self) -> date | None:
        return pydate(self.from_edit.date()) if self.from_check.isChecked() else None

    def _applied_from(self) -> str:
        applied = self.engine.audit_log(1)[0].details.get("from")
        return f" from {date.fromisoformat(applied):%a %d %b %Y}" if applied else ", on every day"

    def set_shift(self) -> None:
        group = self.selected_group()
        shift_id = self.shift_box.currentData()
        if group is not None and self._run(self.engine.set_group_shift, group.id, shift_id, None, self.since()):
            self.message_label.setText(f"{group.name} works {self.shift_box.currentText()}{self._applied_from()}.")

    def set_member(self, person_id: int | None, join: bool) -> None:
        group = self.selected_group()
        if group is None or person_id is None:
            return
        if self._run(self.engine.assign_group, person_id, group.id if join else None, None, self.since()):
            text = ("Added to " if join else "Removed from ") + group.name
            self.message_label.setText(text + self._applied_from() + ".")

    def edit_group(self) -> FormDialog | None:
        group = self.selected_group()
        if group is None:
            return None
        self.dialog = open_dialog(group_dialog(self.engine, group, self))
        return self.dialog

    def remove_group(self) -> FormDialog | None:
        group = self.selected_group()
        if group is None:
            return None
        text = (
            f"Remove the group {group.name}? Only a group nobody is or was in can go; to correct its name, "
            "use Edit instead."
        )
        self.dialog = open_dialog(
            remove_dialog(f"Remove group {group.name}", text, lambda: self.engine.remove_group(group.id), self)
        )
        return self.dialog

    def on_changes(self, changes: Changes) -> None:
        if changes.touches(ChangeKind.SCHEDULES, ChangeKind.PEOPLE):
            self.refresh()
