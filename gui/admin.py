"""Admin side of the app: the optional admin PIN guard, and recovering from a damaged database at start-up.

The PIN is never stored: settings.security.admin_pin_hash holds a salted scrypt hash (core.base.security).
Enrolling, deleting, exporting, retraining and settings sit behind `AdminGuard.unlock()`;
Recognize never asks. Once unlocked, the guard stays open while the admin keeps using the app
(security.unlock_minutes of inactivity lock it again), or until Lock is pressed or the app returns to
Recognize. The PIN policy (tries, pause) is the `security` section of the settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from core.base.security import verify_pin
from core.base.settings import SecuritySettings, Settings

from .dialogs import TITLE, show_error
from .text import plural

log = logging.getLogger(__name__)

_ACTIVITY = (QEvent.Type.MouseButtonPress, QEvent.Type.KeyPress, QEvent.Type.Wheel)


# ---- the PIN prompt ----


class PinDialog(QDialog):
    """Asks for the admin PIN (hidden input); `message` explains why or says the last PIN was wrong."""

    def __init__(self, parent: QWidget | None = None, message: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Admin PIN")
        self.setMinimumWidth(340)
        prompt = QLabel("This part of Rollcall is for the administrator. Enter the admin PIN.")
        prompt.setWordWrap(True)
        self.message_label = QLabel(message)
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #b91c1c; font-weight: 500;")
        self.message_label.setVisible(bool(message))
        self.pin_edit = QLineEdit()
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin_edit.setPlaceholderText("Admin PIN")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        for button in buttons.buttons():
            button.setIcon(QIcon())
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Unlock")
        buttons.button(QDialogButtonBox.StandardButton.Ok).setProperty("primary", True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(prompt)
        layout.addWidget(self.message_label)
        layout.addWidget(self.pin_edit)
        layout.addWidget(buttons)
        self.pin_edit.setFocus()

    def pin(self) -> str:
        return self.pin_edit.text()


def ask_pin(parent: QWidget | None, message: str = "") -> str | None:
    """The PIN typed, or None when the user cancelled. (Tests replace this function.)"""
    dialog = PinDialog(parent, message)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.pin()
    finally:
        dialog.deleteLater()


# ---- the guard ----


class AdminGuard(QObject):
    """Decides whether admin actions may run. With no PIN set, everything is open.

    unlock(parent) asks for the PIN when needed and returns True when the action may go ahead.
    A wrong PIN is asked again with a clear message; after security.pin_tries wrong PINs in a row the
    guard refuses for security.lockout_s seconds without asking. The policy is read when it is needed,
    so a changed setting applies at once.
    """

    locked = Signal()  # the guard closed again (Lock pressed, inactivity or returning to Recognize)
    unlocked = Signal()

    def __init__(
        self,
        settings: Callable[[], Settings],
        parent: QObject | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(parent)
        self._settings = settings
        self._clock = clock
        self._unlocked = False
        self._failures = 0
        self._blocked_until = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._expired)
        self._filtering = False

    # ---- state ----

    @property
    def policy(self) -> SecuritySettings:
        return self._settings().security

    @property
    def pin_hash(self) -> str:
        return self.policy.admin_pin_hash

    @property
    def enabled(self) -> bool:
        """True when an admin PIN is set."""
        return bool(self.pin_hash)

    def is_unlocked(self) -> bool:
        return not self.enabled or self._unlocked

    def blocked_for(self) -> float:
        """Seconds left of the pause after too many wrong PINs (0 when none)."""
        return max(0.0, self._blocked_until - self._clock())

    # ---- actions ----

    def unlock(self, parent: QWidget | None = None) -> bool:
        """True when admin actions may run now; asks for the PIN when a PIN is set and the guard is locked."""
        if self.is_unlocked():
            self.touch()
            return True
        message = ""
        while True:
            wait = self.blocked_for()
            if wait > 0:
                show_error(parent, f"Too many wrong PINs. Wait {plural(int(wait + 0.999), 'second')}, then try again.")
                return False
            pin = ask_pin(parent, message)
            if pin is None:
                return False
            if verify_pin(pin, self.pin_hash):
                self._failures = 0
                self.grant()
                return True
            self._failures += 1
            tries, lockout_s = self.policy.pin_tries, self.policy.lockout_s
            left = tries - self._failures
            log.info("Wrong admin PIN (%d in a row).", self._failures)
            if left <= 0:
                self._failures = 0
                self._blocked_until = self._clock() + lockout_s
                show_error(
                    parent,
                    f"Wrong PIN, {plural(tries, 'time')} in a row. "
                    f"Wait {plural(int(lockout_s), 'second')}, then try again.",
                )
                return False
            message = f"Wrong PIN. {left} {'try' if left == 1 else 'tries'} left before a {int(lockout_s)}-second wait."

    def grant(self) -> None:
        """Open the guard without asking (the admin just proved the PIN, e.g. by setting it)."""
        was = self._unlocked
        self._unlocked = True
        self.touch()
        self._watch_activity(True)
        if not was:
            self.unlocked.emit()

    def touch(self) -> None:
        """Activity: keep the guard open for another security.unlock_minutes."""
        if self._unlocked:
            self._timer.start(self._unlock_ms())

    def lock(self) -> None:
        was = self._unlocked
        self._unlocked = False
        self._timer.stop()
        self._watch_activity(False)
        if was:
            self.locked.emit()

    def _unlock_ms(self) -> int:
        return max(1, int(self.policy.unlock_minutes * 60_000))

    def _expired(self) -> None:
        log.info("Admin guard locked after %.0f minutes without activity.", self._timer.interval() / 60_000)
        self.lock()

    # ---- activity watching (only while unlocked, so it costs nothing otherwise) ----

    def _watch_activity(self, on: bool) -> None:
        app = QApplication.instance()
        if app is None or on == self._filtering:
            return
        if on:
            app.installEventFilter(self)
        else:
            app.removeEventFilter(self)
        self._filtering = on

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if event.type() in _ACTIVITY and self._unlocked:
            self._timer.start(self._unlock_ms())
        return False

    def close(self) -> None:
        """Stop the timer and the activity filter (the window is closing)."""
        self._timer.stop()
        self._watch_activity(False)


# ---- a damaged database at start-up ----


def backup_date(backup: Path) -> str:
    """The day a backup was made: from its name (rollcall-YYYY-MM-DD.db), else the file's time."""
    try:
        return date.fromisoformat(backup.stem.removeprefix("rollcall-")).strftime("%d %b %Y")
    except ValueError:
        try:
            return datetime.fromtimestamp(backup.stat().st_mtime).strftime("%d %b %Y %H:%M")
        except OSError:
            return backup.name


