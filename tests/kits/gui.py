"""What the GUI tests share: the wait limit, the dialog log, and the admin PIN's answers."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtWidgets import QMessageBox  # noqa: E402

PIN = "739154"


class PinAnswers:
    """Stands in for the PIN dialog: returns scripted answers and records each prompt's message."""

    def __init__(self, monkeypatch):
        import gui.admin as admin

        self.answers: list[str | None] = []
        self.messages: list[str] = []

        def ask(parent, message=""):
            self.messages.append(message)
            return self.answers.pop(0) if self.answers else None

        monkeypatch.setattr(admin, "ask_pin", ask)

    @property
    def asked(self) -> int:
        return len(self.messages)


WAIT_MS = 45_000


class DialogLog:
    """Message boxes shown during a test (none of them blocks: each returns a scripted answer)."""

    def __init__(self):
        self.shown: list[tuple[str, str]] = []
        self.question_answer = QMessageBox.StandardButton.Yes

    def errors(self) -> list[str]:
        return [text for kind, text in self.shown if kind in ("warning", "critical")]
