"""Site mode against a real PostgreSQL: schema, joining, the kiosk's least-privilege role, sync basics."""

from __future__ import annotations

import os
import re
import stat

import psycopg
import pytest

from core.site.connection import SiteError, SiteProblem, credentials_path, load_credentials
from core.site.service import SiteRole
from tests.kits.site_kit import (admin_and_kiosk, joined_since, local_uuids, server_counts, server_uuids, station, sync,
                            write_events)
from tests.kits.paths import REPO


@pytest.fixture
def site(pg, tmp_path):
    cluster, url = pg
    admin, kiosk = admin_and_kiosk(url, tmp_path, "north door")
    yield cluster, url, admin, kiosk
    admin.close()
    kiosk.close()


def test_init_and_join_copy_the_gallery_and_keep_credentials_private(site, tmp_path):
    cluster, url, admin, kiosk = site
    assert admin.role is SiteRole.ADMIN and kiosk.role is SiteRole.KIOSK
    people = kiosk.store.list_people()
    assert [p.name for p in people] == ["Ada Lovelace"]
    assert kiosk.store.count_samples() == 2
    assert len(kiosk.store.gallery("facenet-keras-128")) == 2
    # a kiosk keeps face templates (embeddings), not face photos; the admin station keeps both
    assert {kiosk.store.sample_crop(s.id) for s in kiosk.store.list_samples(people[0].id)} == {b""}
    assert all(admin.store.sample_crop(s.id) for s in admin.store.list_samples(admin.store.list_people()[0].id))
    for folder in (tmp_path / "admin", tmp_path / "kiosk"):
        mode = stat.S_IMODE(os.stat(credentials_path(folder)).st_mode)
        assert mode == 0o600
    kiosk_login = load_credentials(tmp_path / "kiosk")
    assert re.search(r"_kiosk_north_door_[0-9a-f]{6}$", kiosk_login.user) and cluster.password not in kiosk_login.url
    settings_json = tmp_path / "home" / "settings.json"
    assert not settings_json.exists() or cluster.password not in settings_json.read_text()
    assert "password" not in kiosk.status(check_server=False).server


def test_kiosk_role_can_add_events_and_read_the_gallery_but_not_edit_people(site, tmp_path):
    cluster, url, admin, kiosk = site
    kiosk_url = load_credentials(tmp_path / "kiosk").url
    with psycopg.connect(kiosk_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 2
        for statement in ("DELETE FROM people", "UPDATE people SET name = 'x'",
                          "INSERT INTO people (uuid, name, created_at, version)"
                          " VALUES (gen_random_uuid(), 'x', now(), 1)",
                          "DELETE FROM samples", "UPDATE embeddings SET vector = ''::bytea", "DELETE FROM events",
                          "UPDATE site_meta SET gallery_version = 0", "UPDATE kiosks SET name = 'x'",
                          "TRUNCATE events", "DROP TABLE people"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # another station's events are out of reach: inserting under the admin's id is refused
        with psycopg.connect(url) as owner:
            admin_id = owner.execute("SELECT id FROM kiosks WHERE is_admin").fetchone()[0]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO events (event_uuid, kiosk_id, kiosk_seq, kind, kiosk_time, kiosk_day,"
                         " kiosk_utc_offset_min, source, similarity) VALUES (gen_random_uuid(), %s, 1, 'unknown',"
                         " now(), current_date, 0, 'x', 0)", [admin_id])
    # nor are other stations' events and strangers' faces: a face only for its own event, the HR book read-only
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO events (event_uuid, kiosk_id, kiosk_seq, kind, kiosk_time, kiosk_day,"
                     " kiosk_utc_offset_min, source, similarity) VALUES ('00000000-0000-0000-0000-00000000000a', %s,"
                     " 1, 'unknown', now(), current_date, 0, 'x', 0)", [admin_id])
        conn.execute("INSERT INTO unknown_faces (event_uuid, model_id, vector, crop_jpeg, det_prob, face_px,"
                     " sharpness) VALUES ('00000000-0000-0000-0000-00000000000a', 'facenet-keras-128',"
                     " decode(repeat('00', 512), 'hex'), 'admin face', 1, 1, 1)")
    with psycopg.connect(kiosk_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM unknown_faces").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM rollcall_site_events('-infinity', 0, 0, 10)").fetchone()[0] == 1
        for statement in ("INSERT INTO unknown_faces (event_uuid, model_id, vector, crop_jpeg, det_prob, face_px,"
                          " sharpness) VALUES ('00000000-0000-0000-0000-00000000000a', 'facenet-keras-128',"
                          " decode(repeat('00', 512), 'hex'), 'x', 1, 1, 1)",
                          "UPDATE hr_book SET body = '{}'", "DELETE FROM unknown_faces"):
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.UniqueViolation)):
                conn.execute(statement)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT name FROM people").fetchone()[0] == "Ada Lovelace"
        assert conn.execute("SELECT crop_jpeg FROM unknown_faces").fetchone()[0] == b"admin face"


