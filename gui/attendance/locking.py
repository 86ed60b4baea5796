"""Asking before an HR change that is hard to take back: a dialog that names the consequence and requires a
reason (it goes into the audit log); locking and unlocking a month through it."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable
from datetime import date

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from core.app.engine import Engine
from core.base.errors import RollcallError

from ..widgets import styled_label


class ReasonDialog(QDialog):
    """Asks before an HR change that is hard to take back: says what will happen, and will not go on without a
    reason (it goes into the audit log). `act(reason)` runs the Engine operation; its error stays in the dialog."""

    def __init__(
        self, title: str, consequence: str, action: str, act: Callable[[str], object], parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(440)
        self.act = act
        self.consequence_label = QLabel(consequence)
        self.consequence_label.setWordWrap(True)
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("Required: why? It goes into the audit log.")
        self.message_label = styled_label("A reason is required.", "note")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.action_button = self.buttons.addButton(action, QDialogButtonBox.ButtonRole.AcceptRole)
        self.action_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.consequence_label)
        layout.addWidget(QLabel("Reason"))
        layout.addWidget(self.reason_edit)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.reason_edit.textChanged.connect(lambda _: self._update())
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def _update(self) -> None:
        ready = bool(self.reason_edit.text().strip())
        self.action_button.setEnabled(ready)
        self.message_label.setText("" if ready else "A reason is required.")

    def accept(self) -> None:
        reason = self.reason_edit.text().strip()
        if not reason:
            self.message_label.setText("A reason is required.")
            return
        try:
            self.act(reason)
        except RollcallError as exc:
            self.message_label.setText(str(exc))  # the dialog stays open: nothing typed is lost
            return
        super().accept()


def month_title(month: str) -> str:
    return f"{date.fromisoformat(month + '-01'):%B %Y}"


def lock_consequence(month: str, today: date) -> str:
    first = date.fromisoformat(month + "-01")
    last = first.replace(day=monthrange(first.year, first.month)[1])
    text = (
        f"Locking {month_title(month)} makes its timesheet final: manual punches, corrections, leave, holidays "
        "and shift changes in it are refused until someone unlocks it, giving a reason."
    )
    if last >= today:
        left = (last - max(today, first)).days + 1
        text += (
            f"\n\n{month_title(month)} is not over: {left} {'day is' if left == 1 else 'days are'} still to "
            "come, and sightings on them still count, but nobody can correct them."
        )
    return text


def unlock_consequence(month: str) -> str:
    return (
        f"Unlocking {month_title(month)} lets punches and corrections change a timesheet that was final; "
        "payroll may already have used it."
    )


def lock_or_unlock(engine: Engine, month: str, parent: QWidget | None = None) -> ReasonDialog:
    """Opens the confirmation for locking (or, when locked, unlocking) the month; returns the open dialog."""
    if month in engine.locked_months():
        dialog = ReasonDialog(
            f"Unlock {month_title(month)}",
            unlock_consequence(month),
            f"Unlock {month_title(month)}",
            lambda reason: engine.unlock_month(month, reason),
            parent,
        )
    else:
        dialog = ReasonDialog(
            f"Lock {month_title(month)}",
            lock_consequence(month, engine.site_today()),
            f"Lock {month_title(month)}",
            lambda reason: engine.lock_month(month, reason=reason),
            parent,
        )
    dialog.open()
    return dialog
