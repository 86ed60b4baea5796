"""What the HR tabs share: person and shift combos, a message line, admin-only buttons."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLabel, QPushButton

from core.app.engine import Engine

from ..attendance.common import admin_only


def fill_people(box: QComboBox, engine: Engine) -> None:
    """Every active person, by name; keeps the current choice where it still exists."""
    current = box.currentData()
    box.blockSignals(True)
    box.clear()
    for overview in sorted(engine.people(), key=lambda o: o.person.name.casefold()):
        box.addItem(overview.person.name, overview.person.id)
    box.setCurrentIndex(max(box.findData(current), 0))
    box.blockSignals(False)


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


def message_line() -> QLabel:
    label = QLabel("")
    label.setObjectName("muted")
    label.setWordWrap(True)
    return label


def kiosk_only(engine: Engine, *buttons: QPushButton) -> None:
    """HR edits are the admin station's on a site's kiosk: the buttons stay, disabled, saying why."""
    for button in buttons:
        admin_only(engine, button)
