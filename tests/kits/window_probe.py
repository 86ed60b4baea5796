"""Open the main window on the screen this process was given (QT_QPA_PLATFORM=offscreen:configfile=...) and
report, as one JSON line, where it opened: the screen's free area, the window with its frame, and the
Settings button and status bar in screen coordinates. Used by tests/gui/test_gui_fit.py (a 1024×700 screen)."""

from __future__ import annotations

import json
import sys


def main() -> int:
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QApplication

    from core.app.engine import Engine
    from core.base.settings import Settings
    from gui.main_window import MainWindow
    from gui.style import apply_style

    app = QApplication(sys.argv[:1])
    apply_style(app)

    def on_screen(widget) -> list[int]:
        top_left = widget.mapToGlobal(QPoint(0, 0))
        rect = QRect(top_left, widget.size())
        return [rect.x(), rect.y(), rect.width(), rect.height()]

    with Engine(Settings()) as engine:
        window = MainWindow(engine)
        window.show()
        for _ in range(5):
            app.processEvents()
        area, frame = window.screen().availableGeometry(), window.frameGeometry()
        report = {
            "available": [area.x(), area.y(), area.width(), area.height()],
            "frame": [frame.x(), frame.y(), frame.width(), frame.height()],
            "settings_button": on_screen(window.settings_button),
            "status_bar": on_screen(window.statusBar()),
        }
        window.close()
        app.processEvents()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
