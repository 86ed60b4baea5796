"""Site mode through the Engine: kiosks refuse gallery edits, the admin station's edits reach kiosks,
and background sync (woken by NOTIFY) keeps a running kiosk current."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import psycopg
import pytest

from core.app.changes import ChangeKind
from core.app.engine import Engine
from core.base.settings import Settings, SiteSettings
from core.site.connection import SiteError, SiteProblem
from tests.kits.site_kit import MODEL, enroll, server_counts, write_events
from tests.kits.site_kit import make_engine

NOTIFY_WAIT_S = 5.0  # the target for an enrollment reaching an online kiosk




@pytest.fixture
def stations(pg, tmp_path):
    cluster, url = pg
    admin = make_engine(tmp_path / "admin")
    ada = enroll(admin.store, "Ada Lovelace", seed=1)
    enroll(admin.store, "Charles Babbage", seed=2)
    admin.site_init(url)
    kiosk = make_engine(tmp_path / "kiosk")
    kiosk.site_join(url, "door")
    yield url, admin, kiosk, ada
    admin.close()
    kiosk.close()


def test_a_kiosk_refuses_every_gallery_edit_and_changes_nothing(stations, tmp_path):
    url, admin, kiosk, _ = stations
    person = kiosk.find_person("Ada Lovelace")
    other = kiosk.find_person("Charles Babbage")
    sample = kiosk.samples(person.id)[0]
    edits = {
        "enroll": lambda: kiosk.enroll_files("New Person", [tmp_path / "x.jpg"]),
        "add photos": lambda: kiosk.add_photos(person.id, [tmp_path / "x.jpg"]),
        "enroll captured": lambda: kiosk.enroll_candidates("New Person", []),
        "import": lambda: list(kiosk.import_folder(tmp_path)),
        "rename": lambda: kiosk.rename_person(person.id, "Someone Else"),
        "external id": lambda: kiosk.set_external_id(person.id, "E1"),
        "merge": lambda: kiosk.merge_people(person.id, other.id),
        "remove samples": lambda: kiosk.remove_samples([sample.id]),
        "delete": lambda: kiosk.delete_person(person.id),
        "re-embed": lambda: list(kiosk.reembed(MODEL.id)),
        "activate": lambda: kiosk.activate_model(MODEL.id),
        "register model": lambda: kiosk.register_model(MODEL),
    }
    for what, edit in edits.items():
        with pytest.raises(SiteError) as refused:
            edit()
        assert refused.value.problem is SiteProblem.NEEDS_ADMIN, what
        assert "admin station" in str(refused.value), what
    assert sorted(p.person.name for p in kiosk.people()) == ["Ada Lovelace", "Charles Babbage"]
    assert kiosk.stats().samples == 4
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 2


def test_admin_edits_reach_the_kiosk_and_merges_keep_attendance(stations):
    url, admin, kiosk, ada = stations
    babbage = admin.find_person("Charles Babbage").id
    on_kiosk = kiosk.find_person("Charles Babbage").id
    write_events(kiosk.store, 4, person_id=on_kiosk)
    kiosk.sync_site_now()
    admin.rename_person(ada, "Ada King")
    admin.set_external_id(ada, "E042")
    admin.merge_people(ada, babbage)  # Babbage's samples and attendance go to Ada
    write_events(kiosk.store, 2, person_id=on_kiosk)  # written before the kiosk heard of the merge
    report = kiosk.sync_site_now().value
    assert report.pull.changed and report.uploaded == 2
    people = kiosk.people()
    assert [(o.person.name, o.person.external_id, o.samples) for o in people] == [("Ada King", "E042", 4)]
    assert kiosk.stats().events == 6  # the local events moved to the person kept
    with psycopg.connect(url) as conn:
        assert server_counts(conn, "door") == (6, 6)
        holders = conn.execute("SELECT DISTINCT person_uuid::text FROM events").fetchall()
    assert holders == [(admin.store.person_uuid(ada),)]
    rows = admin.range_report(date.today() - timedelta(days=1), date.today() + timedelta(days=1))
    assert [(r.name, r.events, r.kiosks) for r in rows] == [("Ada King", 6, ("door",))]
    backup = kiosk.backup().value  # the kiosk's backup still holds Ada ...
    admin.delete_person(ada)
    kiosk.sync_site_now()
    assert kiosk.people() == [] and kiosk.stats().samples == 0
    from core.gallery.store import GalleryStore

    with GalleryStore(backup) as old:  # ... until the erasure reaches the kiosk
        assert old.list_people(include_inactive=True) == [] and old.count_samples() == 0
    with psycopg.connect(url) as conn:
        assert server_counts(conn) == (0, 0)


def test_background_sync_brings_an_enrollment_within_seconds(stations):
    url, admin, kiosk, _ = stations
    seen = threading.Event()
    kiosk.subscribe(lambda changes: seen.set() if changes.touches(ChangeKind.PEOPLE) else None)
    assert kiosk.start_site_sync()  # every 60 s, unless a NOTIFY wakes it
    time.sleep(1.0)  # the first round and the LISTEN
    seen.clear()
    started = time.monotonic()
    grace = enroll(admin.store, "Grace Hopper", seed=3)
    admin.site.push_people([grace])
    assert seen.wait(NOTIFY_WAIT_S), "the enrollment did not reach the kiosk"
    elapsed = time.monotonic() - started
    kiosk.stop_site_sync()
    assert kiosk.find_person("Grace Hopper") and elapsed < NOTIFY_WAIT_S
    assert kiosk.matcher().people_count == 3  # the matcher was rebuilt with the new person


def test_admin_edits_need_the_server(stations, pg):
    cluster, url = pg
    _, admin, _, ada = stations
    cluster.stop()
    try:
        with pytest.raises(SiteError) as down:
            admin.rename_person(ada, "Someone")
        assert down.value.problem is SiteProblem.UNREACHABLE
    finally:
        cluster.start()
    assert admin.person(ada).name == "Ada Lovelace"