def test_events_upload_once_and_erasure_reaches_the_kiosk(site):
    cluster, url, admin, kiosk = site
    person = kiosk.store.list_people()[0]
    written = write_events(kiosk.store, 120, person_id=person.id)
    first, second = sync(kiosk), sync(kiosk)
    assert (first.uploaded, first.queue_left, second.uploaded) == (120, 0, 0)
    with psycopg.connect(url) as conn:
        on_server, distinct = server_counts(conn, "north door")
        assert (on_server, distinct) == (len(written), len(written))
        assert server_uuids(conn, "north door") == local_uuids(kiosk.store)
        kiosk_person = conn.execute("SELECT DISTINCT person_uuid::text FROM events").fetchall()
    assert kiosk_person == [(admin.store.person_uuid(admin.store.list_people()[0].id),)]
    # erasure on the admin station: server first, then every kiosk at its next sync
    ada = admin.store.list_people()[0]
    admin.erase_on_server([admin.store.person_uuid(ada.id)])
    admin.store.delete_person(ada.id)
    report = sync(kiosk)
    assert report.pull.erased_people == 1
    assert kiosk.store.list_people(include_inactive=True) == [] and kiosk.store.count_samples() == 0
    assert len(kiosk.store.gallery("facenet-keras-128")) == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == 0
        assert server_counts(conn) == (0, 0)  # their attendance goes too


def test_kiosk_refuses_gallery_edits(site):
    _, _, _, kiosk = site
    with pytest.raises(SiteError) as refused:
        kiosk.require_gallery_edit()
    assert refused.value.problem is SiteProblem.NEEDS_ADMIN and "admin station" in str(refused.value)


def test_server_down_is_a_clear_error_and_events_stay_queued(site):
    cluster, url, admin, kiosk = site
    write_events(kiosk.store, 5)
    cluster.stop()
    try:
        with pytest.raises(SiteError) as down:
            sync(kiosk)
        assert down.value.problem is SiteProblem.UNREACHABLE
        assert "cannot be reached" in str(down.value) and cluster.password not in str(down.value)
        status = kiosk.status()
        assert status.reachable is False and status.queue == 5
    finally:
        cluster.start()
    assert sync(kiosk).uploaded == 5
    assert kiosk.status().queue == 0


def test_leave_keeps_local_data_and_refuses_with_unsent_events(site, tmp_path):
    cluster, url, admin, kiosk = site
    write_events(kiosk.store, 3)
    cluster.stop()
    try:
        with pytest.raises(SiteError) as refused:
            kiosk.leave()
        assert refused.value.problem is SiteProblem.UNSENT_EVENTS
    finally:
        cluster.start()
    old_login = load_credentials(tmp_path / "kiosk").url
    kiosk.leave()
    assert kiosk.role is SiteRole.STANDALONE and not credentials_path(tmp_path / "kiosk").exists()
    with pytest.raises(psycopg.OperationalError):  # the login that left works no more
        psycopg.connect(old_login, autocommit=True)
    assert kiosk.store.stats()["events"] == 3 and kiosk.store.stats()["people"] == 1


def test_join_needs_the_owner_and_says_so(site, tmp_path):
    cluster, url, admin, kiosk = site
    stranger = station(tmp_path / "stranger")
    with pytest.raises(SiteError) as refused:
        stranger.join(load_credentials(tmp_path / "kiosk").url, "sneaky")  # a kiosk's login cannot add kiosks
    assert refused.value.problem is SiteProblem.NOT_ALLOWED and "owner" in str(refused.value)
    with pytest.raises(SiteError) as wrong:
        stranger.join(cluster.url(url.rsplit("/", 1)[1].split("?")[0], password="wrong"), "x")
    assert wrong.value.problem is SiteProblem.NOT_ALLOWED and "wrong" not in str(wrong.value).split("(")[0]
    assert stranger.role is SiteRole.STANDALONE


