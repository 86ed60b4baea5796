"""Month locks: locking makes a month's timesheet final, unlocking reopens it; both ask first and need a reason."""

from __future__ import annotations

from datetime import date

from PySide6.QtWidgets import QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine

from ..attendance.common import admin_only, date_edit, month_text
from ..attendance.locking import ReasonDialog, lock_or_unlock, month_title
from ..widgets import hbox
from .common import message_line


class LocksPage(QWidget):
    """The locked months, and a month to lock or unlock."""

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.month_edit = date_edit(engine.site_today().replace(day=1), "MMMM yyyy")
        self.lock_button = QPushButton("Lock month…")
        self.unlock_button = QPushButton("Unlock month…")
        self.locked_list = QListWidget()
        self.message_label = message_line()
        note = QLabel(
            "A locked month's timesheet is final: punches and corrections in it are refused. "
            "Locking and unlocking both need a reason, kept in the audit log."
        )
        note.setObjectName("muted")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(hbox(QLabel("Month"), self.month_edit, self.lock_button, self.unlock_button, None))
        layout.addWidget(QLabel("Locked months"))
        layout.addWidget(self.locked_list, 1)
        layout.insertWidget(0, self.message_label)  # at the top, where one looks
        self.lock_button.clicked.connect(lambda: self.ask())
        self.unlock_button.clicked.connect(lambda: self.ask())
        self.month_edit.dateChanged.connect(lambda _: self.refresh())
        self.locked_list.currentTextChanged.connect(self._pick)
        self.dialog: ReasonDialog | None = None
        self.refresh()

    def month(self) -> str:
        return month_text(self.month_edit)

    def _pick(self, text: str) -> None:
        if text:
            first = date.fromisoformat(text.split(" ")[0] + "-01")
            self.month_edit.setDate(date_edit(first).date())

    def refresh(self) -> None:
        locked = self.engine.locked_months()
        self.locked_list.clear()
        for month in sorted(locked, reverse=True):
            self.locked_list.addItem(f"{month}  ({month_title(month)})")
        is_locked = self.month() in locked
        self.lock_button.setVisible(not is_locked)
        self.unlock_button.setVisible(is_locked)
        for button in (self.lock_button, self.unlock_button):
            admin_only(self.engine, button)
        self.message_label.setText(f"{month_title(self.month())} is {'locked' if is_locked else 'open'}.")

    def ask(self) -> ReasonDialog:
        self.dialog = lock_or_unlock(self.engine, self.month(), self)
        return self.dialog

    def on_changes(self, changes: Changes) -> None:
        if changes.touches(ChangeKind.SCHEDULES):
            self.refresh()
