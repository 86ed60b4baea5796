"""The panels one by one: capture guidance and duplicate names, people, attendance, settings, sources, errors."""

from __future__ import annotations

import csv
import shutil
import sys
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QFileDialog, QInputDialog  # noqa: E402

from tests.kits.gui import WAIT_MS  # noqa: E402,F401 (fixtures)
from tests.kits.paths import dev_people, dev_photos  # noqa: E402


def small_face_image(photo: Path, target: Path) -> Path:
    """The photo shrunk onto a large grey canvas, so its face is too small to enroll."""
    face = Image.open(photo).convert("RGB").resize((90, 90))
    canvas = Image.new("RGB", (480, 480), (128, 128, 128))
    canvas.paste(face, (195, 195))
    canvas.save(target, quality=95)
    return target


def enroll(engine, person: Path, photos: slice, name: str | None = None):
    return engine.enroll_files(name or person.name.replace("_", " "), dev_photos(person)[photos]).value


def test_capture_guidance_then_duplicate_name_adds_to_existing(
    qtbot, window, dialogs, engine, faces, tmp_path, monkeypatch
):
    person = dev_people()[5]
    name = person.name.replace("_", " ")
    enroll(engine, person, slice(0, 2))
    existing = engine.store.find_person(name)

    frames = tmp_path / "camera"
    frames.mkdir()
    shutil.copy(faces / "group" / "six_faces.jpg", frames / "0_group.jpg")
    small_face_image(dev_photos(person)[2], frames / "1_far.jpg")
    for i, photo in enumerate(dev_photos(person)[2:8]):
        shutil.copy(photo, frames / f"2_{i}_{photo.name}")

    panel = window.show_panel("enroll")
    banners: list[str] = []
    original = panel.capture_view.set_banner
    monkeypatch.setattr(
        panel.capture_view, "set_banner", lambda text, kind="info": (banners.append(text), original(text, kind))
    )
    panel.name_edit.setText(name)
    panel.capture_source.set_spec(str(frames))
    panel.sample_count.setValue(2)
    engine.settings.enrollment.capture_gap_s = 0.0  # the slideshow drops frames on a busy machine
    assert not panel.save_button.isEnabled()
    panel.capture_button.click()
    qtbot.waitUntil(lambda: panel.capture_worker is None, timeout=WAIT_MS)
    assert "Only one face please" in banners
    assert "Move closer" in banners
    assert len(panel.samples) == 2 and panel.sample_strip.count() == 2
    assert panel.save_button.isEnabled()

    import gui.panels.enroll as enroll_module

    asked: list[str] = []
    monkeypatch.setattr(
        enroll_module,
        "ask_duplicate_name",
        lambda parent, message: (asked.append(message), enroll_module.ADD_TO_EXISTING)[1],
    )
    panel.save_button.click()
    qtbot.waitUntil(
        lambda: panel.job is None and panel.last_report is not None and panel.last_report.samples_added == 2,
        timeout=WAIT_MS,
    )
    assert len(asked) == 1 and name in asked[0]
    assert [p.id for p in engine.store.list_people(search=name)] == [existing.id]
    assert engine.store.count_samples(existing.id) == 4
    assert panel.sample_strip.count() == 0
    assert not dialogs.errors()


def test_import_photos_duplicate_name_kept_separate(qtbot, window, dialogs, engine, faces, monkeypatch):
    person = dev_people()[6]
    name = person.name.replace("_", " ")
    enroll(engine, person, slice(0, 2))

    import gui.panels.enroll as enroll_module

    monkeypatch.setattr(enroll_module, "ask_duplicate_name", lambda parent, message: enroll_module.KEEP_SEPARATE)
    panel = window.show_panel("enroll")
    panel.tabs.setCurrentIndex(1)
    panel.name_edit.setText(name)
    panel.external_id_edit.setText("E-42")
    photos = [str(p) for p in dev_photos(person)[2:4]] + [str(faces / "group" / "six_faces.jpg")]
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: (photos, "")))
    panel.add_photos_button.click()
    qtbot.waitUntil(
        lambda: panel.job is None and panel.last_report is not None and bool(panel.last_report.people_added),
        timeout=WAIT_MS,
    )
    people = engine.store.list_people(search=name)
    assert len(people) == 2
    assert sorted(p.external_id or "" for p in people) == ["", "E-42"]
    assert panel.refused_list.topLevelItemCount() == 1
    assert panel.refused_list.topLevelItem(0).text(0) == "six_faces.jpg"
    assert "several_faces" == panel.refused_list.topLevelItem(0).data(0, 256)
    qtbot.waitUntil(lambda: sorted(window.people_panel.names()) == [name, name], timeout=WAIT_MS)


