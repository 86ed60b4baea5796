"""The real main window driven through a whole flow: enroll, recognize, attendance, export, delete.

Also the fixtures the other GUI tests share: a window on the test's engine, dialogs that never block,
and a check that every worker's QThread has finished once the window is closed.
"""

from __future__ import annotations

import csv
import shutil
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402

from tests.kits.gui import WAIT_MS
from tests.kits.paths import dev_people, dev_photos  # noqa: E402


def copy_people_tree(root: Path, people: list[Path], photos: slice) -> Path:
    """A folder-per-person tree of copies (in tmp_path; the shared faces are never modified)."""
    for person in people:
        target = root / person.name
        target.mkdir(parents=True)
        for photo in dev_photos(person)[photos]:
            shutil.copy(photo, target / photo.name)
    return root


def wait_idle(qtbot, predicate, timeout=WAIT_MS) -> None:
    qtbot.waitUntil(predicate, timeout=timeout)


def import_tree_through_panel(qtbot, window, monkeypatch, root: Path) -> None:
    panel = window.show_panel("enroll")
    panel.tabs.setCurrentIndex(1)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(root)))
    panel.import_folder_button.click()
    wait_idle(qtbot, lambda: panel.job is None and panel.last_report is not None)


def test_whole_flow(qtbot, window, dialogs, faces, tmp_path, monkeypatch):
    started = time.monotonic()
    people = dev_people()[:3]
    names = [p.name.replace("_", " ") for p in people]

    # 1. Enroll: import 4 photos each of 3 people as a folder-per-person tree.
    import_tree_through_panel(qtbot, window, monkeypatch, copy_people_tree(tmp_path / "tree", people, slice(0, 4)))
    report = window.enroll_panel.last_report
    assert sorted(report.people_added) == sorted(names)
    assert report.samples_added + len(report.refused) == 12
    assert window.enroll_panel.progress.value() == window.enroll_panel.progress.maximum()
    assert window.enroll_panel.refused_list.topLevelItemCount() == len(report.refused)
    wait_idle(qtbot, lambda: sorted(window.people_panel.names()) == sorted(names))  # refreshed in a worker
    assert "3 people" in window.gallery_label.text()

    # 2. Recognize an image folder: photos 5-8 of the first person, twice over, so the votes settle.
    frames = tmp_path / "frames"
    frames.mkdir()
    for repeat in range(2):
        for i, photo in enumerate(dev_photos(people[0])[4:8]):
            shutil.copy(photo, frames / f"{repeat}{i}_{photo.name}")
    recognize = window.show_panel("recognize")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(frames)))
    picker = recognize.source_picker
    folder_item = next(i for i in range(picker.count()) if picker.itemData(i) == ("action", "folder"))
    picker.setCurrentIndex(folder_item)
    picker.activated.emit(folder_item)
    assert picker.current_spec() == str(frames)
    recognize.start_button.click()
    assert recognize.is_running()
    wait_idle(qtbot, lambda: not recognize.is_running())
    assert recognize.view.frames_shown > 0
    assert recognize.marked_list.count() == 1
    assert names[0] in recognize.marked_list.item(0).text()
    assert not dialogs.errors()

    # 3. Exactly one attendance row, for that person.
    attendance = window.show_panel("attendance")
    assert attendance.table.rowCount() == 1
    assert attendance.names() == [names[0]]
    assert attendance.table.item(0, 1).text() == names[0]

    # 4. Export CSV and read it back.
    exported = tmp_path / "attendance.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(exported), "")))
    attendance.export_button.click()
    with open(exported, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["name"], r["kind"]) for r in rows] == [(names[0], "check_in")]

    # 5. Delete that person (confirming the question) and see them gone from every panel.
    people_panel = window.show_panel("people")
    people_panel.select_person(window.engine.store.find_person(names[0]).id)
    dialogs.question_answer = QMessageBox.StandardButton.Yes
    people_panel.delete_button.click()
    assert "question" in [kind for kind, _ in dialogs.shown]
    wait_idle(
        qtbot,
        lambda: people_panel.job is None and not people_panel.is_refreshing() and names[0] not in people_panel.names(),
    )
    assert sorted(people_panel.names()) == sorted(names[1:])
    assert attendance.table.rowCount() == 0
    assert recognize.marked_list.count() == 0
    assert "2 people" in window.gallery_label.text()
    assert not dialogs.errors()
    assert time.monotonic() - started < 60


