"""Enrollment gates, folder import, duplicates, deletion and crash consistency."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.app.fusion_setup import fused_members
from core.base.errors import DuplicateNameError, EnrollmentError
from core.gallery.store import GalleryStore
from tests.kits.paths import REPO, dev_people, dev_photos


def make_tree(root: Path, people: list[Path], count: int) -> Path:
    for person in people:
        target = root / person.name
        target.mkdir(parents=True)
        for photo in dev_photos(person)[:count]:
            shutil.copy(photo, target / photo.name)
    return root


def test_photo_with_two_people_is_refused(engine, faces):
    with pytest.raises(EnrollmentError) as info:
        engine.enroller().candidate_from_file(faces / "group" / "two_people.jpg")
    assert info.value.reason == "several_faces" and "one person" in str(info.value)


def test_group_photo_is_refused_and_nothing_saved(engine, faces):
    report = engine.enroller().enroll_files("Group", [faces / "group" / "six_faces.jpg"])
    assert report.samples_added == 0 and report.refused[0].reason == "several_faces"
    assert engine.store.list_people() == []


def test_no_face_and_tiny_face_are_refused(engine, tmp_path, faces):
    import cv2

    blank = tmp_path / "wall.jpg"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 200, np.uint8))
    photo = dev_photos(dev_people()[0])[0]
    tiny = tmp_path / "tiny.jpg"
    img = cv2.imread(str(photo))
    canvas = np.full((1000, 1000, 3), 180, np.uint8)
    small = cv2.resize(img, (100, 100))
    canvas[450:550, 450:550] = small
    cv2.imwrite(str(tiny), canvas)
    report = engine.enroller().enroll_files("Nobody", [blank, tiny])
    reasons = sorted(r.reason for r in report.refused)
    assert reasons == ["no_face", "too_small"]
    assert engine.store.list_people() == []


def test_duplicate_name_needs_a_choice(engine):
    people = dev_people()
    enroller = engine.enroller()
    enroller.enroll_files("Alex Doe", dev_photos(people[0])[:2])
    with pytest.raises(DuplicateNameError):
        enroller.enroll_files("  alex doe ", dev_photos(people[0])[2:3])
    added = enroller.enroll_files("Alex Doe", dev_photos(people[0])[2:3], add_to_existing=True)
    assert added.samples_added == 1 and len(engine.store.list_people()) == 1
    separate = enroller.enroll_files("Alex Doe", dev_photos(people[1])[:1], allow_duplicate=True)
    assert separate.samples_added == 1 and len(engine.store.list_people()) == 2


def test_lookalike_warning_when_face_matches_someone_else(engine):
    person = dev_people()[3]
    enroller = engine.enroller()
    enroller.enroll_files("First Name", dev_photos(person)[:3])
    report = enroller.enroll_files("Other Name", dev_photos(person)[3:5])
    assert any("already matches First Name" in w for w in report.warnings)


def test_second_import_adds_nothing_and_delete_leaves_no_rows(engine, tmp_path):
    tree = make_tree(tmp_path / "people", dev_people()[:3], 3)
    enroller = engine.enroller()
    first = list(enroller.import_tree(tree))[-1].report
    assert len(first.people_added) == 3 and first.samples_added >= 8
    stats = engine.store.stats()
    second = list(enroller.import_tree(tree))[-1].report
    assert second.people_added == [] and second.samples_added == 0
    assert second.skipped_duplicates == first.samples_added
    assert engine.store.stats() == stats

    victim = engine.store.list_people()[0]
    engine.store.delete_person(victim.id)
    db = sqlite3.connect(engine.settings.database_path)
    assert db.execute("SELECT COUNT(*) FROM people WHERE id = ?", [victim.id]).fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM samples WHERE person_id = ?", [victim.id]).fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM events WHERE person_id = ?", [victim.id]).fetchone()[0] == 0
    orphans = db.execute(
        "SELECT COUNT(*) FROM embeddings e LEFT JOIN samples s ON s.id = e.sample_id WHERE s.id IS NULL"
    ).fetchone()[0]
    assert orphans == 0


@pytest.mark.slow
def test_kill_during_import_leaves_a_consistent_database(tmp_path, default_weights):
    tree = make_tree(tmp_path / "people", dev_people()[:12], 6)
    home = tmp_path / "killed-home"
    env = dict(os.environ, ROLLCALL_HOME=str(home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.app.cli", "import", str(tree)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db_path = home / "rollcall.db"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until at least two people are committed, then kill
        if db_path.exists():
            try:
                with GalleryStore(db_path) as store:
                    if store.stats()["people"] >= 2:
                        break
            except Exception:  # noqa: BLE001 - the database may be mid-creation
                pass
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with GalleryStore(db_path) as store:
        assert store.integrity_check() == []
        people = store.list_people()
        assert 2 <= len(people) < 12, "killed mid-import"
        model = store.active_model_id()
        for member in fused_members(model) or (model,):  # a fused model stores each member's
            missing = store.samples_without_embedding(member)
            assert missing == [], f"every committed sample has its {member} embedding"
        for person in people:
            assert store.count_samples(person.id) >= 1, "no person without photos"
    # Running the import again completes it without duplicates.
    subprocess.run(
        [sys.executable, "-m", "core.app.cli", "import", str(tree)], cwd=REPO, env=env, check=True, capture_output=True
    )
    with GalleryStore(db_path) as store:
        assert len(store.list_people()) == 12
        names = [p.name for p in store.list_people()]
        assert len(set(names)) == 12