def test_people_rename_search_add_and_remove_samples(qtbot, window, dialogs, engine, faces, monkeypatch):
    first, second = dev_people()[7], dev_people()[8]
    enroll(engine, first, slice(0, 2))
    enroll(engine, second, slice(0, 2))
    panel = window.show_panel("people")
    qtbot.waitUntil(lambda: len(panel.names()) == 2 and not panel.is_refreshing(), timeout=WAIT_MS)
    panel.select_person(engine.store.find_person(first.name.replace("_", " ")).id)
    person_id = panel.current_person_id()
    assert panel.samples_view.count() == 2

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("Zed Renamed", True)))
    panel.rename_button.click()
    qtbot.waitUntil(lambda: "Zed Renamed" in panel.names(), timeout=WAIT_MS)
    assert engine.store.get_person(person_id).name == "Zed Renamed"
    assert engine.matcher().names[person_id] == "Zed Renamed"

    panel.search_edit.setText("zed")
    qtbot.waitUntil(lambda: panel.names() == ["Zed Renamed"], timeout=WAIT_MS)
    panel.search_edit.setText("")
    qtbot.waitUntil(lambda: len(panel.names()) == 2 and not panel.is_refreshing(), timeout=WAIT_MS)

    panel.select_person(person_id)
    more = [str(p) for p in dev_photos(first)[2:4]]
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: (more, "")))
    panel.add_button.click()
    qtbot.waitUntil(lambda: panel.job is None and panel.samples_view.count() == 4, timeout=WAIT_MS)
    assert engine.store.count_samples(person_id) == 4
    assert window.gallery_label.text() == "Gallery: 2 people, 6 samples"

    panel.samples_view.item(0).setSelected(True)
    panel.remove_samples_button.click()
    assert engine.store.count_samples(person_id) == 3
    qtbot.waitUntil(lambda: panel.samples_view.count() == 3, timeout=WAIT_MS)
    assert not dialogs.errors()


