"""The typed settings: sections round-trip, wrong values are refused by key, an old flat file is
migrated, and a changed setting reaches the object that uses it."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from core.app.cli import main
from core.attendance.book import AttendanceBook
from core.base.errors import SettingsError, StoreError, StoreProblem
from core.base.records import EventKind
from core.base.settings import (
    SECTIONS,
    AttendanceSettings,
    Backend,
    CameraSettings,
    ComputeSettings,
    Device,
    EnrollmentSettings,
    LivenessSettings,
    RecognitionSettings,
    ReviewSettings,
    SecuritySettings,
    Settings,
    SiteSettings,
    StorageSettings,
    TrackingSettings,
)
from core.gallery.store import GalleryStore
from core.live.track import IouTracker
from tests.kits.paths import FACES

EVERY_SECTION_CHANGED = Settings(
    recognition=RecognitionSettings(match_threshold=0.61, detect_thresholds=(0.9, 0.75, 0.7), log_unknown=False),
    tracking=TrackingSettings(iou_threshold=0.35, max_age_s=2.5),
    enrollment=EnrollmentSettings(min_face_px=80, lookalike_similarity=0.7, capture_samples=8),
    attendance=AttendanceSettings(cooldown_minutes=2.5, checkout_mode=True, sound_on_mark=True),
    liveness=LivenessSettings(photo_filter=True, window_frames=20),
    security=SecuritySettings(admin_pin_hash="scrypt$abc", pin_tries=3, lockout_s=60.0),
    storage=StorageSettings(data_dir="/srv/rollcall", retention_days=90, backups_kept=3),
    compute=ComputeSettings(device=Device.CPU, torch_threads=2, embed_backend=Backend.TORCH),
    camera=CameraSettings(index=1, width_px=1280, height_px=720, last_source="rtsp://door/cam"),
    site=SiteSettings(sync_interval_s=30.0, upload_batch=200, listen=False),
    review=ReviewSettings(group_above_floor_stds=0.5, enroll_samples=3, days_shown=14),
)

OLD_FLAT_FILE = {  # settings.json as written before the sections
    "match_threshold": 0.6,
    "match_margin": 0.07,
    "cooldown_minutes": 15.0,
    "checkout_mode": True,
    "votes_to_mark": 4,
    "require_liveness": True,
    "min_face_px": 70,
    "min_detection_prob": 0.9,
    "min_sharpness": 12.0,
    "device": "cpu",
    "torch_threads": 2,
    "active_model": "facenet-keras-128",
    "camera_index": 1,
    "camera_width": 1280,
    "camera_height": 720,
    "source": "/videos/door.mp4",
    "data_dir": "",
    "retention_days": 30,
    "backups_kept": 5,
    "admin_pin_hash": "scrypt$16384$8$1$c2FsdA$aGFzaA",
    "sound_on_mark": True,
    "extra": {"embed_backend": "torch"},
}


def write(path, data) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def test_every_section_round_trips(tmp_path):
    path = tmp_path / "settings.json"
    for name in SECTIONS:  # the fixture really changes every section
        assert getattr(EVERY_SECTION_CHANGED, name) != getattr(Settings(), name), name
    EVERY_SECTION_CHANGED.save(path)
    assert set(json.loads(path.read_text())) == set(SECTIONS)
    loaded = Settings.load(path)
    assert loaded == EVERY_SECTION_CHANGED
    assert loaded.compute.device is Device.CPU and loaded.recognition.detect_thresholds == (0.9, 0.75, 0.7)
    assert not list(tmp_path.glob("*.tmp")), "save is atomic: no temporary file is left"


def test_no_file_gives_the_defaults(tmp_path):
    assert Settings.load(tmp_path / "missing.json") == Settings()


@pytest.mark.parametrize(
    "section, key, value, expected",
    [
        ("recognition", "match_threshold", "high", "a number"),
        ("recognition", "votes_to_mark", 2.5, "a whole number"),
        ("recognition", "detect_thresholds", [0.8, 0.7], "a list of 3 numbers"),
        ("attendance", "cooldown_minutes", -5, "zero or more"),
        ("compute", "device", "gpu", "'auto', 'cpu', 'cuda', 'mps'"),
        ("camera", "last_source", 0, "text"),
    ],
)
def test_a_wrong_type_is_refused_naming_the_key(tmp_path, section, key, value, expected):
    path = tmp_path / "settings.json"
    write(path, {section: {key: value}})
    with pytest.raises(SettingsError) as info:
        Settings.load(path)
    message = str(info.value)
    assert f"{section}.{key}" in message and json.dumps(value) in message and expected in message
    assert str(path) in message


def test_the_text_false_is_not_a_bool(tmp_path):
    """bool("false") is True: a bool setting accepts only JSON true/false, in the file and in code."""
    path = tmp_path / "settings.json"
    write(path, {"liveness": {"photo_filter": "false"}})
    with pytest.raises(SettingsError, match=r'liveness\.photo_filter = "false" is not true or false'):
        Settings.load(path)
    write(path, {"require_liveness": "false"})  # the old flat key is checked the same way
    with pytest.raises(SettingsError, match=r"liveness\.photo_filter"):
        Settings.load(path)
    settings = Settings()
    with pytest.raises(SettingsError, match=r"attendance\.checkout_mode"):
        settings.attendance.checkout_mode = "false"
    assert settings.attendance.checkout_mode is False


def test_an_unreadable_file_is_refused_not_replaced_by_defaults(tmp_path):
    """Falling back to the defaults would let the next save throw away the admin PIN."""
    path = tmp_path / "settings.json"
    path.write_text('{"security": {"admin_pin_hash": "scrypt$abc"', encoding="utf-8")
    with pytest.raises(SettingsError, match="cannot be read"):
        Settings.load(path)


def test_an_old_flat_file_is_migrated_into_the_sections(tmp_path):
    path = tmp_path / "settings.json"
    write(path, OLD_FLAT_FILE)
    settings = Settings.load(path)
    assert settings.security.admin_pin_hash == OLD_FLAT_FILE["admin_pin_hash"]
    assert (
        settings.recognition.match_threshold,
        settings.recognition.match_margin,
        settings.recognition.votes_to_mark,
    ) == (0.6, 0.07, 4)
    assert settings.attendance == AttendanceSettings(cooldown_minutes=15.0, checkout_mode=True, sound_on_mark=True)
    assert settings.liveness.photo_filter
    assert (
        settings.enrollment.min_face_px,
        settings.enrollment.min_detection_prob,
        settings.enrollment.min_sharpness,
    ) == (70, 0.9, 12.0)
    assert settings.compute == ComputeSettings(
        device=Device.CPU, torch_threads=2, embed_backend=Backend.TORCH, active_model="facenet-keras-128"
    )  # kept: an old file names its model
    assert settings.camera == CameraSettings(index=1, width_px=1280, height_px=720, last_source="/videos/door.mp4")
    assert settings.storage == StorageSettings(retention_days=30, backups_kept=5)
    settings.save(path)  # written back in sections, nothing lost
    assert "admin_pin_hash" not in json.loads(path.read_text())
    assert Settings.load(path) == settings


def test_unknown_keys_are_logged_and_ignored(tmp_path, caplog):
    path = tmp_path / "settings.json"
    write(path, {"colour": "blue", "recognition": {"match_threshold": 0.6, "sparkle": 1}})
    with caplog.at_level(logging.WARNING, logger="core.base.settings"):
        settings = Settings.load(path)
    assert settings.recognition.match_threshold == 0.6
    assert "colour" in caplog.text and "recognition.sparkle" in caplog.text


def test_the_tracking_section_reaches_the_tracker():
    """Two boxes overlapping with IoU 1/3 are one face at the default IoU 0.2, two faces at 0.5."""
    first, moved = np.array([[0, 0, 100, 100]], np.float32), np.array([[50, 0, 150, 100]], np.float32)
    tracks = []
    for iou in (TrackingSettings().iou_threshold, 0.5):
        tracker = IouTracker.from_settings(TrackingSettings(iou_threshold=iou), votes_to_mark=3)
        before = tracker.update(first, 0.0)[0]
        tracks.append(tracker.update(moved, 0.1)[0] is before)
    assert tracks == [True, False]
    window = IouTracker.from_settings(TrackingSettings(min_vote_window=4), votes_to_mark=6).vote_window
    assert window == 11, "room for a majority of votes_to_mark"


def test_the_attendance_section_reaches_the_book():
    """In check-out mode a sighting 3 minutes after the check-in is a check-out only when the
    cooldown is shorter than that."""
    start = datetime(2024, 5, 6, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    kinds = []
    for cooldown in (10.0, 2.0):
        with GalleryStore.memory() as store:
            person = store.add_person("Ada")
            rules = Settings(attendance=AttendanceSettings(cooldown_minutes=cooldown, checkout_mode=True)).attendance
            book = AttendanceBook(store, rules)
            first = book.observe(person.id, 0.9, "door", when=start)
            later = book.observe(person.id, 0.9, "door", when=start + timedelta(minutes=3))
            kinds.append((first.kind, later.kind if later else None))
    assert kinds == [(EventKind.CHECK_IN, None), (EventKind.CHECK_IN, EventKind.CHECK_OUT)]


def test_the_engine_builds_the_stages_from_their_sections(engine):
    engine.settings.tracking.iou_threshold = 0.45
    engine.settings.attendance.cooldown_minutes = 3.0
    engine.settings.liveness.window_frames = 9
    engine.settings.enrollment.min_face_px = 90
    recognizer = engine.recognizer(source_name="test")
    assert recognizer.tracker.iou_threshold == 0.45
    assert recognizer.book.rules.cooldown == timedelta(minutes=3)
    assert recognizer.liveness.window_frames == 9
    assert engine.enroller().gates.min_face_px == 90


def test_the_cli_shows_a_bad_setting_and_changes_nothing(rollcall_home, capsys):
    rollcall_home.mkdir(parents=True, exist_ok=True)
    path = rollcall_home / "settings.json"
    write(path, {"recognition": {"match_threshold": "0.6"}})
    assert main(["people"]) == 2
    err = capsys.readouterr().err
    assert "recognition.match_threshold" in err and '"0.6"' in err and str(path) in err
    assert json.loads(path.read_text()) == {"recognition": {"match_threshold": "0.6"}}


def test_the_cli_suggests_restore_from_the_store_problem_not_the_wording(rollcall_home, capsys):
    """An SQLite file that is not Rollcall's says nothing about "damaged", yet a restore is the fix."""
    rollcall_home.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(rollcall_home / "rollcall.db") as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError) as info:
        GalleryStore(rollcall_home / "rollcall.db")
    assert info.value.kind is StoreProblem.NOT_ROLLCALL and "damaged" not in str(info.value)
    assert main(["people"]) == 2
    assert "rollcall restore" in capsys.readouterr().err


def test_recognize_without_a_source_uses_the_last_one(rollcall_home, capsys, default_weights):
    rollcall_home.mkdir(parents=True, exist_ok=True)
    folder = FACES / "dev_unknown"
    Settings(camera=CameraSettings(index=7, last_source=str(folder))).save()
    assert main(["recognize", "--max-frames", "1"]) == 0, capsys.readouterr().err
    assert "0 marked" in capsys.readouterr().out


def test_the_source_picker_starts_from_the_camera_settings(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from gui.widgets import SourcePicker

    video = FACES / "video" / "hamilton_640x360.mp4"
    picker = SourcePicker(CameraSettings(last_source=str(video)))
    qtbot.addWidget(picker)
    assert picker.current_spec() == str(video)
    gone = SourcePicker(CameraSettings(last_source=str(tmp_path / "deleted.mp4")))
    qtbot.addWidget(gone)
    assert gone.current_spec() != str(tmp_path / "deleted.mp4")
