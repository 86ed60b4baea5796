"""Faults: a locked database, a full disk, a corrupt database at start-up."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from core.app.cli import main
from core.base.errors import StoreError
from core.gallery.store import GalleryStore


def test_locked_database_waits_then_writes(tmp_path):
    db = tmp_path / "g.db"
    GalleryStore(db).close()
    blocker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    release = threading.Timer(1.0, lambda: blocker.execute("COMMIT"))
    release.start()
    with GalleryStore(db) as store:
        started = time.monotonic()
        store.add_person("Patient Writer")
        assert time.monotonic() - started >= 0.8, "waited for the lock instead of failing"
        assert [p.name for p in store.list_people()] == ["Patient Writer"]
    release.join()
    blocker.close()


def test_full_disk_rolls_back_and_says_so(tmp_path):
    db = tmp_path / "g.db"
    with GalleryStore(db) as store:
        keep = store.add_person("Already Here")
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk is about to fill up
        with pytest.raises(StoreError, match="full"):
            with store.transaction():
                person = store.add_person("Big Import")
                for i in range(50):
                    store.add_sample(person.id, b"\xff" * 20_000, "import", f"h{i}", 0.99, 90, 40.0)
        assert [p.name for p in store.list_people()] == [keep.name], "nothing half-written"
        assert store.count_samples() == 0 and store.integrity_check() == []


def test_corrupt_database_at_start_offers_the_backup(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("ROLLCALL_HOME", str(home))
    with GalleryStore(home / "rollcall.db") as store:
        store.add_person("Before The Crash")
    assert main(["backup"]) == 0
    (home / "rollcall.db").write_bytes(b"SQLite format 3\x00" + b"\x13" * 4096)
    capsys.readouterr()
    assert main(["people"]) == 2
    err = capsys.readouterr().err
    assert "rollcall.db" in err and "rollcall restore" in err
    assert main(["restore"]) == 0
    assert main(["people"]) == 0
    assert "Before The Crash" in capsys.readouterr().out
