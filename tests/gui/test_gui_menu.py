"""The menu bar and its shortcuts, file dialogs that start in Documents, and the sidebar after a refused PIN."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QKeySequence  # noqa: E402
from PySide6.QtWidgets import QFileDialog  # noqa: E402

from tests.kits.gui import PIN, PinAnswers  # noqa: E402


def test_menu_bar_names_the_usual_actions_and_shortcuts(window):
    menus = [action.text().replace("&", "") for action in window.menuBar().actions()]
    assert menus == ["File", "Edit", "Help"]
    shortcuts = {name: action.shortcut() for name, action in window.actions_by_name.items()}
    assert shortcuts["quit"].matches(QKeySequence("Ctrl+Q")) == QKeySequence.SequenceMatch.ExactMatch
    assert shortcuts["settings"].matches(QKeySequence("Ctrl+,")) == QKeySequence.SequenceMatch.ExactMatch
    assert shortcuts["docs"].matches(QKeySequence("F1")) == QKeySequence.SequenceMatch.ExactMatch


def test_ctrl_q_closes_the_window(qtbot, window):
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)


def test_documentation_is_found_in_the_checkout():
    from gui.menus import documentation_path

    path = documentation_path()
    assert path is not None and path.is_file()


def test_file_dialogs_start_in_documents(qtbot, window, monkeypatch, tmp_path):
    from gui.files import documents_dir

    started: list[str] = []
    monkeypatch.setattr(
        QFileDialog,
        "getExistingDirectory",
        staticmethod(lambda parent, title, start="", *args: (started.append(start), "")[1]),
    )
    window.actions_by_name["import"].trigger()
    assert window.current_panel() == "enroll"
    assert started == [documents_dir()]
    assert "Rollcall" not in started[0] and started[0] != str(tmp_path)


def test_sidebar_stays_on_recognize_after_a_cancelled_pin(qtbot, window, engine, monkeypatch):
    from core.base.security import hash_pin

    engine.settings.security.admin_pin_hash = hash_pin(PIN)
    pins = PinAnswers(monkeypatch)
    pins.answers = [None]  # Cancel
    people_row = window.PANELS.index("people")
    rect = window.nav.visualItemRect(window.nav.item(people_row))
    qtbot.mouseClick(window.nav.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.wait(50)
    assert pins.asked == 1
    assert window.current_panel() == "recognize"
    assert window.nav.currentRow() == 0
    assert [window.nav.row(item) for item in window.nav.selectedItems()] == [0]
