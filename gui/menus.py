"""The main window's menu bar: File (import, export, quit), Edit (settings) and Help (documentation, about)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, cast

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMenuBar, QMessageBox, QWidget

from core import __version__
from core.base.resources import app_root

from .dialogs import show_error

SETTINGS_SHORTCUT = "Ctrl+,"


class MenuHost(Protocol):
    """What the menus ask of the main window."""

    def import_photos(self) -> None: ...
    def export_attendance(self) -> None: ...
    def open_settings(self) -> None: ...
    def close(self) -> bool: ...
    def menuBar(self) -> QMenuBar: ...  # noqa: N802 (Qt name)


def documentation_path() -> Path | None:
    """The built documentation site when there is one, else the docs folder's index page."""
    for candidate in (app_root() / "site" / "index.html", app_root() / "docs" / "index.md"):
        if candidate.is_file():
            return candidate
    return None


def open_documentation(window: QWidget) -> None:
    path = documentation_path()
    if path is None:
        show_error(window, "The documentation is not installed with this copy of Rollcall.")
        return
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def _action(window: QWidget, text: str, slot: object, shortcut: QKeySequence | str | None = None) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda _checked=False: slot())
    return action


def build_menus(window: MenuHost) -> dict[str, QAction]:
    """Adds the menu bar to the window; returns its actions by name (tests trigger them)."""
    parent = cast(QWidget, window)
    actions = {
        "import": _action(parent, "Import photos…", window.import_photos, "Ctrl+I"),
        "export": _action(parent, "Export attendance…", window.export_attendance, "Ctrl+E"),
        "quit": _action(parent, "Quit", window.close, QKeySequence.StandardKey.Quit),
        "settings": _action(parent, "Settings…", window.open_settings, SETTINGS_SHORTCUT),
        "docs": _action(
            parent, "Documentation", lambda: open_documentation(parent), QKeySequence.StandardKey.HelpContents
        ),
        "about": _action(parent, "About Rollcall", lambda: show_about(parent)),
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


def show_about(window: QWidget) -> None:
    QMessageBox.about(
        window,
        "About Rollcall",
        f"Rollcall {__version__}\n\nFace-recognition attendance: enroll people, watch a camera, "
        "and keep a day's attendance. Press F1 for the documentation.",
    )