def test_attendance_today_range_and_export(qtbot, window, dialogs, engine, faces, tmp_path, monkeypatch):
    from core.attendance.book import AttendanceBook

    people = [enroll(engine, p, slice(0, 1)).person_ids for p in dev_people()[9:11]]
    ids = [next(iter(ids.values())) for ids in people]
    today = datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    book = AttendanceBook(engine.store)
    book.observe(ids[0], 0.9, "test", when=yesterday)
    book.observe(ids[0], 0.9, "test", when=today.replace(hour=8, minute=5))
    book.observe(ids[1], 0.8, "test", when=today.replace(hour=9, minute=30))

    panel = window.show_panel("attendance")
    panel.refresh()
    assert panel.date_range() == (date.today(), date.today())
    assert panel.table.rowCount() == 2
    assert panel.summary_label.text() == "2 people present today"
    first_seen = {panel.table.item(r, 1).text(): panel.table.item(r, 3).text() for r in range(2)}
    assert sorted(first_seen.values()) == ["08:05:00", "09:30:00"]

    panel.set_range(yesterday.date(), today.date())
    assert panel.table.rowCount() == 3
    out = tmp_path / "week"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    panel.export_button.click()
    with open(str(out) + ".csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and {r["kind"] for r in rows} == {"check_in"}
    assert "Exported 3 events" in panel.status_label.text()

    panel.today_button.click()
    assert panel.table.rowCount() == 2
    panel.end_edit.setDate(panel.start_edit.date().addDays(-1))  # end before start moves the start too
    assert panel.date_range()[0] <= panel.date_range()[1]


def test_settings_dialog_saves_one_typed_settings_object(qtbot, window, engine):
    from core.base.settings import Settings
    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(engine, window)
    qtbot.addWidget(dialog)
    dialog.threshold.setValue(0.62)
    dialog.cooldown.setValue(5)
    dialog.resolution.setCurrentIndex(dialog.resolution.findData("1280x720"))
    dialog.sound.setChecked(True)
    dialog.liveness.setChecked(True)
    matcher_before = engine.matcher()
    dialog.accept()
    saved = Settings.load()
    assert saved.liveness.photo_filter
    assert (
        saved.recognition.match_threshold,
        saved.attendance.cooldown_minutes,
        saved.camera.width_px,
        saved.camera.height_px,
    ) == (0.62, 5.0, 1280, 720)
    assert saved.attendance.sound_on_mark
    assert engine.settings.recognition.match_threshold == 0.62
    assert engine.matcher() is not matcher_before, "the matcher is rebuilt with the new settings"
    assert dialog.model_to_activate is None and not dialog.needs_restart
    window.settings_applied(dialog)
    assert window.recognize_panel.sound_box.isChecked()

    # Switching the model runs as a job with progress in the status bar (here: the same model again).
    window.start_model_activation(engine.active_model_id())
    assert window.job_progress.isVisible()
    qtbot.waitUntil(lambda: window.model_job is None, timeout=WAIT_MS)
    assert not window.job_progress.isVisible()
    assert "is now active" in window.statusBar().currentMessage()


def test_source_picker_offers_demo_and_says_why(qtbot, monkeypatch, tmp_path):
    import gui.widgets as widgets
    from core.base.settings import CameraSettings

    video = tmp_path / "demo.mp4"
    video.write_bytes(b"not really a video")
    monkeypatch.setattr(widgets, "find_cameras", lambda: ())
    picker = widgets.SourcePicker(CameraSettings(demo_video=str(video)))
    qtbot.addWidget(picker)
    assert picker.current_spec() == str(video)
    assert "No webcam found" in picker.note and "demo video" in picker.note

    monkeypatch.setattr(widgets, "demo_video", lambda configured="": None)
    picker = widgets.SourcePicker()
    qtbot.addWidget(picker)
    assert picker.current_spec() == "" and "not installed" in picker.note

    monkeypatch.setattr(widgets, "find_cameras", lambda: (0, 2))
    picker = widgets.SourcePicker()
    qtbot.addWidget(picker)
    assert picker.current_spec() == "0" and picker.note == ""
    assert picker.itemText(1) == "Camera 2"


def test_demo_video_found_beside_the_checkout(faces):
    from gui.widgets import DEMO_VIDEO_NAME, demo_video

    found = demo_video()
    assert found is not None and found.name == DEMO_VIDEO_NAME and found.is_file()


def test_bad_source_shows_an_actionable_message(qtbot, window, dialogs, tmp_path):
    recognize = window.show_panel("recognize")
    recognize.start(str(tmp_path / "missing.mp4"))
    qtbot.waitUntil(lambda: not recognize.is_running(), timeout=WAIT_MS)
    errors = dialogs.errors()
    assert len(errors) == 1 and "No such file or folder" in errors[0] and "Traceback" not in errors[0]
    assert recognize.start_button.isEnabled()


def test_excepthook_logs_and_shows_a_dialog(qtbot, dialogs, monkeypatch, tmp_path):
    import logging

    import gui.errors as errors
    from core.base.errors import SourceError
    from core.base.settings import Settings, StorageSettings

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(errors, "qInstallMessageHandler", lambda handler: None)
    root = logging.getLogger()
    handlers = list(root.handlers)
    level = root.level
    try:
        log_path = errors.setup_logging(Settings(storage=StorageSettings(data_dir=str(tmp_path / "data"))))
        errors.install_excepthook(log_path)
        try:
            raise ValueError("boom")
        except ValueError:
            sys.excepthook(*sys.exc_info())
        shown = dialogs.errors()
        assert len(shown) == 1 and "ValueError: boom" in shown[0] and str(log_path) in shown[0]
        for handler in root.handlers:
            handler.flush()
        assert "Traceback" in log_path.read_text(encoding="utf-8")

        def fail_in_thread():
            raise SourceError("Camera 0 stopped delivering frames. Check the cable.")

        thread = threading.Thread(target=fail_in_thread)
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: len(dialogs.errors()) == 2, timeout=5000)
        assert dialogs.errors()[1] == "Camera 0 stopped delivering frames. Check the cable."
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)


def test_app_main_opens_the_window(qtbot, qapp, default_weights, monkeypatch):
    import gui.app as app_module
    from gui.main_window import MainWindow

    monkeypatch.setattr(app_module, "install_excepthook", lambda path: None)
    monkeypatch.setattr(app_module, "setup_logging", lambda settings: None)
    monkeypatch.setattr(qapp, "setStyleSheet", lambda sheet: None)
    opened: list[MainWindow] = []

    def fake_exec():
        windows = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        opened.extend(windows)
        for w in windows:
            w.close()
        return 0

    monkeypatch.setattr(qapp, "exec", fake_exec)
    assert app_module.main([]) == 0
    assert len(opened) == 1 and opened[0].windowTitle() == "Rollcall"
    assert "Device:" in opened[0].device_label.text()
    opened[0].deleteLater()
