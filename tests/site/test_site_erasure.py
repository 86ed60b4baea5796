"""The erasure hunt: after the admin station deletes a person and every station syncs, nothing of them is
left on the server, in any station's database, backups or files: not their UUID, name, face templates or
face crops, nor the stranger's face the admin station had given them. A kiosk that left the site and a
kiosk folder replaced by a re-join keep their copy, as `site leave` and `site join` say."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from core.base.records import AttendanceEvent, EventKind, ReviewState
from tests.kits.site_kit import MODEL, enroll, joined_since, station
from tests.kits.site_kit import make_engine
STRANGER_CROP = b"\xff\xd8 the face a door kept of a stranger, later given to Ada " * 20


def needles_of(admin, person_id: int) -> dict[str, bytes]:
    """What must be found nowhere: the person's UUID and name, each face template and crop."""
    gallery = admin.store.site_gallery(person_ids=[person_id])
    found = {"uuid": admin.store.person_uuid(person_id).encode(), "name": b"Ada Lovelace"}
    found.update({f"template {e.sample_uuid[:8]}": bytes(e.vector) for e in gallery.embeddings})
    found.update({f"crop {s.uuid[:8]}": bytes(s.crop_jpeg) for s in gallery.samples})
    return found


def files_holding(folder: Path, needles: dict[str, bytes]) -> list[str]:
    return [f"{path.relative_to(folder)}: {what}" for path in sorted(folder.rglob("*")) if path.is_file()
            for what, needle in needles.items() if needle in path.read_bytes()]


def server_holding(url: str, needles: dict[str, bytes]) -> list[str]:
    """Every row of every table on the server, as text (bytea as hex), searched."""
    found = []
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            text = "\n".join(r[0] for r in conn.execute(f'SELECT t::text FROM "{table}" t'))
            for what, needle in needles.items():
                if needle.decode("utf-8", "replace") in text or needle.hex() in text:
                    found.append(f"{table}: {what}")
    return found


def stranger_seen(kiosk, vector: np.ndarray) -> None:
    event = kiosk.store.record_event(AttendanceEvent(None, None, None, EventKind.UNKNOWN,
                                                     datetime.now().astimezone() - timedelta(hours=2), "door", 0.2))
    kiosk.store.add_unknown_face(event.id, MODEL.id, vector, STRANGER_CROP, 0.99, 120, 40.0)


@pytest.mark.slow
def test_after_a_delete_and_a_sync_everywhere_nothing_of_the_person_is_left(pg, tmp_path):
    _, url = pg
    admin = make_engine(tmp_path / "admin")
    ada = enroll(admin.store, "Ada Lovelace", seed=1)
    enroll(admin.store, "Charles Babbage", seed=2)
    admin.site_init(url)
    north, south, west = (make_engine(tmp_path / name) for name in ("north", "south", "west-old"))
    for engine, name in ((north, "north"), (south, "south"), (west, "west")):
        engine.site_join(url, name)
    joined_since(url, days=1)  # the stranger and Ada were seen after the kiosks joined
    vector = np.random.default_rng(5).normal(size=128).astype(np.float32)
    vector /= np.linalg.norm(vector)
    stranger_seen(north, vector)
    north_ada = north.find_person("Ada Lovelace").id
    north.store.record_event(AttendanceEvent(None, north_ada, None, EventKind.CHECK_IN,
                                             datetime.now().astimezone() - timedelta(hours=1), "door", 0.9))
    north.sync_site_now()
    north.store.backup_to(tmp_path / "north" / "backups" / "rollcall-2026-01-01.db")  # the stranger still open

    # on the admin station the stranger is given to Ada (Review's assign: a sample of the kept face), and a punch
    admin.sync_site_now()
    face = next(f for f in admin.store.unknown_faces() if f.vector is not None and np.allclose(f.vector, vector))
    admin.store.set_unknown_review([face.id], ReviewState.ASSIGNED, ada, 1)
    sample = admin.store.add_sample(ada, STRANGER_CROP, "review", hashlib.sha256(STRANGER_CROP).hexdigest(),
                                    0.99, 120, 40.0)
    admin.store.put_embeddings(MODEL.id, [(sample.id, vector)])
    admin.site.push_people([ada])
    admin.punch(ada, datetime.now() - timedelta(hours=3), "forgot the badge")
    admin.store.backup_to(tmp_path / "admin" / "backups" / "rollcall-2026-01-02.db")
    for engine in (north, south, west, admin):
        engine.sync_site_now()
    needles = needles_of(admin, ada)
    needles["stranger's crop"] = STRANGER_CROP
    needles["stranger's template"] = vector.astype("<f4").tobytes()

    keeps = south.site.what_leaving_keeps()
    south.site_leave()  # a kiosk that left keeps its copy, and says so
    assert "face templates" in keeps and "wipe" in keeps
    replacement = make_engine(tmp_path / "west-new")
    notice = replacement.site_join(url, "west").value.notice
    assert notice and "wipe" in notice  # the replaced folder keeps its copy, and the join says so

    admin.delete_person(ada)  # what `rollcall delete --yes "Ada Lovelace"` does
    north.store.record_event(AttendanceEvent(None, north_ada, None, EventKind.CHECK_IN,  # uploaded late: dropped
                                             datetime.now().astimezone() - timedelta(minutes=5), "door", 0.9))
    for engine in (admin, north, replacement, admin, north):
        engine.sync_site_now()
    for engine in (admin, north, south, west, replacement):
        engine.close()

    assert server_holding(url, needles) == []
    for folder in ("admin", "north", "west-new"):
        assert files_holding(tmp_path / folder, needles) == [], folder
    # what a left or replaced kiosk keeps, as documented: names and templates, never a face photo of the gallery
    for folder in ("south", "west-old"):
        kept = files_holding(tmp_path / folder, needles)
        assert any("name" in k for k in kept) and not any("crop" in k and "stranger" not in k for k in kept)


def test_site_leave_and_a_join_in_its_place_say_what_the_old_copy_keeps(pg, tmp_path, capsys):
    from core.app.cli import main

    _, url = pg
    admin = station(tmp_path / "admin")
    enroll(admin.store, "Ada Lovelace", seed=1)
    admin.init(url)
    kiosk = station(tmp_path / "door")
    kiosk.join(url, "door")
    kiosk.close()
    kiosk.store.close()
    assert main(["--home", str(tmp_path / "door"), "site", "leave"]) == 0
    out = capsys.readouterr().out
    assert "left the site" in out and "face templates" in out and "wipe its data folder" in out
    assert main(["--home", str(tmp_path / "door-new"), "site", "join", url, "--kiosk", "door"]) == 0
    err = capsys.readouterr().err
    assert "warning: This station replaces the earlier copy of kiosk 'door'" in err and "wipe it" in err
    admin.close()
