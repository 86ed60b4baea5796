"""Putting right what HR entered: one dialog per kind (holiday, leave, dated assignment, group, shift type),
and one to confirm a removal. Each runs its Engine operation on OK; a refusal (a locked month, a name taken)
shows in the dialog, which stays open, so nothing typed is lost. Rule changes say the day they apply from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from core.app.engine import Engine
from core.base.errors import InvalidInputError, RollcallError
from core.base.timekeeping import Group, Holiday, Leave, Shift, ShiftAssignment

from ..attendance.common import date_edit, pydate
from ..widgets import hbox, styled_label
from .common import fill_shifts, minutes_spin

FROM_TIP = "Rules change from this day on; earlier days keep the rules they had. A locked month cannot change."


class FormDialog(QDialog):
    """Fields in a form, a note, and an action button that runs `act()`; an error stays in the dialog."""

    def __init__(self, title: str, note: str, action: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(420)
        self.act: Callable[[], object] = lambda: None
        self.fields: dict[str, QWidget] = {}  # by label
        self.note_label = QLabel(note)
        self.note_label.setWordWrap(True)
        self.form = QFormLayout()
        self.message_label = styled_label("", "note")
        self.message_label.setVisible(False)  # shown with a refusal
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.action_button = self.buttons.addButton(action, QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note_label)
        layout.addLayout(self.form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def add(self, label: str, widget: QWidget) -> QWidget:
        self.fields[label] = widget
        self.form.addRow(label, widget)
        return widget

    def accept(self) -> None:
        try:
            self.act()
        except RollcallError as exc:
            self.message_label.setText(str(exc))
            self.message_label.setVisible(True)
            return
        super().accept()


def _time_edit(text: str) -> QTimeEdit:
    edit = QTimeEdit()
    edit.setDisplayFormat("HH:mm")
    edit.setTime(edit.time().fromString(text, "HH:mm"))
    return edit


def holiday_dialog(engine: Engine, holiday: Holiday, parent: QWidget | None = None) -> FormDialog:
    dialog = FormDialog("Edit holiday", "Move or rename the holiday.", "Save", parent)
    day, name = date_edit(holiday.day), QLineEdit(holiday.name)
    dialog.add("Day", day)
    dialog.add("Name", name)
    dialog.act = lambda: engine.edit_holiday(holiday.id, pydate(day.date()), name.text())
    return dialog


def leave_dialog(engine: Engine, leave: Leave, parent: QWidget | None = None) -> FormDialog:
    dialog = FormDialog("Edit leave", "Change the days or the reason of this leave.", "Save", parent)
    first, last, reason = date_edit(leave.first_day), date_edit(leave.last_day), QLineEdit(leave.reason)
    dialog.add("From", first)
    dialog.add("To (inclusive)", last)
    dialog.add("Reason", reason)
    dialog.act = lambda: engine.edit_leave(leave.id, pydate(first.date()), pydate(last.date()), reason.text())
    return dialog


def assignment_dialog(engine: Engine, assignment: ShiftAssignment, parent: QWidget | None = None) -> FormDialog:
    dialog = FormDialog("Edit assignment", "Change the shift or the days of this dated assignment.", "Save", parent)
    shift_box = QComboBox()
    fill_shifts(shift_box, engine, "Off")
    shift_box.setCurrentIndex(max(shift_box.findData(assignment.shift_id), 0))
    first = date_edit(assignment.first_day)
    last = date_edit(assignment.last_day or assignment.first_day)
    open_ended = QCheckBox("until further notice")
    open_ended.setChecked(assignment.last_day is None)
    last.setEnabled(assignment.last_day is not None)
    open_ended.toggled.connect(lambda on: last.setEnabled(not on))
    dialog.add("Shift", shift_box)
    dialog.add("From", first)
    dialog.add("To", hbox(last, open_ended, None))
    dialog.act = lambda: engine.edit_assignment(
        assignment.id, shift_box.currentData(), pydate(first.date()),
        None if open_ended.isChecked() else pydate(last.date()),
    )  # fmt: skip
    return dialog


def schedule_fields(dialog: FormDialog, engine: Engine, name: str, schedule) -> Callable[[], dict]:
    """Name, times, late grace, working days and the day a change applies from, as a group and a shift type
    both have them; the returned function gives the edit's arguments (times only when they changed)."""
    s = schedule
    name_edit, start, end = QLineEdit(name), _time_edit(f"{s.start:%H:%M}"), _time_edit(f"{s.end:%H:%M}")
    grace, days = minutes_spin(240), QLineEdit(s.days_text())
    grace.setValue(s.grace_minutes)
    since = date_edit(engine.site_today())
    since.setToolTip(FROM_TIP)
    for label, widget in (("Name", name_edit), ("Start", start), ("End", end), ("Late grace", grace),
                          ("Working days", days), ("From", since)):  # fmt: skip
        dialog.add(label, widget)

    def changes() -> dict:
        new = (start.time().toString("HH:mm"), end.time().toString("HH:mm"), grace.value(), days.text().strip())
        changed = new != (f"{s.start:%H:%M}", f"{s.end:%H:%M}", s.grace_minutes, s.days_text())
        return {
            "name": name_edit.text(),
            "start": new[0] if changed else None,
            "end": new[1] if changed else None,
            "grace": new[2] if changed else None,
            "days": new[3] if changed else None,
            "from_day": pydate(since.date()) if changed else None,
        }

    return changes