def test_a_moved_check_out_replaces_its_row_on_the_server(site):
    from datetime import datetime, timedelta

    cluster, url, admin, kiosk = site
    person = kiosk.store.list_people()[0]
    joined_since(url, days=1)
    event = write_events(kiosk.store, 1, start=datetime.now().astimezone() - timedelta(hours=9),
                         person_id=person.id)[0]
    sync(kiosk)
    later = event.time + timedelta(hours=8)
    kiosk.store.update_event_time(event.id, later, similarity=0.9)  # check-out mode moves the day's last sighting
    assert sync(kiosk).uploaded == 1
    assert sync(kiosk).uploaded == 0
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT kiosk_time, revision, similarity FROM events").fetchall()
    assert len(rows) == 1 and rows[0][0] == later and rows[0][1] == 1 and abs(rows[0][2] - 0.9) < 1e-6


def test_tls_with_sslmode_verify_full(pg, tmp_path):
    """sslmode in the URL: the station's connections are encrypted and the server's certificate checked."""
    import shutil
    import subprocess

    cluster, url = pg
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", certs / "server.key",
                    "-out", certs / "server.crt"], check=True, capture_output=True)
    for name in ("server.key", "server.crt"):
        target = cluster.data / name
        shutil.copy(certs / name, target)
        os.chmod(target, 0o600)
        if os.geteuid() == 0:
            shutil.chown(target, "postgres", "postgres")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET ssl = on")
        conn.execute("SELECT pg_reload_conf()")
    try:
        secure = url.replace("sslmode=disable", f"sslmode=verify-full&sslrootcert={certs / 'server.crt'}")
        admin = station(tmp_path / "admin")
        admin.init(secure)
        kiosk = station(tmp_path / "kiosk")
        kiosk.join(secure, "tls kiosk")
        assert "sslmode=verify-full" in kiosk.status().server
        for site in (admin, kiosk):
            encrypted = site._run(lambda conn: conn.execute(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0])
            assert encrypted is True
        wrong_ca = tmp_path / "other.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=x",
                        "-keyout", tmp_path / "other.key", "-out", wrong_ca], check=True, capture_output=True)
        stranger = station(tmp_path / "stranger")
        with pytest.raises(SiteError) as refused:
            stranger.join(secure.replace(str(certs / "server.crt"), str(wrong_ca)), "mitm")
        assert refused.value.problem is SiteProblem.UNREACHABLE and "certificate" in str(refused.value)
        admin.close()
        kiosk.close()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET ssl")
            conn.execute("SELECT pg_reload_conf()")


def test_without_a_postgresql_server_only_site_tests_skip_and_say_why(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = REPO
    env = {**{k: v for k, v in os.environ.items() if k != "CI"},  # a developer's machine, where skipping is allowed
           "ROLLCALL_PG_BIN": str(tmp_path / "no-postgresql"), "PYTHONPATH": str(repo)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                             "tests/site/test_site_roles.py::test_kiosk_refuses_gallery_edits",
                             "tests/base/test_settings.py::test_every_section_round_trips"],
                            cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "site tests need PostgreSQL's server binaries" in result.stdout


def test_a_refused_upload_says_so_and_keeps_the_queue(site):
    cluster, url, admin, kiosk = site
    write_events(kiosk.store, 7)
    from core.site.roles import grant_kiosk_rights, kiosk_group_role

    group = kiosk_group_role(load_credentials(kiosk.data_dir).database)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'REVOKE INSERT ON events FROM "{group}"')
    with pytest.raises(SiteError) as refused:
        sync(kiosk)
    assert refused.value.problem is SiteProblem.SERVER_ERROR and "permission denied" in str(refused.value)
    assert kiosk.status().queue == 7
    with psycopg.connect(url, autocommit=True) as conn:
        grant_kiosk_rights(conn, "public")
    assert sync(kiosk).uploaded == 7
    with psycopg.connect(url) as conn:
        assert server_counts(conn, "north door") == (7, 7)