def test_delete_can_be_declined(qtbot, window, dialogs, engine, faces):
    person = dev_people()[3]
    engine.enroll_files(person.name, dev_photos(person)[:2])
    panel = window.show_panel("people")
    wait_idle(qtbot, lambda: panel.names() == [person.name])
    dialogs.question_answer = QMessageBox.StandardButton.No
    panel.delete_button.click()
    assert panel.job is None and panel.names() == [person.name]


def test_delete_and_people_list_run_off_the_gui_thread(qtbot, window, dialogs, engine, faces, monkeypatch):
    """Erasing (VACUUM, backups rewritten) and reading the People list never block the window."""
    person = dev_people()[4]
    engine.enroll_files(person.name, dev_photos(person)[:2])
    panel = window.show_panel("people")
    wait_idle(qtbot, lambda: panel.names() == [person.name] and not panel.is_refreshing())
    deleted_on: list[threading.Thread] = []
    listed_on: list[threading.Thread] = []
    delete_person, people = engine.delete_person, engine.people

    def recording_delete(person_id):
        deleted_on.append(threading.current_thread())
        return delete_person(person_id)

    def recording_people(*args, **kwargs):
        listed_on.append(threading.current_thread())
        return people(*args, **kwargs)

    monkeypatch.setattr(engine, "delete_person", recording_delete)
    monkeypatch.setattr(engine, "people", recording_people)
    dialogs.question_answer = QMessageBox.StandardButton.Yes
    panel.delete_button.click()
    wait_idle(qtbot, lambda: panel.job is None and not panel.is_refreshing() and panel.names() == [])
    assert len(deleted_on) == 1 and deleted_on[0] is not threading.main_thread()
    assert listed_on and threading.main_thread() not in listed_on
    assert panel.status_label.text() == f"Deleted {person.name}."
    assert "0 people" in window.gallery_label.text() and not dialogs.errors()


def test_responsive_while_recognizing(qtbot, window, dialogs, faces):
    """A 10 ms timer keeps ticking (no gap over 100 ms) while the recognize worker runs on a video."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    video = faces / "video" / "hamilton_640x360.mp4"
    recognize = window.show_panel("recognize")
    recognize.source_picker.set_spec(str(video))
    clock = QElapsedTimer()
    gaps: list[int] = []
    last = [0]

    def tick():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    recognize.start_button.click()
    clock.start()
    timer.start()
    qtbot.waitUntil(lambda: recognize.view.frames_shown >= 5 or not recognize.is_running(), timeout=WAIT_MS)
    busy_since = len(gaps)
    frames_before = recognize.view.frames_shown
    measuring_since = clock.elapsed()
    qtbot.waitUntil(lambda: not recognize.is_running() or clock.elapsed() - measuring_since > 4000, timeout=WAIT_MS)
    timer.stop()
    frames_during = recognize.view.frames_shown - frames_before
    recognize.stop_button.click()
    qtbot.waitUntil(lambda: not recognize.is_running(), timeout=10_000)
    worst_while_busy = max(gaps[busy_since:], default=0)
    print(
        f"ticks {len(gaps)}, longest gap {max(gaps)} ms ({worst_while_busy} ms while frames flowed), "
        f"{frames_during} frames painted meanwhile"
    )
    assert frames_before >= 5 and frames_during >= 5
    assert len(gaps) > 100
    assert max(gaps) < 100, f"longest event-loop gap {max(gaps)} ms"
    assert not dialogs.errors()


def test_close_while_running_stops_workers(qtbot, window, faces):
    """Closing the window mid-recognition stops and joins the worker (the fixture checks the thread)."""
    video = faces / "video" / "hamilton_640x360.mp4"
    recognize = window.show_panel("recognize")
    recognize.source_picker.set_spec(str(video))
    recognize.start_button.click()
    qtbot.waitUntil(lambda: recognize.view.frames_shown >= 3, timeout=WAIT_MS)
    worker = recognize.worker
    window.close()
    assert worker.has_ended()