def ask_restore_backup(parent: QWidget | None, message: str, backup: Path | None, database: Path) -> bool:
    """The damaged-database dialog: True to restore `backup`, False to quit. (Tests replace this function.)"""
    text = f"Rollcall cannot open its database.\n\n{message}"
    if backup is not None:
        info = (
            f"Restoring puts the backup from {backup_date(backup)} in its place. The damaged file is kept "
            f"beside it (renamed {database.name}.damaged-…), so nothing is deleted."
        )
    else:
        info = (
            f"No backup was found in {database.parent / 'backups'}. Move the damaged file aside or "
            "restore one by hand, then start Rollcall again."
        )
    box = QMessageBox(QMessageBox.Icon.Critical, TITLE, text, parent=parent)
    box.setInformativeText(info)
    restore = None
    if backup is not None:
        restore = box.addButton(f"Restore the latest backup ({backup_date(backup)})", QMessageBox.ButtonRole.AcceptRole)
    quit_button = box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(restore or quit_button)
    box.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint)
    box.exec()
    return restore is not None and box.clickedButton() is restore


def open_engine(settings: Settings, before_dialog: Callable[[], None] | None = None):
    """The Engine on `settings`, or None when the user chose to quit.

    A damaged database (a StoreError whose kind a restore fixes) offers the latest backup; after a
    restore the engine is opened again.
    Other RollcallErrors are raised as before.
    """
    from core.app.engine import Engine
    from core.base.errors import StoreError

    try:
        return Engine(settings)
    except StoreError as exc:
        if not exc.kind.restore_helps:  # locked, disk full, ...: a backup would not help
            raise
        problem = str(exc)
    log.error("The database could not be opened: %s", problem)
    if before_dialog is not None:
        before_dialog()
    database = settings.database_path
    backup = Engine.newest_backup(settings)
    if not ask_restore_backup(None, problem, backup, database):
        return None
    try:
        restored = Engine.restore(settings, backup)
        log.warning(
            "Restored %s over the damaged database; the damaged file is kept as %s.",
            restored.backup,
            restored.previous_kept_as,
        )
        return Engine(settings)
    except (StoreError, OSError) as exc:
        show_error(None, f"The restore did not work: {exc}\n\nThe damaged database was not deleted.")
        return None
