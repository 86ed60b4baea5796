"""Fault tests against a real PostgreSQL: nothing lost, nothing duplicated.

Each test counts: events written on the kiosk, events on the server, duplicates (0), lost (0).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from core.site.connection import Credentials, SiteError, SiteProblem, load_credentials, save_credentials
from tests.kits.site_kit import (admin_and_kiosk, enroll, joined_since, local_uuids, server_counts, server_uuids, station,
                            sync, sync_keeping_refused, write_events)
from tests.kits.site_proxy import CuttingProxy
from tests.kits.paths import REPO

KILLS = 24
BATCH_IN_WORKER = 7  # tests/kits/site_upload_worker.py's batch size


def accounting(url: str, kiosk, name: str) -> tuple[int, int, int, int]:
    """(written, on the server, duplicates, lost)."""
    written = local_uuids(kiosk.store)
    with psycopg.connect(url) as conn:
        total, distinct = server_counts(conn, name)
        on_server = server_uuids(conn, name)
    return len(written), total, total - distinct, len(written - on_server)


def through(proxy: CuttingProxy, folder: Path) -> None:
    """Point a station's saved login at the proxy."""
    saved = load_credentials(folder)
    save_credentials(folder, Credentials(make_conninfo(saved.url, port=str(proxy.port))))


@pytest.fixture
def site(pg, tmp_path):
    cluster, url = pg
    admin, kiosk = admin_and_kiosk(url, tmp_path, "kiosk")
    yield cluster, url, admin, kiosk
    admin.close()
    kiosk.close()


def test_server_stopped_and_restarted(site):
    cluster, url, admin, kiosk = site
    person = kiosk.store.list_people()[0]
    write_events(kiosk.store, 40, person_id=person.id)
    sync(kiosk)
    cluster.stop()
    try:
        write_events(kiosk.store, 60)  # recognition goes on while the server is down
        for _ in range(2):
            with pytest.raises(SiteError) as down:
                sync(kiosk)
            assert down.value.problem is SiteProblem.UNREACHABLE
        assert kiosk.status().queue == 60
    finally:
        cluster.start()
    write_events(kiosk.store, 10)
    assert sync(kiosk).uploaded == 70
    assert accounting(url, kiosk, "kiosk") == (110, 110, 0, 0)


def test_reply_lost_after_the_server_committed(site, tmp_path):
    cluster, url, admin, kiosk = site
    proxy = CuttingProxy(cluster.port)
    try:
        through(proxy, tmp_path / "kiosk")
        kiosk.close()
        write_events(kiosk.store, 130)  # 3 batches of 50
        proxy.cut_after_commits(2)
        for _ in range(2):  # the first batch's reply is lost, then the re-sent batch's too
            with pytest.raises(SiteError):
                sync(kiosk)
            with psycopg.connect(url) as conn:
                assert server_counts(conn, "kiosk") == (50, 50)  # committed, though the kiosk never heard
        assert proxy.cuts_done == 2 and kiosk.status(check_server=False).queue == 130
        report = sync(kiosk)  # sends the first batch a third time: nothing is added twice
        assert (report.uploaded, report.queue_left) == (130, 0)
    finally:
        proxy.close()
    assert accounting(url, kiosk, "kiosk") == (130, 130, 0, 0)


