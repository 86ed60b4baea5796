"""The main window's menu bar: File (import, export, quit), Edit (settings) and Help (documentation, about)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMessageBox

from core import __version__
from core.base.resources import app_root

from .dialogs import show_error

if TYPE_CHECKING:
    from .main_window import MainWindow

SETTINGS_SHORTCUT = "Ctrl+,"


def documentation_path() -> Path | None:
    """The built documentation site when there is one, else the docs folder's index page."""
    for candidate in (app_root() / "site" / "index.html", app_root() / "docs" / "index.md"):
        if candidate.is_file():
            return candidate
    return None


def open_documentation(window: MainWindow) -> None:
    path = documentation_path()
    if path is None:
        show_error(window, "The documentation is not installed with this copy of Rollcall.")
        return
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def _action(window: MainWindow, text: str, slot: object, shortcut: QKeySequence | str | None = None) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda _checked=False: slot())
    return action


def build_menus(window: MainWindow) -> dict[str, QAction]:
    """Adds the menu bar to the window; returns its actions by name (tests trigger them)."""
    actions = {
        "import": _action(window, "Import photos…", window.import_photos, "Ctrl+I"),
        "export": _action(window, "Export attendance…", window.export_attendance, "Ctrl+E"),
        "quit": _action(window, "Quit", window.close, QKeySequence.StandardKey.Quit),
        "settings": _action(window, "Settings…", window.open_settings, SETTINGS_SHORTCUT),
        "docs": _action(window, "Documentation", lambda: open_documentation(window),
                        QKeySequence.StandardKey.HelpContents),
        "about": _action(window, "About Rollcall", lambda: show_about(window)),
    }
    if actions["quit"].shortcut().isEmpty():  # some desktops define no Quit key
        actions["quit"].setShortcut(QKeySequence("Ctrl+Q"))
    if actions["docs"].shortcut().isEmpty():
        actions["docs"].setShortcut(QKeySequence("F1"))
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(actions["import"])
    file_menu.addAction(actions["export"])
    file_menu.addSeparator()
    file_menu.addAction(actions["quit"])
    bar.addMenu("&Edit").addAction(actions["settings"])
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(actions["docs"])
    help_menu.addAction(actions["about"])
    return actions


def show_about(window: MainWindow) -> None:
    QMessageBox.about(window, "About Rollcall",
                      f"Rollcall {__version__}\n\nFace-recognition attendance: enroll people, watch a camera, "
                      "and keep a day's attendance. Press F1 for the documentation.")