def group_dialog(engine: Engine, group: Group, parent: QWidget | None = None) -> FormDialog:
    dialog = FormDialog(
        f"Edit group {group.name}", "Rename the group, or change its schedule from a day.", "Save", parent
    )
    changes = schedule_fields(dialog, engine, group.name, group.schedule)

    def act() -> None:
        edit = changes()
        engine.edit_group(group.id, grace_minutes=edit.pop("grace"), **edit)

    dialog.act = act
    return dialog


def shift_dialog(engine: Engine, shift: Shift, parent: QWidget | None = None) -> FormDialog:
    dialog = FormDialog(f"Edit shift {shift.name}", "Rename the shift, or change its times from a day.", "Save", parent)
    changes = schedule_fields(dialog, engine, shift.name, shift.schedule)

    def act() -> None:
        edit = changes()
        engine.edit_shift(shift.id, late_grace=edit.pop("grace"), **edit)

    dialog.act = act
    return dialog


def remove_dialog(title: str, consequence: str, act: Callable[[], object], parent: QWidget | None = None) -> FormDialog:
    dialog = FormDialog(title, consequence, "Remove", parent)
    dialog.act = act
    return dialog


def open_dialog(dialog: FormDialog) -> FormDialog:
    dialog.open()
    return dialog


def day_text(day: date) -> str:
    return f"{day:%a %d %b %Y}"


def external_id_dialog(engine: Engine, person_id: int, parent: QWidget | None = None) -> FormDialog:
    """Set, change or clear a person's employee ID (terminal logs and ERPNext match people by it)."""
    person = engine.person(person_id)
    note = (
        f"The employee ID of {person.name}: terminal logs (ZKTeco) and ERPNext or Odoo find people by it. "
        "Each person needs their own; leave it empty to clear it."
    )
    dialog = FormDialog("Employee ID", note, "Save", parent)
    edit = QLineEdit(person.external_id or "")
    dialog.add("Employee ID", edit)
    dialog.act = lambda: engine.set_external_id(person_id, edit.text().strip() or None)
    return dialog


def working_life_dialog(engine: Engine, person_id: int, parent: QWidget | None = None) -> FormDialog:
    """A person's start (joined) and end (left) dates; archiving a leaver keeps their record and timesheets."""
    person, life = engine.person(person_id), engine.working_life(person_id)
    today = engine.site_today()
    note = (
        f"Days before {person.name} joined are not counted; days after they left read “left”. Archiving a leaver "
        "stops recognising them and keeps their record and timesheets. (Delete erases everything about a person, "
        "for the right to be forgotten.) A locked month cannot change."
    )
    dialog = FormDialog(f"Working life of {person.name}", note, "Save", parent)
    joined_check, left_check = QCheckBox("joined on"), QCheckBox("left after")
    joined = date_edit(life.first_day(engine.site_zone()) or today)
    left = date_edit(life.end_day or today)
    joined_check.setChecked(life.start_day is not None)
    left_check.setChecked(life.end_day is not None)
    archive = QCheckBox("Archive: stop recognising them (their timesheets stay)")
    archive.setChecked(not person.active)
    dialog.add("Start", hbox(joined_check, joined, None))
    dialog.add("End", hbox(left_check, left, None))
    dialog.add("Leaver", archive)
    dialog.fields.update(joined=joined, joined_check=joined_check, left=left, left_check=left_check, archive=archive)

    def act() -> None:
        start = pydate(joined.date()) if joined_check.isChecked() else None
        end = pydate(left.date()) if left_check.isChecked() else None
        if archive.isChecked() and end is None:
            raise_input("Give the last working day (left after) to archive a leaver.")
        if archive.isChecked() and person.active:
            engine.set_working_life(person_id, start=start)
            engine.archive_person(person_id, end or today, "archived in the window")
        else:
            engine.set_working_life(person_id, start=start, end=end)

    dialog.act = act
    return dialog


def raise_input(message: str) -> None:
    raise InvalidInputError(message)
