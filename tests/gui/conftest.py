"""The GUI tests' fixtures: a window on the test's engine and dialogs that never block."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from gui import workers  # noqa: E402
from tests.kits.gui import DialogLog


@pytest.fixture
def dialogs(monkeypatch) -> DialogLog:
    log = DialogLog()

    def record(kind, answer=QMessageBox.StandardButton.Ok):
        def show(parent, title, text, *args, **kwargs):
            log.shown.append((kind, text))
            return log.question_answer if kind == "question" else answer

        return staticmethod(show)

    for kind in ("warning", "critical", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, record(kind))

    def no_exec(box):
        log.shown.append(("exec", box.text()))
        return 0

    monkeypatch.setattr(QMessageBox, "exec", no_exec)
    return log


@pytest.fixture
def window(qtbot, engine, dialogs):
    """The main window on the test's engine; closed at the end, with every worker's thread checked."""
    from gui.main_window import MainWindow

    main = MainWindow(engine)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    yield main
    created = workers.all_jobs()  # strong references, so none is collected before the check
    main.close()
    not_finished = [job.name for job in created if not job.has_ended()]
    assert not not_finished, f"jobs still running after close: {not_finished}"
    assert not workers.live_jobs()
