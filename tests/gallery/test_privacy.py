"""Erasure, backups, restore, retention, permissions and the admin PIN."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime, timedelta

import pytest

from core.app.cli import main
from core.app.engine import Engine
from core.base.errors import StoreError
from core.base.records import AttendanceEvent
from core.base.security import hash_pin, verify_pin
from core.base.settings import Settings, StorageSettings
from core.gallery.backups import latest_backup, restore_backup
from core.gallery.store import GalleryStore
from tests.kits.paths import dev_people, dev_photos

SECRET_NAME = "Zebulon Quixote-Erasmus"


def raw_bytes(db_path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-journal"):
        path = db_path.with_name(db_path.name + suffix)
        if path.exists():
            data += path.read_bytes()
    return data


def test_deleted_person_is_gone_from_the_file_and_backups(engine):
    person = dev_people()[5]
    report = engine.enroller().enroll_files(SECRET_NAME, dev_photos(person)[:3])
    pid = report.person_ids[SECRET_NAME]
    engine.store.record_event(
        AttendanceEvent(
            None,
            pid,
            None,
            "check_in",
            datetime.now(UTC).astimezone(),
            "cam",
            0.9,
            snapshot_jpeg=b"\xff\xd8snapshot-of-zebulon",
        )
    )
    vectors = engine.store.gallery(engine.active_model_id()).vectors
    backup = engine.store.backup_to(engine.settings.backups_path / "rollcall-2000-01-01.db")
    db = engine.settings.database_path
    assert SECRET_NAME.encode() in raw_bytes(db) + backup.read_bytes()

    engine.delete_person(pid)
    everything = raw_bytes(db) + backup.read_bytes()
    assert SECRET_NAME.encode() not in everything
    assert b"snapshot-of-zebulon" not in everything
    for vector in vectors:
        assert vector.tobytes() not in everything
    # A backup made after the deletion does not have them either.
    later = engine.store.backup_to(engine.settings.backups_path / "rollcall-2099-01-01.db")
    assert SECRET_NAME.encode() not in later.read_bytes()


def test_data_folder_and_database_are_owner_only(engine):
    db = engine.settings.database_path
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(db.parent).st_mode) == 0o700


def test_a_backup_that_cannot_be_scrubbed_is_named_to_the_user(rollcall_home, capsys):
    settings = Settings()
    with GalleryStore(settings.database_path) as store:
        store.add_person(SECRET_NAME)
        good = store.backup_to(settings.backups_path / "rollcall-2000-01-01.db")
    damaged = settings.backups_path / "rollcall-2000-01-02.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\x13" * 4096)
    engine = Engine(settings)
    try:
        deleted = engine.delete_person(engine.find_person(SECRET_NAME).id).value
    finally:
        engine.close()
    assert good in deleted.backups_scrubbed and SECRET_NAME.encode() not in good.read_bytes()
    assert [problem.path for problem in deleted.backups_not_scrubbed] == [damaged]
    assert not deleted.fully_erased

    with GalleryStore(settings.database_path) as store:
        store.add_person(SECRET_NAME)
    assert main(["delete", SECRET_NAME, "--yes"]) == 1, "an unfinished erasure is not reported as success"
    out, err = capsys.readouterr()
    assert f"deleted {SECRET_NAME}" in out
    assert f"warning: the backup {damaged} may still hold this person" in err and "delete that file" in err


def test_a_failed_daily_backup_is_reported(rollcall_home, capsys):
    rollcall_home.mkdir(parents=True)
    (rollcall_home / "backups").write_text("a file where the backups folder should be")
    engine = Engine(Settings())
    try:
        status = engine.housekeeping_status
        assert status.backup_made is None and status.backup_error and not status.ok
    finally:
        engine.close()
    assert main(["people"]) == 0
    assert "warning: the daily backup failed:" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_failed_chmod_is_reported(rollcall_home, monkeypatch, capsys):
    settings = Settings()
    GalleryStore(settings.database_path).close()
    os.chmod(settings.database_path, 0o644)
    os.chmod(settings.data_path, 0o755)

    def refuse(path, mode, **kwargs):
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(os, "chmod", refuse)  # e.g. a file system that keeps its own permissions
    assert main(["people"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {settings.database_path} is not private to this user (mode 644, expected 600)" in err
    assert f"warning: {settings.data_path} is not private to this user (mode 755, expected 700)" in err


def test_daily_backup_and_restore_of_a_corrupt_database(tmp_path):
    settings = Settings(storage=StorageSettings(data_dir=str(tmp_path / "data")))
    with GalleryStore(settings.database_path) as store:
        store.add_person("Grace Hopper")
        for day in range(1, 10):
            store.auto_backup(settings.backups_path, keep=3, today=date(2026, 11, day))
    backups = sorted(settings.backups_path.glob("rollcall-*.db"))
    assert [b.name for b in backups] == [f"rollcall-2026-11-0{d}.db" for d in (7, 8, 9)]

    settings.database_path.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))  # disk damage
    with pytest.raises(StoreError) as info:
        GalleryStore(settings.database_path)
    assert str(settings.database_path) in str(info.value) and "backup" in str(info.value)
    kept = restore_backup(latest_backup(settings.backups_path), settings.database_path)
    assert kept.exists(), "the damaged file is kept, never deleted"
    with GalleryStore(settings.database_path) as store:
        assert [p.name for p in store.list_people()] == ["Grace Hopper"]


def test_retention_purges_old_events_at_start(tmp_path):
    settings = Settings(storage=StorageSettings(data_dir=str(tmp_path / "data"), retention_days=30))
    with GalleryStore(settings.database_path) as store:
        pid = store.add_person("Old Timer").id
        old = datetime.now(UTC).astimezone() - timedelta(days=45)
        store.record_event(AttendanceEvent(None, pid, None, "check_in", old, "cam", 0.9))
        store.record_event(AttendanceEvent(None, None, None, "unknown", old, "cam", 0.1, snapshot_jpeg=b"x"))
        store.record_event(AttendanceEvent(None, pid, None, "check_in", datetime.now(UTC).astimezone(), "cam", 0.9))
    engine = Engine(settings)
    try:
        events = engine.store.events()
        assert len(events) == 1 and events[0].person_id == pid
    finally:
        engine.close()


def test_admin_pin_is_a_salted_scrypt_hash():
    stored = hash_pin("4321")
    assert stored.startswith("scrypt$") and "4321" not in stored
    assert verify_pin("4321", stored) and not verify_pin("1234", stored)
    assert hash_pin("4321") != stored, "salted: the same PIN hashes differently"
    assert not verify_pin("4321", "garbage")
    with pytest.raises(ValueError):
        hash_pin("12")


def test_enroll_and_recognize_make_no_network_connection(engine, monkeypatch, faces):
    """All data stays local: any attempt to open a connection fails the test."""
    import socket

    from core.live.sources import ImageFolderSource

    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network access during a local-only test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    person = dev_people()[2]
    engine.enroller().enroll_files("Local Only", dev_photos(person)[:3])
    results = list(engine.recognize(ImageFolderSource(person, fps=10.0)))
    assert len(results) == len(dev_photos(person))
    assert attempts == []


def test_missing_weights_are_not_downloaded_silently(tmp_path):
    from core.base.errors import WeightsError
    from core.vision.models import ModelRegistry

    with pytest.raises(WeightsError, match="rollcall models fetch"):
        ModelRegistry(tmp_path, allow_network=False).ensure_weights("facenet-keras-128")
    assert not (tmp_path / "downloads").exists()
