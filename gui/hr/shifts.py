"""Shifts: the shift types (start, end, days, graces, check-in and check-out windows, half-day and absent hours,
how hours are counted) and dated assignments of a person to a shift."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine
from core.base.errors import RollcallError
from core.base.timekeeping import HoursMode, Shift, ShiftAssignment

from ..attendance.common import date_edit, pydate, read_only_table
from ..widgets import hbox
from .common import (
    OVERVIEW_HEIGHT,
    WrapRow,
    fill_people,
    fill_shifts,
    kiosk_only,
    message_line,
    minutes_spin,
    overview_height,
)
from .edit_dialogs import FormDialog, assignment_dialog, open_dialog, remove_dialog, shift_dialog

COLUMNS = [
    "Shift",
    "Hours",
    "Days",
    "Late grace",
    "Early grace",
    "Check-in from",
    "Check-out until",
    "Half day below",
    "Absent below",
    "Counted",
]
HOURS_MODE_TEXT = {
    HoursMode.FIRST_LAST: "first to last sighting",
    HoursMode.PAIRS: "in and out pairs (breaks left out)",
}
AUTO = "auto"  # a window of None: half the off-duty gap


def hours_spin() -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0, 24)
    spin.setSingleStep(0.5)
    spin.setSuffix(" h")
    spin.setSpecialValueText("never")
    return spin


def window_text(minutes: int | None, side: str) -> str:
    return AUTO if minutes is None else f"{minutes} min {side}"


def shift_cells(shift: Shift) -> list[str]:
    s = shift.schedule
    return [
        shift.name,
        f"{s.start:%H:%M}–{s.end:%H:%M}",
        s.days_text(),
        f"{s.grace_minutes} min",
        f"{s.early_grace} min",
        window_text(s.checkin_before_minutes, "before"),
        window_text(s.checkout_after_minutes, "after"),
        f"{s.half_day_below:g} h" if s.half_day_below else "never",
        f"{s.absent_below:g} h" if s.absent_below else "never",
        HOURS_MODE_TEXT[s.hours_mode],
    ]


class ShiftsPage(QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.table = read_only_table(COLUMNS, stretch=None)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("its code in rosters: Day, Night, E…")
        self.start_edit, self.end_edit = QTimeEdit(), QTimeEdit()
        for edit, text in ((self.start_edit, "08:00"), (self.end_edit, "16:00")):
            edit.setDisplayFormat("HH:mm")
            edit.setTime(edit.time().fromString(text, "HH:mm"))
        self.days_edit = QLineEdit("mon-fri")
        self.late_grace = minutes_spin(240)
        self.early_grace = minutes_spin(240, "same as late")
        self.checkin_before = minutes_spin(720, "auto (half the gap)")
        self.checkout_after = minutes_spin(720, "auto (half the gap)")
        self.half_day_below, self.absent_below = hours_spin(), hours_spin()
        self.hours_box = QComboBox()
        for mode, text in HOURS_MODE_TEXT.items():
            self.hours_box.addItem(text, mode)
        self.add_button = QPushButton("Add shift")
        self.add_button.setProperty("primary", True)
        new_box = QGroupBox("New shift")
        form = QFormLayout(new_box)
        form.addRow("Name", self.name_edit)
        form.addRow("Start", self.start_edit)
        form.addRow("End", self.end_edit)
        self.end_edit.setToolTip("At or before the start: a night shift, ending the next day")
        form.addRow("Working days", self.days_edit)
        form.addRow("Late grace", self.late_grace)
        form.addRow("Early-leave grace", self.early_grace)
        form.addRow("Check-in window", self.checkin_before)
        self.checkin_before.setToolTip("How long before the start a sighting counts as this shift's check-in")
        form.addRow("Check-out window", self.checkout_after)
        self.checkout_after.setToolTip("How long after the end a sighting counts as this shift's check-out")
        form.addRow("Half day below", self.half_day_below)
        form.addRow("Absent below", self.absent_below)
        form.addRow("Hours counted", self.hours_box)
        form.addRow(self.add_button)

        self.person_box = QComboBox()
        self.assign_shift_box = QComboBox()
        self.first_edit = date_edit(engine.site_today())
        self.open_ended = QCheckBox("until further notice")
        self.open_ended.setChecked(True)
        self.last_edit = date_edit(engine.site_today())
        self.last_edit.setEnabled(False)
        self.assign_button = QPushButton("Assign")
        assign_box = QGroupBox("Assign a person to a shift")
        assign_box.setToolTip("For a range of dates, over their group's default shift")
        assign_form = QFormLayout(assign_box)
        assign_form.addRow("Person", self.person_box)
        assign_form.addRow("Shift", self.assign_shift_box)
        assign_form.addRow("From", self.first_edit)
        assign_form.addRow("To", hbox(self.last_edit, self.open_ended, None))
        assign_form.addRow(self.assign_button)
        self.message_label = message_line()
        self.edit_button, self.remove_button = QPushButton("Edit shift…"), QPushButton("Remove shift…")
        self.assignments = read_only_table(["Person", "Works", "From", "To"], stretch=0)
        self.assignments.setMaximumHeight(OVERVIEW_HEIGHT // 2 + 40)
        self.edit_assignment_button = QPushButton("Edit assignment…")
        self.remove_assignment_button = QPushButton("Remove assignment…")
        assign_form.addRow(self.assignments)
        assign_form.addRow(hbox(self.edit_assignment_button, self.remove_assignment_button, None))
        self.shown_assignments: list[ShiftAssignment] = []
        self.dialog: FormDialog | None = None

        layout = QVBoxLayout(self)
        overview_height(self.table)  # a few rows at least; the forms below stay on a 720-pixel screen
        layout.addWidget(self.table)
        layout.addLayout(hbox(self.edit_button, self.remove_button, None))
        layout.addWidget(WrapRow(new_box, assign_box))
        layout.insertWidget(0, self.message_label)  # at the top, where one looks
        layout.addStretch(1)
        self.open_ended.toggled.connect(lambda on: self.last_edit.setEnabled(not on))
        self.add_button.clicked.connect(lambda: self.add_shift())
        self.assign_button.clicked.connect(lambda: self.assign())
        self.edit_button.clicked.connect(lambda: self.edit_shift())
        self.remove_button.clicked.connect(lambda: self.remove_shift())
        self.edit_assignment_button.clicked.connect(lambda: self.edit_assignment())
        self.remove_assignment_button.clicked.connect(lambda: self.remove_assignment())
        self.refresh()

    def refresh(self) -> None:
        kiosk_only(
            self.engine,
            self.add_button,
            self.assign_button,
            self.edit_button,
            self.remove_button,
            self.edit_assignment_button,
            self.remove_assignment_button,
        )
        shifts = self.engine.shifts()
        self.shown_shifts = shifts
        self.table.setRowCount(len(shifts))
        for row, shift in enumerate(shifts):
            for column, text in enumerate(shift_cells(shift)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        fill_shifts(self.assign_shift_box, self.engine)
        fill_people(self.person_box, self.engine)
        names = {o.person.id: o.person.name for o in self.engine.people(include_inactive=True)}
        codes = {shift.id: shift.name for shift in shifts}
        self.shown_assignments = self.engine.shift_assignments()
        self.assignments.setRowCount(len(self.shown_assignments))
        for row, a in enumerate(self.shown_assignments):
            cells = [
                names.get(a.person_id, ""),
                codes.get(a.shift_id, "") if a.shift_id is not None else "off",
                f"{a.first_day:%d %b %Y}",
                f"{a.last_day:%d %b %Y}" if a.last_day else "further notice",
            ]
            for column, text in enumerate(cells):
                self.assignments.setItem(row, column, QTableWidgetItem(text))

    def selected_shift(self) -> Shift | None:
        row = self.table.currentRow()
        return self.shown_shifts[row] if 0 <= row < len(self.shown_shifts) else None

    def selected_assignment(self) -> ShiftAssignment | None:
        row = self.assignments.currentRow()
        return self.shown_assignments[row] if 0 <= row < len(self.shown_assignments) else None

    def edit_shift(self) -> FormDialog | None:
        shift = self.selected_shift()
        if shift is None:
            self.message_label.setText("Choose a shift in the list first.")
            return None
        self.dialog = open_dialog(shift_dialog(self.engine, shift, self))
        return self.dialog

    def remove_shift(self) -> FormDialog | None:
        shift = self.selected_shift()
        if shift is None:
            self.message_label.setText("Choose a shift in the list first.")
            return None
        text = f"Remove the shift {shift.name}? Only a shift no group, assignment or rotation uses can go."
        act = lambda: self.engine.remove_shift(shift.id)  # noqa: E731
        self.dialog = open_dialog(remove_dialog(f"Remove shift {shift.name}", text, act, self))
        return self.dialog

    def edit_assignment(self) -> FormDialog | None:
        assignment = self.selected_assignment()
        if assignment is None:
            self.message_label.setText("Choose an assignment in the list first.")
            return None
        self.dialog = open_dialog(assignment_dialog(self.engine, assignment, self))
        return self.dialog

    def remove_assignment(self) -> FormDialog | None:
        assignment = self.selected_assignment()
        if assignment is None:
            self.message_label.setText("Choose an assignment in the list first.")
            return None
        text = "Remove this dated assignment? Those days go back to the person's rotation or group shift."
        act = lambda: self.engine.remove_assignment(assignment.id)  # noqa: E731
        self.dialog = open_dialog(remove_dialog("Remove assignment", text, act, self))
        return self.dialog

    @staticmethod
    def _optional(spin: QSpinBox) -> int | None:
        return None if spin.value() < 0 else spin.value()

    def add_shift(self) -> Shift | None:
        name = self.name_edit.text().strip()
        if not name:
            self.message_label.refuse("A shift needs a name: it is its code in the roster.")
            return None
        try:
            shift = self.engine.add_shift(
                name,
                self.start_edit.time().toString("HH:mm"),
                self.end_edit.time().toString("HH:mm"),
                self.days_edit.text(),
                self.late_grace.value(),
                self._optional(self.early_grace),
                self._optional(self.checkin_before),
                self._optional(self.checkout_after),
                self.half_day_below.value(),
                self.absent_below.value(),
                self.hours_box.currentData(),
            ).value
        except RollcallError as exc:
            self.message_label.refuse(str(exc))
            return None
        self.name_edit.clear()
        self.message_label.setText(f"Shift {shift.name} added.")
        return shift

    def assign(self) -> None:
        person_id, shift_id = self.person_box.currentData(), self.assign_shift_box.currentData()
        if person_id is None or shift_id is None:
            self.message_label.refuse("Choose a person and a shift (add a shift first).")
            return
        last = None if self.open_ended.isChecked() else pydate(self.last_edit.date())
        try:
            self.engine.assign_shift(person_id, shift_id, pydate(self.first_edit.date()), last)
        except RollcallError as exc:
            self.message_label.refuse(str(exc))
            return
        until = f"to {last:%d %b %Y}" if last else "until further notice"
        self.message_label.setText(
            f"{self.person_box.currentText()} works {self.assign_shift_box.currentText()} "
            f"from {pydate(self.first_edit.date()):%d %b %Y} {until}."
        )

    def on_changes(self, changes: Changes) -> None:
        if changes.touches(ChangeKind.SCHEDULES, ChangeKind.PEOPLE):
            self.refresh()