def test_kiosk_killed_during_upload_again_and_again(site, tmp_path):
    cluster, url, admin, kiosk = site
    kiosk.close()
    rng = random.Random(14)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed_with_work_left = 0
    for _ in range(KILLS):
        write_events(kiosk.store, 150)
        worker = subprocess.Popen([sys.executable, "-m", "tests.kits.site_upload_worker", str(tmp_path / "kiosk")],
                                  cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
            for _ in range(rng.randint(0, 150 // BATCH_IN_WORKER - 2)):  # let a random number of batches through
                assert worker.stdout.readline().strip() == "sent", worker.stderr.read()
            time.sleep(rng.uniform(0.0, 0.004))  # ... then kill at a random moment of the next one
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
        killed_with_work_left += kiosk.status(check_server=False).queue > 0
    assert killed_with_work_left >= KILLS // 2  # most kills landed while events were still going up
    sync(kiosk)
    assert accounting(url, kiosk, "kiosk") == (KILLS * 150, KILLS * 150, 0, 0)


def test_clock_jumps_forward_and_back(site):
    """A clock that jumps back (to after the kiosk joined) keeps the kiosk's own time; one that jumps ahead of the
    server's clock beyond the allowed skew is refused by the server: those events stay on the kiosk, listed by
    `site status`, and the ones after them go on."""
    cluster, url, admin, kiosk = site
    joined_since(url, days=3)
    person = kiosk.store.list_people()[0]
    now = datetime.now().astimezone()
    moments = [now, now + timedelta(days=3), now - timedelta(days=2), now - timedelta(hours=1), now + timedelta(hours=5)]
    for moment in moments:
        write_events(kiosk.store, 5, start=moment)
        sync_keeping_refused(kiosk)
        write_events(kiosk.store, 1, start=moment, person_id=person.id)  # a check-in at the jumped time
    sync_keeping_refused(kiosk)
    ahead = [m for m in moments if m > now + timedelta(hours=1)]
    assert accounting(url, kiosk, "kiosk") == (30, 30 - 6 * len(ahead), 0, 6 * len(ahead))
    status = kiosk.status(check_server=False)
    assert status.queue == 0 and status.refused_total == 6 * len(ahead)
    assert all("give or take" in row.why for row in status.refused)
    with psycopg.connect(url) as conn:
        days = {row[0] for row in conn.execute("SELECT DISTINCT kiosk_day FROM events")}
        received = [row[0] for row in conn.execute("SELECT received_at FROM events ORDER BY kiosk_seq")]
    assert days == {m.date() for m in moments if m not in ahead}  # the kiosk's own time is kept ...
    assert received == sorted(received)  # ... and the server's arrival time, in upload order


def test_gallery_changed_while_the_kiosk_is_offline(site, tmp_path):
    cluster, url, admin, kiosk = site
    proxy = CuttingProxy(cluster.port)
    try:
        through(proxy, tmp_path / "kiosk")
        kiosk.close()
        ada = admin.store.list_people()[0]
        grace = enroll(admin.store, "Grace Hopper", seed=2)
        admin.push_people([grace])
        sync(kiosk)
        proxy.set_down(True)
        kiosk.close()
        write_events(kiosk.store, 3, person_id=kiosk.store.find_person("Grace Hopper").id)
        # offline: a new person, a rename, an erasure (their notifications are missed)
        alan = enroll(admin.store, "Alan Turing", seed=3)
        admin.push_people([alan])
        admin.store.rename_person(grace, "Grace B. Hopper")
        admin.push_people([grace])
        admin.erase_on_server([admin.store.person_uuid(ada.id)])
        admin.store.delete_person(ada.id)
        with pytest.raises(SiteError):
            sync(kiosk)
        assert sorted(p.name for p in kiosk.store.list_people()) == ["Ada Lovelace", "Grace Hopper"]
        proxy.set_down(False)
        report = sync(kiosk)
        status = kiosk.status()
        assert status.reachable and status.gallery_version == status.server_gallery_version
    finally:
        proxy.close()
    assert report.pull.erased_people == 1 and report.uploaded == 3
    assert sorted(p.name for p in kiosk.store.list_people(include_inactive=True)) == ["Alan Turing", "Grace B. Hopper"]
    assert len(kiosk.store.gallery("facenet-keras-128")) == 4
    assert accounting(url, kiosk, "kiosk") == (3, 3, 0, 0)


def test_two_admin_stations_edit_at_once(site, tmp_path):
    cluster, url, first, kiosk = site
    second = station(tmp_path / "admin-2")
    second.init(url, station="admin-2")
    shared = first.store.list_people()[0]
    assert second.store.find_person("Ada Lovelace")  # pulled at init
    people_each = 15
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def edit(admin, prefix: str, seed: int, new_name: str) -> None:
        try:
            barrier.wait()
            for i in range(people_each):
                admin.push_people([enroll(admin.store, f"{prefix} {i}", seed=seed + i)])
            person_id = admin.store.find_person("Ada Lovelace" if prefix == "first" else shared.name).id
            admin.store.rename_person(person_id, new_name, allow_duplicate=True)
            admin.push_people([person_id])
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test below
            errors.append(exc)

    threads = [threading.Thread(target=edit, args=(first, "first", 100, "Ada King")),
               threading.Thread(target=edit, args=(second, "second", 200, "Ada, Countess of Lovelace"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for admin in (first, second, kiosk):
        sync(admin)
    with psycopg.connect(url) as conn:
        people = conn.execute("SELECT count(*), count(DISTINCT version) FROM people").fetchone()
        final_name = conn.execute("SELECT name FROM people WHERE uuid = %s", [first.store.person_uuid(shared.id)]
                                  ).fetchone()[0]
        assert conn.execute("SELECT gallery_version FROM site_meta").fetchone()[0] >= 2 * (people_each + 1)
    assert people[0] == 2 * people_each + 1
    for admin in (first, second, kiosk):
        names = {p.name for p in admin.store.list_people()}
        assert len(names) == 2 * people_each + 1 and final_name in names
        assert len(admin.store.gallery("facenet-keras-128")) == 2 * (2 * people_each + 1)
    second.close()


def test_an_admin_edit_cut_off_midway_is_sent_at_the_next_sync(site, tmp_path):
    cluster, url, admin, kiosk = site
    proxy = CuttingProxy(cluster.port)
    try:
        through(proxy, tmp_path / "admin")
        admin.close()
        ada = admin.store.list_people()[0]
        admin.require_gallery_edit()  # the server answers ...
        admin.store.rename_person(ada.id, "Ada King")
        proxy.cut_before_commits(1, b"INSERT INTO people")
        admin.push_people([ada.id])  # ... then the connection drops before COMMIT: kept here, marked unsent
        assert proxy.cuts_done == 1 and "cannot be reached" in admin.status(check_server=False).error
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT name FROM people").fetchone()[0] == "Ada Lovelace"
        assert sync(admin).gallery_pushed
    finally:
        proxy.close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT name FROM people").fetchone()[0] == "Ada King"
    sync(kiosk)
    assert [p.name for p in kiosk.store.list_people()] == ["Ada King"]
