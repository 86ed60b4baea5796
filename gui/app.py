"""`rollcall-gui` / `python -m gui`: open the main window. `--self-test [--image PATH]` checks the install."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QMessageBox, QSplashScreen

from core.base.errors import RollcallError
from core.base.settings import Settings

from .errors import install_excepthook, setup_logging
from .live import preload_libraries
from .style import apply_style
from .widgets import icon


def _splash_pixmap() -> QPixmap:
    pixmap = QPixmap(420, 220)
    pixmap.fill(QColor("#111827"))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.drawPixmap(36, 70, icon("rollcall").pixmap(80, 80))
    painter.setPen(QColor("#f9fafb"))
    font = QFont()
    font.setPointSize(24)
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(136, 112, "Rollcall")
    font.setPointSize(10)
    font.setBold(False)
    painter.setFont(font)
    painter.setPen(QColor("#9ca3af"))
    painter.drawText(138, 138, "Loading the face models…")
    painter.end()
    return pixmap


def _self_test_window(engine) -> str:
    """Open the main window offscreen on the self-test's engine, then close it."""
    from .main_window import MainWindow

    app = QApplication.instance()
    window = MainWindow(engine)
    window.show()
    app.processEvents()
    if not window.isVisible():
        raise RuntimeError("the main window did not show")
    title = window.windowTitle()
    window.close()
    window.deleteLater()
    app.processEvents()
    return f"{title!r} opened and closed ({app.platformName()})"


def self_test(argv: list[str]) -> int:
    """Headless check of everything the app needs; the logic is core.app.selftest (no Qt there)."""
    import argparse

    from core.app.selftest import run_self_test

    parser = argparse.ArgumentParser(prog="Rollcall --self-test")
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--image", help="a photo with one clear face (default: see core/selftest.py)")
    args, _ = parser.parse_known_args(argv)
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before the QApplication loads a platform plugin
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_style(app)
    return run_self_test(args.image, _self_test_window)


GUI_HELP = """usage: {prog} [--kiosk | --self-test [--image PATH] | COMMAND ...]

Rollcall: face-recognition attendance. Without arguments, opens the window.

options:
  -h, --help      show this help and exit
  --kiosk         full screen, recognising from the last camera at once (the installer's autostart)
  --self-test     check the install without a screen; --image PATH: a photo with one clear face

commands (the command line, run instead of the window; `{prog} COMMAND --help` explains one):
{commands}
"""


def gui_help(prog: str) -> str:
    """The window's own help: its options, then the command line's commands by name."""
    import argparse
    import textwrap

    from core.app.cli import build_parser

    parser = build_parser(["report"])  # the built-in commands; plugins load only when asked for
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = textwrap.fill(", ".join(sub.choices), width=100, initial_indent="  ", subsequent_indent="  ")
    return GUI_HELP.format(prog=prog, commands=commands)


def main(argv: list[str] | None = None) -> int:
    """No arguments: the window. `--kiosk`: full screen, recognising from the last source at once (the
    installer's autostart unit). `--self-test`: check the install. `--help`: the window's own help. A
    command (`recognize`, `report`, ...): the command line, so the one installed executable serves both."""
    argv = sys.argv if argv is None else argv
    args = argv[1:]
    if args[:1] in (["-h"], ["--help"]):
        prog = os.path.basename(argv[0]) if argv else ""
        print(gui_help(prog if prog and not prog.endswith(".py") else "rollcall-gui"))  # python -m gui
        return 0
    if "--self-test" in args:
        return self_test(args)
    from core.app.cli import is_command_line

    if is_command_line(args):
        from core.app.cli import main as cli_main

        return cli_main(args)
    kiosk = "--kiosk" in args
    app = QApplication.instance() or QApplication(argv[:1])
    app.setApplicationName("Rollcall")
    app.setOrganizationName("Rollcall")
    app.setWindowIcon(icon("rollcall"))
    apply_style(app)
    try:
        settings = Settings.load()
    except RollcallError as exc:  # a settings file with a wrong value: say which, change nothing
        QMessageBox.critical(None, "Rollcall", str(exc))
        return 1
    try:
        log_path = setup_logging(settings)
    except OSError:
        log_path = None
    install_excepthook(log_path)

    splash = QSplashScreen(_splash_pixmap(), Qt.WindowType.WindowStaysOnTopHint)
    splash.show()
    app.processEvents()
    try:
        from .admin import open_engine

        engine = open_engine(settings, before_dialog=splash.close)  # a damaged database offers a backup
        if engine is None:
            return 1
        preload_libraries(engine.device)
    except RollcallError as exc:
        splash.close()
        QMessageBox.critical(None, "Rollcall", str(exc))
        return 1

    from .main_window import MainWindow

    window = MainWindow(engine)
    if kiosk:
        window.showFullScreen()
        window.show_panel("recognize").start()
    else:
        window.show()
    splash.finish(window)
    try:
        return app.exec()
    finally:
        engine.close()


if __name__ == "__main__":
    sys.exit(main())
