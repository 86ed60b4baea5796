"""What the HR tabs share: person and shift combos, a message line, admin-only buttons."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QComboBox, QPushButton, QSpinBox, QTableWidget, QWidget

from core.app.engine import Engine

from ..attendance.common import admin_only
from ..message_bar import MessageBar

OVERVIEW_HEIGHT = 180  # pixels for a page's overview table above its forms (about five rows)
OVERVIEW_MIN_ROWS = 4  # rows an overview always shows, so a new shift or group is seen to arrive


def overview_height(table: QTableWidget) -> None:
    """An overview table above a page's forms: at most OVERVIEW_HEIGHT, never squeezed below a few rows."""
    rows = table.verticalHeader().defaultSectionSize() * OVERVIEW_MIN_ROWS
    header = table.horizontalHeader().sizeHint().height()
    scrollbar = table.horizontalScrollBar().sizeHint().height()
    table.setMinimumHeight(min(OVERVIEW_HEIGHT, header + rows + scrollbar + 2 * table.frameWidth()))
    table.setMaximumHeight(OVERVIEW_HEIGHT)


def fill_people(box: QComboBox, engine: Engine) -> None:
    """Every active person, by name; keeps the current choice where it still exists. The box is as wide as
    the longest name, so no name is cut."""
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    current = box.currentData()
    box.blockSignals(True)
    box.clear()
    for overview in sorted(engine.people(), key=lambda o: o.person.name.casefold()):
        box.addItem(overview.person.name, overview.person.id)
    box.setCurrentIndex(max(box.findData(current), 0))
    box.blockSignals(False)
    box.setMinimumWidth(box.sizeHint().width())  # a squeezed row wraps rather than cutting a name


def fill_shifts(box: QComboBox, engine: Engine, none_text: str | None = None) -> None:
    """The shift types by name; none_text first (data None) when a choice of no shift is allowed."""
    current = box.currentData()
    box.blockSignals(True)
    box.clear()
    if none_text is not None:
        box.addItem(none_text, None)
    for shift in engine.shifts():
        box.addItem(shift.name, shift.id)
    box.setCurrentIndex(max(box.findData(current), 0))
    box.blockSignals(False)


def message_line() -> MessageBar:
    """A page's message bar: what was done, or a refusal in its colour; the page puts it at its top."""
    return MessageBar()


def kiosk_only(engine: Engine, *buttons: QPushButton) -> None:
    """HR edits are the admin station's on a site's kiosk: the buttons stay, disabled, saying why."""
    for button in buttons:
        admin_only(engine, button)


class WrapRow(QWidget):
    """Widgets side by side when there is room, one above the other when there is not (a 1024-pixel screen)."""

    def __init__(self, *widgets: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.row = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.widgets = widgets
        for widget in widgets:
            self.row.addWidget(widget, 1)

    def _side_by_side_width(self) -> int:
        return sum(w.minimumSizeHint().width() for w in self.widgets) + self.row.spacing() * (len(self.widgets) - 1)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """As narrow as the widest one alone: the row wraps rather than widening the page."""
        width = max((w.minimumSizeHint().width() for w in self.widgets), default=0)
        return QSize(width, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        wide = event.size().width() >= self._side_by_side_width()
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self.row.direction() != direction:
            self.row.setDirection(direction)
            self.updateGeometry()
        super().resizeEvent(event)


def minutes_spin(maximum: int, special: str | None = None) -> QSpinBox:
    """Minutes; with `special`, -1 reads as that word (a setting left to the rules)."""
    spin = QSpinBox()
    spin.setRange(-1 if special else 0, maximum)
    spin.setSuffix(" min")
    if special:
        spin.setSpecialValueText(special)
        spin.setValue(-1)
    return spin
