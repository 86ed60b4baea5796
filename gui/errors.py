"""Errors never end as a traceback in a console: they are logged to a file and shown in a dialog."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QtMsgType, Signal, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QMessageBox

from core.base.errors import RollcallError
from core.base.settings import Settings

log = logging.getLogger("rollcall.gui")


def setup_logging(settings: Settings | None = None) -> Path:
    """Log to <data folder>/logs/rollcall-gui.log (rotated); returns the file's path."""
    settings = settings or Settings.load()
    folder = settings.data_path / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rollcall-gui.log"
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)

    def qt_messages(kind: QtMsgType, _context, message: str) -> None:
        level = logging.WARNING if kind in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg) else logging.DEBUG
        logging.getLogger("qt").log(level, message)

    qInstallMessageHandler(qt_messages)
    return path


class ErrorReporter(QObject):
    """Shows error dialogs on the GUI thread, whichever thread the error happened in."""

    report = Signal(str)

    def __init__(self, log_path: Path | None):
        super().__init__()
        self.log_path = log_path
        self._showing = False
        self.report.connect(self._show)

    def _show(self, message: str) -> None:
        if self._showing:  # one dialog at a time; the rest are in the log
            return
        self._showing = True
        try:
            QMessageBox.critical(QApplication.activeWindow(), "Rollcall", message)
        finally:
            self._showing = False

    def handle(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        if issubclass(exc_type, SystemExit):
            return
        if isinstance(exc, RollcallError):
            log.warning("%s", exc)
            self.report.emit(str(exc))
            return
        log.error("Unexpected error", exc_info=(exc_type, exc, tb))
        where = f"\n\nThe details were written to {self.log_path}." if self.log_path else ""
        self.report.emit(
            f"Something went wrong: {exc_type.__name__}: {exc}{where}\n\n"
            "You can keep working; if it happens again, restart Rollcall."
        )


_reporter: ErrorReporter | None = None


def install_excepthook(log_path: Path | None = None) -> ErrorReporter:
    """Route uncaught exceptions (GUI thread and Python threads) to the log and an error dialog."""
    global _reporter
    _reporter = ErrorReporter(log_path)
    sys.excepthook = _reporter.handle
    threading.excepthook = lambda args: _reporter.handle(args.exc_type, args.exc_value, args.exc_traceback)
    return _reporter
