"""Roster: who works which shift on each day of a month (person x day, the shift's code), editable by the admin.

An edited cell becomes a dated assignment through the Engine (audited, refused in a locked month); a rotating
pattern ("Day,Day,Night,Night,off,off") is set from a start date the same way."""

from __future__ import annotations

from calendar import monthrange
from datetime import date

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QComboBox, QInputDialog, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine
from core.base.errors import RollcallError
from core.base.timekeeping import OFF, RosterDay, ShiftSource

from ..attendance.common import date_edit, month_text, pydate
from ..attendance.frozen import FrozenColumnTableView
from ..attendance.why import WhyDialog, open_why
from ..widgets import hbox
from .common import fill_people, kiosk_only, message_line
from .edit_dialogs import FormDialog, open_dialog, remove_dialog

DAY_COLUMN_WIDTH = 56
CELL_PADDING = 16  # pixels beside a code, so it reads whole
AnyIndex = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the table's (invisible) root
SOURCE_COLORS = {
    ShiftSource.ASSIGNMENT: "#dbeafe",
    ShiftSource.ROTATION: "#ede9fe",
    ShiftSource.GROUP: "#ffffff",
    ShiftSource.NONE: "#f3f4f6",
}
SOURCE_WORDS = {
    ShiftSource.ASSIGNMENT: "an assignment",
    ShiftSource.ROTATION: "a rotation",
    ShiftSource.GROUP: "the group's default",
    ShiftSource.NONE: "no shift",
}
HOLIDAY_CODE = "H"  # as the timesheet writes a holiday
OFF_CHOICE = "off (no shift that day)"


def holiday_names(engine: Engine, days: list[date], person_ids: list[int]) -> dict[tuple[int, date], str]:
    """(person, day) -> the holiday's name, for the site's holidays and each person's group's."""
    holidays = engine.holidays_between(days[0], days[-1]) if days else []
    site = {h.day: h.name for h in holidays if h.group_id is None}
    by_group = {(h.day, h.group_id): h.name for h in holidays if h.group_id is not None}
    groups: dict[int, int | None] = {}
    if by_group:  # a group's holiday needs each person's group
        for person_id in person_ids:
            group = engine.person_group(person_id)
            groups[person_id] = group.id if group is not None else None
    names = {}
    for person_id in person_ids:
        for day in days:
            name = site.get(day) or by_group.get((day, groups.get(person_id)))
            if name:
                names[(person_id, day)] = name
    return names


class RosterModel(QAbstractTableModel):
    """Rows of people, a column per day: the shift's code, blank on a day off, coloured by where it comes from."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.days: list[date] = []
        self.people: list[tuple[int, str]] = []
        self.cells: dict[tuple[int, date], RosterDay] = {}
        self.holidays: dict[tuple[int, date], str] = {}

    def set_roster(
        self, days: list[date], roster: list[RosterDay], holidays: dict[tuple[int, date], str] | None = None
    ) -> None:
        self.beginResetModel()
        self.days = days
        self.holidays = holidays or {}
        seen: dict[int, str] = {}
        for entry in roster:
            seen.setdefault(entry.person_id, entry.name)
        self.people = sorted(seen.items(), key=lambda item: item[1].casefold())
        self.cells = {(entry.person_id, entry.day): entry for entry in roster}
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = ROOT) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.people)

    def columnCount(self, parent: AnyIndex = ROOT) -> int:  # noqa: N802
        return 0 if parent.isValid() else 1 + len(self.days)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,  # noqa: N802
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> object:
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        if section == 0:
            return "Name"
        day = self.days[section - 1]
        return f"{day.day}\n{day:%a}"

    def entry(self, index: AnyIndex) -> RosterDay | None:
        if not index.isValid() or index.column() == 0:
            return None
        return self.cells.get((self.people[index.row()][0], self.days[index.column() - 1]))

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        if index.column() == 0:
            return self.people[index.row()][1] if role == Qt.ItemDataRole.DisplayRole else None
        entry = self.entry(index)
        if entry is None:
            return None
        holiday = self.holidays.get((entry.person_id, entry.day))
        if role == Qt.ItemDataRole.DisplayRole:
            return HOLIDAY_CODE if holiday else cell_code(entry)
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(QColor(SOURCE_COLORS[entry.source]))
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return Qt.AlignmentFlag.AlignCenter
        if role == Qt.ItemDataRole.ToolTipRole:
            what = entry.shift if entry.working and entry.shift else "off"
            if holiday:
                return f"{entry.name}, {entry.day:%a %d %b}: holiday ({holiday}); {what} is not worked"
            return f"{entry.name}, {entry.day:%a %d %b}: {what}, from {SOURCE_WORDS[entry.source]}"
        return None


def cell_code(entry: RosterDay) -> str:
    """The shift's code on a working day; '-' on a day off; blank when the person has no shift."""
    if entry.shift is None:
        return ""
    return entry.shift if entry.working and entry.shift != OFF else "-"


