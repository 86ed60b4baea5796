"""Message boxes in one place: errors the user can act on, confirmations and the duplicate-name question."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

TITLE = "Rollcall"


def show_error(parent: QWidget | None, message: str, title: str = TITLE) -> None:
    QMessageBox.warning(parent, title, message)


def confirm(parent: QWidget | None, title: str, text: str, action: str = "OK") -> bool:
    """A yes/no question; True when the user agrees."""
    answer = QMessageBox.question(
        parent,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


ADD_TO_EXISTING = "add"
KEEP_SEPARATE = "separate"


def ask_duplicate_name(parent: QWidget | None, message: str) -> str | None:
    """A person with this name exists: ADD_TO_EXISTING, KEEP_SEPARATE, or None to cancel."""
    box = QMessageBox(QMessageBox.Icon.Question, "Name already enrolled", message, parent=parent)
    add = box.addButton("Add to existing person", QMessageBox.ButtonRole.AcceptRole)
    separate = box.addButton("Keep as a separate person", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(add)
    box.exec()
    clicked = box.clickedButton()
    if clicked is add:
        return ADD_TO_EXISTING
    if clicked is separate:
        return KEEP_SEPARATE
    return None
