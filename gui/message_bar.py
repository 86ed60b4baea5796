"""A message bar for the top of a page: what just happened, or why something was refused, where the person is
looking, in a colour that says which; with an optional action ("Undo") and a close button."""

from __future__ import annotations

import enum
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class Tone(enum.Enum):
    INFO = "info"  # done, or what is going on
    REFUSAL = "refusal"  # nothing changed, and why


TONE_STYLES = {
    Tone.INFO: "background: #ecfdf5; color: #065f46; border: 1px solid #a7f3d0;",
    Tone.REFUSAL: "background: #fef2f2; color: #991b1b; border: 1px solid #fecaca;",
}


class MessageBar(QFrame):
    """Hidden until there is something to say; `setText` keeps QLabel's name so a page's message line can be
    one. A refusal stays until the next message or the close button."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.tone = Tone.INFO
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton("")
        self.action_button.hide()
        self.close_button = QPushButton("×")
        self.close_button.setFlat(True)
        self.close_button.setToolTip("Hide this message")
        self.close_button.setFixedWidth(28)
        self._action: Callable[[], None] | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        row.addWidget(self.label, 1)
        row.addWidget(self.action_button)
        row.addWidget(self.close_button)
        self.action_button.clicked.connect(self._run_action)
        self.close_button.clicked.connect(self.clear)
        self.hide()

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel's name: a page's message line
        self.show_message(text, Tone.INFO)

    def text(self) -> str:
        return self.label.text()

    def refuse(self, text: str) -> None:
        """Nothing was changed: say why, in the refusal colour."""
        self.show_message(text, Tone.REFUSAL)

    def show_message(
        self, text: str, tone: Tone = Tone.INFO, action: str | None = None, on_action: Callable[[], None] | None = None
    ) -> None:
        if not text:
            self.clear()
            return
        self.tone = tone
        self.label.setText(text)
        self.setStyleSheet(
            f"QFrame#messageBar {{ {TONE_STYLES[tone]} border-radius: 8px; }}"
            "QFrame#messageBar QLabel { border: none; background: transparent; }"
        )
        self._action = on_action
        self.action_button.setText(action or "")
        self.action_button.setVisible(bool(action and on_action))
        self.show()

    def clear(self) -> None:
        self.label.setText("")
        self._action = None
        self.action_button.hide()
        self.hide()

    def is_refusal(self) -> bool:
        return not self.isHidden() and self.tone is Tone.REFUSAL

    def _run_action(self) -> None:
        action = self._action
        self.clear()
        if action is not None:
            action()