class RosterPage(QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.month_edit = date_edit(engine.site_today().replace(day=1), "MMMM yyyy")
        self.group_box = QComboBox()
        self.model = RosterModel(self)
        self.table = FrozenColumnTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setDefaultSectionSize(DAY_COLUMN_WIDTH)
        self.table.setToolTip("Double-click a day to put the person on another shift that day")
        self.person_box = QComboBox()
        self.pattern_edit = QLineEdit()
        self.pattern_edit.setPlaceholderText("Day,Day,Night,Night,off,off")
        self.rotate_from = date_edit(engine.site_today())
        self.rotate_button = QPushButton("Set rotation")
        self.unrotate_button = QPushButton("Remove rotation…")
        self.unrotate_button.setToolTip("Remove the person's latest rotation (refused when it reaches a locked month)")
        self.dialog: FormDialog | None = None
        self.message_label = message_line()
        legend = QLabel(
            "Blue: a dated assignment · violet: a rotation · white: the group's default · "
            f"'-' a day off · {HOLIDAY_CODE}: a holiday · blank: no shift"
        )
        legend.setObjectName("muted")
        legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        self.why_button = QPushButton("Why?")
        self.why_button.setToolTip("Why the selected day has its status: shift, sightings with photos, rules")
        layout.addLayout(hbox(QLabel("Month"), self.month_edit, QLabel("Group"), self.group_box, None, self.why_button))
        layout.addWidget(self.table, 1)
        layout.addWidget(legend)
        layout.addLayout(
            hbox(
                QLabel("Rotate"),
                self.person_box,
                self.pattern_edit,
                QLabel("from"),
                self.rotate_from,
                self.rotate_button,
                self.unrotate_button,
                stretch_at=2,
            )
        )
        layout.insertWidget(0, self.message_label)  # at the top, where one looks
        self.month_edit.dateChanged.connect(lambda _: self.refresh())
        self.group_box.currentIndexChanged.connect(lambda _: self.refresh())
        self.table.doubleClicked.connect(self.edit_cell)
        self.why_button.clicked.connect(lambda: self.open_why(self.table.currentIndex()))
        self.rotate_button.clicked.connect(lambda: self.rotate())
        self.unrotate_button.clicked.connect(lambda: self.remove_rotation())
        self.reload_choices()

    def month_days(self) -> list[date]:
        first = date.fromisoformat(month_text(self.month_edit) + "-01")
        return [first.replace(day=d) for d in range(1, monthrange(first.year, first.month)[1] + 1)]

    def reload_choices(self) -> None:
        current = self.group_box.currentData()
        self.group_box.blockSignals(True)
        self.group_box.clear()
        self.group_box.addItem("All groups", None)
        for group in self.engine.groups():
            self.group_box.addItem(group.name, group.name)
        self.group_box.setCurrentIndex(max(self.group_box.findData(current), 0))
        self.group_box.blockSignals(False)
        fill_people(self.person_box, self.engine)
        self.refresh()

    def refresh(self) -> None:
        kiosk_only(self.engine, self.rotate_button, self.unrotate_button)
        days = self.month_days()
        try:
            roster = self.engine.roster(days[0], days[-1], self.group_box.currentData())
        except RollcallError as exc:
            self.message_label.refuse(str(exc))
            return
        people = list(dict.fromkeys(entry.person_id for entry in roster))
        self.model.set_roster(days, roster, holiday_names(self.engine, days, people))
        self.table.resizeColumnToContents(0)
        codes = {cell_code(entry) for entry in roster} | {"Wed", HOLIDAY_CODE}
        metrics = self.table.fontMetrics()
        width = max(DAY_COLUMN_WIDTH, max(metrics.horizontalAdvance(code) for code in codes) + CELL_PADDING)
        for column in range(1, self.model.columnCount()):  # whole codes ("Night shift"), never "Night…"
            self.table.setColumnWidth(column, width)

    def code_at(self, name: str, day: date) -> str:
        """The cell's text for a person and day (what the admin sees)."""
        row = next(r for r, (_, n) in enumerate(self.model.people) if n == name)
        return str(self.model.data(self.model.index(row, 1 + self.model.days.index(day))) or "")

    def open_why(self, index: QModelIndex) -> WhyDialog | None:
        """Why? for the person and day of a roster cell."""
        entry = self.model.entry(index) if index.isValid() else None
        return open_why(self.engine, entry.person_id, entry.day, self) if entry is not None else None

    def edit_cell(self, index: QModelIndex) -> None:
        entry = self.model.entry(index)
        if entry is None or not self.engine.hr_edits_allowed:
            return
        shifts = self.engine.shifts()
        if not shifts:
            self.message_label.refuse("Add a shift first (the Shifts tab).")
            return
        names = [s.name for s in shifts] + [OFF_CHOICE]
        working = entry.working and entry.shift in names
        current = names.index(entry.shift) if working and entry.shift is not None else len(shifts)
        name, ok = QInputDialog.getItem(
            self, "Roster", f"{entry.name} on {entry.day:%a %d %b %Y} works", names, current, False
        )
        if ok:
            chosen = None if name == OFF_CHOICE else shifts[names.index(name)].id
            self.set_shift(entry.person_id, entry.day, chosen)

    def set_shift(self, person_id: int, day: date, shift_id: int | None) -> bool:
        """One day on another shift (None: off): a dated assignment for that day (audited; refused in a locked
        month)."""
        try:
            self.engine.assign_shift(person_id, shift_id, day, day)
        except RollcallError as exc:
            self.message_label.refuse(str(exc))
            return False
        self.message_label.setText(f"{'Off' if shift_id is None else 'Assigned'} on {day:%a %d %b %Y}.")
        return True

    def rotate(self) -> None:
        person_id = self.person_box.currentData()
        if person_id is None:
            return
        try:
            self.engine.rotate_shift(person_id, self.pattern_edit.text(), pydate(self.rotate_from.date()))
        except RollcallError as exc:
            self.message_label.refuse(str(exc))
            return
        self.message_label.setText(
            f"{self.person_box.currentText()} rotates {self.pattern_edit.text()} "
            f"from {pydate(self.rotate_from.date()):%d %b %Y}."
        )

    def remove_rotation(self) -> FormDialog | None:
        person_id = self.person_box.currentData()
        rotations = self.engine.shift_rotations(person_id) if person_id is not None else []
        if not rotations:
            self.message_label.setText(f"{self.person_box.currentText() or 'Nobody'} has no rotation to remove.")
            return None
        latest = max(rotations, key=lambda r: (r.first_day, r.id))
        text = (
            f"Remove {self.person_box.currentText()}'s rotation from {latest.first_day:%a %d %b %Y}? Those days go "
            "back to an earlier rotation or the group's default shift."
        )
        act = lambda: self.engine.remove_rotation(latest.id)  # noqa: E731
        self.dialog = open_dialog(remove_dialog("Remove rotation", text, act, self))
        return self.dialog

    def on_changes(self, changes: Changes) -> None:
        if changes.touches(ChangeKind.SCHEDULES, ChangeKind.PEOPLE):
            self.reload_choices()
