"""File dialogs in one place: they start in the user's Documents folder, never the application's own."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget


def documents_dir() -> str:
    """The user's Documents folder (their home when the system names none)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return location if location and Path(location).is_dir() else str(Path.home())


def _start(start: str) -> str:
    return start if start and Path(start).expanduser().exists() else documents_dir()


def open_file(parent: QWidget | None, title: str, name_filter: str = "", start: str = "") -> str:
    """One existing file, or "" when cancelled."""
    path, _ = QFileDialog.getOpenFileName(parent, title, _start(start), name_filter)
    return path


def open_files(parent: QWidget | None, title: str, name_filter: str = "", start: str = "") -> list[str]:
    """Existing files, or [] when cancelled."""
    paths, _ = QFileDialog.getOpenFileNames(parent, title, _start(start), name_filter)
    return paths


def open_folder(parent: QWidget | None, title: str, start: str = "") -> str:
    """An existing folder, or "" when cancelled."""
    return QFileDialog.getExistingDirectory(parent, title, _start(start))


def save_file(parent: QWidget | None, title: str, file_name: str, name_filter: str = "") -> str:
    """A file to write (named `file_name` in Documents to begin with), or "" when cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, title, str(Path(documents_dir()) / file_name), name_filter)
    return path
