"""A hostile kiosk gets nothing: psql-style attempts with a kiosk's own stored login (its site-credentials.json)
against the real PostgreSQL, each refused, with the other stations' data and sync positions unchanged.

Set ROLLCALL_HOSTILE_TABLE=path to write the table of attempts and the server's answers (docs/security.md).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from core.site.connection import SiteError, SiteProblem, check_url, load_credentials
from core.site.roles import kiosk_group_role
from core.site.schema import SCHEMA_LOCK, SERVER_MIGRATIONS, migrate
from core.site.service import Site
from tests.kits.site_kit import enroll, station, sync, write_events

DENIED = errors.InsufficientPrivilege
ATTEMPTS: list[tuple[str, str, str]] = []  # (defect or class, what the kiosk tried, what the server answered)
EVENT_COLUMNS = "event_uuid, kiosk_id, kiosk_seq, kind, kiosk_time, kiosk_day, kiosk_utc_offset_min, source, similarity"


@dataclass
class HostileSite:
    cluster: object
    url: str
    admin: Site
    north: Site  # the hostile kiosk: its stored login is `hostile`
    south: Site
    hostile: psycopg.Connection
    owner: psycopg.Connection
    folder: Path

    def station_id(self, name: str) -> int:
        return self.owner.execute("SELECT id FROM kiosks WHERE name = %s", [name]).fetchone()[0]

    def event_values(self, kiosk: str, seq: int = 10**6) -> str:
        return (f"'{uuid.uuid4()}', {self.station_id(kiosk)}, {seq}, 'unknown', now(), current_date, 0, 'x', 0")


@pytest.fixture(scope="module", autouse=True)
def attempts_table():
    yield
    target = os.environ.get("ROLLCALL_HOSTILE_TABLE")
    if target and ATTEMPTS:
        rows = ["| defect | what the kiosk tried | what the server answered |", "| --- | --- | --- |"]
        rows += [f"| {d} | `{t.replace('|', '¦')}` | {a.replace('|', '¦')} |" for d, t, a in ATTEMPTS]
        Path(target).write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture
def site(pg, tmp_path):
    cluster, url = pg
    admin = station(tmp_path / "admin")
    enroll(admin.store, "Ada Lovelace", seed=1)
    admin.init(url)
    north, south = station(tmp_path / "north"), station(tmp_path / "south")
    north.join(url, "north")
    south.join(url, "south")
    for kiosk, count in ((north, 3), (south, 4), (admin, 2)):
        write_events(kiosk.store, count)
    for kiosk in (north, south, admin, south):
        sync(kiosk)
    hostile = psycopg.connect(load_credentials(tmp_path / "north").url, autocommit=True)
    owner = psycopg.connect(url, autocommit=True)
    yield HostileSite(cluster, url, admin, north, south, hostile, owner, tmp_path)
    for conn in (hostile, owner):
        conn.close()
    for kiosk in (admin, north, south):
        kiosk.close()


def others(site: HostileSite) -> dict[str, object]:
    """Everything of the other stations on the server, and the gallery, as comparable values."""
    q = site.owner.execute
    return {
        "events": q("SELECT e.* FROM events e JOIN kiosks k ON k.id = e.kiosk_id WHERE k.name <> 'north'"
                    " ORDER BY e.id").fetchall(),
        "stations": q("SELECT id, name, db_role, is_admin, acked_seq, queue_length, gallery_version, left_at"
                      " FROM kiosks WHERE name <> 'north' ORDER BY id").fetchall(),
        "faces": q("SELECT f.* FROM unknown_faces f JOIN events e USING (event_uuid) JOIN kiosks k"
                   " ON k.id = e.kiosk_id WHERE k.name <> 'north' ORDER BY f.event_uuid").fetchall(),
        "gallery": q("SELECT md5(string_agg(t, ',' ORDER BY t)) FROM (SELECT p::text FROM people p UNION ALL"
                     " SELECT s::text FROM samples s UNION ALL SELECT e::text FROM embeddings e UNION ALL"
                     " SELECT m::text FROM site_meta m UNION ALL SELECT h::text FROM hr_book h UNION ALL"
                     " SELECT x::text FROM erasures x UNION ALL SELECT r::text FROM rollcall_schema r) u(t)"
                     ).fetchone(),
        "roles": q("SELECT rolname, rolcanlogin, rolpassword FROM pg_authid WHERE rolname <> %s ORDER BY rolname",
                   [site.hostile.info.user]).fetchall(),
    }


def refused(site: HostileSite, defect: str, statement: str, expect: type[Exception] | tuple = DENIED) -> str:
    """The hostile login tries `statement`: refused, and nothing of the other stations changed."""
    before = others(site)
    with pytest.raises(expect) as caught:
        site.hostile.execute(statement)
    assert others(site) == before, statement
    answer = f"{type(caught.value).__name__}: {str(caught.value).splitlines()[0]}"
    ATTEMPTS.append((defect, " ".join(statement.split()), answer))
    return answer


def answered(site: HostileSite, defect: str, statement: str) -> list[tuple]:
    """An attempt the server answers without an error, but with nothing of another station's."""
    before = others(site)
    cursor = site.hostile.execute(statement)
    rows = cursor.fetchall() if cursor.description else []
    assert others(site) == before, statement
    ATTEMPTS.append((defect, " ".join(statement.split()),
                     f"{len(rows)} rows" if cursor.description else f"{cursor.rowcount} rows changed"))
    return rows


def the_others_still_sync(site: HostileSite) -> None:
    """South's next event reaches the server and the admin station; nobody's read position is in the future."""
    write_events(site.south.store, 1)
    assert sync(site.south).uploaded == 1
    report = sync(site.admin)
    assert report.events_mirrored.added >= 1
    now = site.owner.execute("SELECT now()").fetchone()[0]
    for kiosk in (site.admin, site.south):
        cursor = kiosk.store.meta_value("site_events_received_up_to")
        assert cursor is None or datetime.fromisoformat(cursor) <= now + timedelta(seconds=5)


def test_1_a_temporary_table_or_search_path_cannot_make_the_kiosk_another_station(site):
    north_id, south_id = site.station_id("north"), site.station_id("south")
    refused(site, "1 act as another", "CREATE TEMP TABLE kiosks (id integer, db_role text, left_at timestamptz,"
                                      " is_admin boolean)")
    refused(site, "1 act as another", "CREATE TEMP VIEW kiosks AS SELECT 2 AS id, session_user AS db_role")
    refused(site, "1 act as another", "CREATE TABLE public.kiosks_shadow (id integer)")
    refused(site, "1 act as another", "CREATE SCHEMA north")
    refused(site, "1 act as another", "CREATE FUNCTION pg_temp.now() RETURNS timestamptz LANGUAGE sql"
                                      " AS $$ SELECT '2099-01-01'::timestamptz $$")
    site.hostile.execute("SET search_path = pg_temp, \"$user\", public")
    assert answered(site, "1 act as another", "SELECT rollcall_kiosk_id()") == [(north_id,)]
    assert answered(site, "1 act as another", f"SELECT event_uuid FROM events WHERE kiosk_id = {south_id}") == []
    assert answered(site, "1 act as another", f"UPDATE events SET kind = 'unknown' WHERE kiosk_id = {south_id}") == []
    refused(site, "1 act as another", f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({site.event_values('south')})")
    south_event = site.owner.execute("SELECT event_uuid FROM events WHERE kiosk_id = %s LIMIT 1",
                                     [south_id]).fetchone()[0]
    refused(site, "1 act as another", "INSERT INTO unknown_faces (event_uuid, model_id, vector, crop_jpeg, det_prob,"
                                      f" face_px, sharpness) VALUES ('{south_event}', 'facenet-keras-128',"
                                      " decode(repeat('00', 512), 'hex'), 'x', 1, 1, 1)")
    refused(site, "1 act as another", f"INSERT INTO correction_faces (event_uuid, crop_jpeg) VALUES ('{south_event}',"
                                      " 'x')")
    # the class: every SECURITY DEFINER function has a fixed search_path, schema-qualified, pg_temp last
    definers = site.owner.execute("SELECT proname, proconfig FROM pg_proc WHERE prosecdef"
                                  " AND pronamespace = 'public'::regnamespace").fetchall()
    assert len(definers) >= 5
    assert all(config == ["search_path=public, pg_temp"] for _, config in definers), definers
    the_others_still_sync(site)


def test_2_ids_and_sequence_positions_are_set_by_the_server(site):
    next_id = site.owner.execute("SELECT max(id) + 1 FROM events").fetchone()[0]
    refused(site, "2 block uploads", f"INSERT INTO events (id, {EVENT_COLUMNS}) OVERRIDING SYSTEM VALUE VALUES"
                                     f" ({next_id}, {site.event_values('north')})")
    refused(site, "2 block uploads", f"INSERT INTO events (id, {EVENT_COLUMNS}) OVERRIDING USER VALUE VALUES"
                                     f" ({next_id}, {site.event_values('north')})")
    refused(site, "2 block uploads", "SELECT nextval('events_id_seq')")
    refused(site, "2 block uploads", "SELECT setval('events_id_seq', 1)")
    refused(site, "2 block uploads", "ALTER SEQUENCE events_id_seq RESTART WITH 1")
    refused(site, "2 block uploads", "ALTER TABLE events ALTER COLUMN id RESTART WITH 1")
    refused(site, "2 block uploads", "UPDATE events SET id = id + 1000", (DENIED, errors.GeneratedAlways))
    refused(site, "2 block uploads", f"UPDATE events SET kiosk_id = {site.station_id('south')}")
    refused(site, "2 block uploads", "DO $$ BEGIN LOCK TABLE events IN ACCESS EXCLUSIVE MODE; END $$")
    refused(site, "2 block uploads", "DO $$ BEGIN LOCK TABLE kiosks IN SHARE MODE; END $$")
    answered(site, "2 block uploads", f"SELECT pg_advisory_lock({SCHEMA_LOCK})")  # the old migration lock
    the_others_still_sync(site)  # the admin station's sync (it migrates) is not held up by it
    site.hostile.execute(f"SELECT pg_advisory_unlock({SCHEMA_LOCK})")


def test_3_receive_times_are_set_by_the_server(site):
    north_event = site.owner.execute("SELECT event_uuid FROM events e JOIN kiosks k ON k.id = e.kiosk_id"
                                     " WHERE k.name = 'north' LIMIT 1").fetchone()[0]
    refused(site, "3 forge received_at", f"INSERT INTO events ({EVENT_COLUMNS}, received_at) VALUES"
                                         f" ({site.event_values('north')}, '2099-01-01')")
    refused(site, "3 forge received_at", "UPDATE events SET received_at = '2099-01-01'")
    refused(site, "3 forge received_at", "INSERT INTO unknown_faces (event_uuid, model_id, vector, crop_jpeg,"
                                         f" det_prob, face_px, sharpness, received_at) VALUES ('{north_event}',"
                                         " 'm', '', 'x', 1, 1, 1, '2099-01-01')")
    refused(site, "3 forge received_at", "UPDATE unknown_faces SET received_at = '2099-01-01'")
    refused(site, "3 forge received_at", "ALTER TABLE events DISABLE TRIGGER USER")
    # moving its own event is allowed (a higher revision and sequence number): the server stamps the receive time
    answered(site, "3 forge received_at", "UPDATE events SET revision = revision + 1, kiosk_seq = 1000,"
                                          " kiosk_time = now(), kiosk_utc_offset_min = 0, kiosk_day = (now() AT TIME"
                                          f" ZONE 'UTC')::date WHERE event_uuid = '{north_event}'")
    received, now = site.owner.execute("SELECT received_at, now() FROM events WHERE event_uuid = %s",
                                       [north_event]).fetchone()
    assert received <= now
    the_others_still_sync(site)


def test_4_a_kiosk_reads_templates_but_no_face_photo_and_no_login(site):
    for statement in ("SELECT crop_jpeg FROM samples", "SELECT * FROM samples", "SELECT s FROM samples s",
                      "SELECT crop_jpeg FROM unknown_faces", "SELECT crop_jpeg FROM correction_faces",
                      "SELECT * FROM kiosks", "SELECT db_role FROM kiosks", "SELECT changed_by FROM people",
                      "SELECT changed_by FROM hr_book", "SELECT * FROM events", "SELECT * FROM rollcall_schema",
                      "SELECT lo_import('/etc/passwd')", "SELECT pg_read_binary_file('base/1/1259')",
                      "COPY samples TO STDOUT"):
        refused(site, "4 face photos", statement)
    assert answered(site, "4 face photos", "SELECT count(vector) FROM embeddings") == [(2,)]
    assert answered(site, "4 face photos", "SELECT count(uuid) FROM samples") == [(2,)]
    the_others_still_sync(site)


def test_functions_check_their_arguments_and_roles_stay_the_servers(site):
    north_id = site.station_id("north")
    refused(site, "functions", "SELECT rollcall_heartbeat(-1, 0, 0)", errors.InvalidParameterValue)
    refused(site, "functions", "SELECT rollcall_heartbeat(0, 0, 999999)", errors.InvalidParameterValue)
    refused(site, "functions", "SELECT rollcall_heartbeat(NULL, 0, 0)", errors.InvalidParameterValue)
    answered(site, "functions", "SELECT rollcall_heartbeat(0, 1000000000, 0)")
    acked, high = site.owner.execute("SELECT acked_seq, (SELECT max(kiosk_seq) FROM events WHERE kiosk_id = %s)"
                                     " FROM kiosks WHERE id = %s", [north_id, north_id]).fetchone()
    assert acked <= high  # a position is the server's: no further than what it holds
    everything = "SELECT * FROM rollcall_site_events('-infinity', 0, 0, 2000000000)"
    assert len(answered(site, "functions", everything)) <= 10000
    assert answered(site, "functions", "SELECT * FROM rollcall_site_events(NULL, 0, 0, 10)") == []
    refused(site, "functions", "SELECT rollcall_received_now()")
    south_login = site.owner.execute("SELECT db_role FROM kiosks WHERE name = 'south'").fetchone()[0]
    group = kiosk_group_role(site.hostile.info.dbname)
    with psycopg.connect(load_credentials(site.folder / "south").url, autocommit=True) as south_session:
        south_pid = south_session.info.backend_pid
        for statement in ("DELETE FROM events", "TRUNCATE events", "UPDATE people SET name = 'x'",
                          "INSERT INTO erasures (uuid, kind, version) VALUES (gen_random_uuid(), 'person', 999)",
                          "DELETE FROM model_packages", "INSERT INTO kiosks (name) VALUES ('x')",
                          "UPDATE site_meta SET gallery_version = 0", "UPDATE hr_book SET body = '{}'",
                          "DELETE FROM unknown_faces", "CREATE ROLE intruder LOGIN PASSWORD 'x'",
                          f'ALTER ROLE "{south_login}" PASSWORD \'x\'', f'ALTER ROLE "{south_login}" NOLOGIN',
                          f'GRANT "{group}" TO "{south_login}"', f'SET ROLE "{site.owner.info.user}"',
                          f'SET SESSION AUTHORIZATION "{site.owner.info.user}"',
                          f"SELECT pg_terminate_backend({south_pid})", f"SELECT pg_cancel_backend({south_pid})",
                          "ALTER FUNCTION rollcall_kiosk_id() RESET search_path",
                          "DROP POLICY kiosk_own_events ON events",
                          "ALTER TABLE events DISABLE ROW LEVEL SECURITY", "CREATE DATABASE stolen"):
            refused(site, "other tables, roles, sessions", statement)
        assert south_session.execute("SELECT 1").fetchone() == (1,)
    the_others_still_sync(site)


def test_7_names_are_checked_before_any_role_is_made(site, tmp_path):
    roles_before = site.owner.execute("SELECT count(*) FROM pg_roles").fetchone()[0]
    admin_row = site.owner.execute("SELECT * FROM kiosks WHERE is_admin").fetchall()
    site.north.close()
    for name, says in (("admin", "reserved"), ("Admin", "reserved"), ("x" * 10_240, "at most"),
                       ("north; drop table events", "letters and digits"), ("", "Give the station a name"),
                       ("NORTH", "too like")):
        stranger = station(tmp_path / f"stranger-{len(name)}-{name[:3]}")
        with pytest.raises(SiteError) as bad:
            stranger.join(site.url, name)
        assert bad.value.problem is SiteProblem.BAD_NAME and says in str(bad.value), str(bad.value)
        ATTEMPTS.append(("7 names", f"site join --kiosk {name[:40]!r}{'…' if len(name) > 40 else ''}",
                         str(bad.value).split(";")[0][:120]))
        assert stranger.role.value == "standalone"
    nd = station(tmp_path / "nd")
    nd.join(site.url, "north-door")
    with pytest.raises(SiteError) as clash:
        station(tmp_path / "nd2").join(site.url, "north door")
    assert clash.value.problem is SiteProblem.BAD_NAME and "'north-door'" in str(clash.value)
    assert "kiosks_db_role_key" not in str(clash.value)
    with pytest.raises(SiteError) as taken:
        station(tmp_path / "admin2").init(site.url, "south")  # an admin station cannot take a kiosk's row
    assert taken.value.problem is SiteProblem.BAD_NAME
    assert site.owner.execute("SELECT count(*) FROM pg_roles").fetchone()[0] == roles_before + 1  # north-door's
    assert site.owner.execute("SELECT * FROM kiosks WHERE is_admin").fetchall() == admin_row
    nd.close()


def test_left_and_replaced_logins_stop_working_at_once(site, tmp_path):
    old_south_url = load_credentials(tmp_path / "south").url
    old_south = psycopg.connect(old_south_url, autocommit=True)  # a session the old copy keeps open
    old_south.execute("SELECT rollcall_heartbeat(5, 0, 0)")  # its last contact: 5 events still queued
    north_url = load_credentials(tmp_path / "north").url
    site.north.leave()
    refused(site, "left login", "SELECT count(vector) FROM embeddings", (DENIED, psycopg.OperationalError))
    refused(site, "left login", f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({site.event_values('north')})",
            (DENIED, psycopg.OperationalError))
    with pytest.raises(psycopg.OperationalError) as gone:
        psycopg.connect(north_url)
    ATTEMPTS.append(("left login", "connect with the stored login after `site leave`",
                     str(gone.value).splitlines()[-1][:120]))
    # re-joining under the same name from a new folder: the old copy's login ends, its queue is named
    replacement = station(tmp_path / "south-new")
    status = replacement.join(site.url, "south")
    assert status.notice and "5 events" in status.notice and "no longer works" in status.notice
    with pytest.raises((DENIED, psycopg.OperationalError)):
        old_south.execute("SELECT count(vector) FROM embeddings")
    with pytest.raises(psycopg.OperationalError) as replaced:
        psycopg.connect(old_south_url)
    ATTEMPTS.append(("replaced login", "connect with the old copy's stored login after a re-join",
                     str(replaced.value).splitlines()[-1][:120]))
    assert site.owner.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                              [psycopg.conninfo.conninfo_to_dict(old_south_url)["user"]]).fetchone() == (False,)
    write_events(replacement.store, 1)
    assert sync(replacement).uploaded == 1
    old_south.close()
    replacement.close()


def test_the_kiosk_password_never_reaches_the_server_and_a_bad_url_never_shows_it(site, tmp_path):
    log = Path(site.cluster.root) / "log"
    site.owner.execute("ALTER SYSTEM SET log_statement = 'ddl'")
    site.owner.execute("SELECT pg_reload_conf()")
    try:
        east = station(tmp_path / "east")
        east.join(site.url, "east")
        credentials = load_credentials(tmp_path / "east")
        password = psycopg.conninfo.conninfo_to_dict(credentials.url)["password"]
        stored = site.owner.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                                    [credentials.user]).fetchone()[0]
        assert stored.startswith("SCRAM-SHA-256$")
        assert "CREATE ROLE" in log.read_text(errors="replace") and password not in log.read_text(errors="replace")
        east.close()
    finally:
        site.owner.execute("ALTER SYSTEM RESET log_statement")
        site.owner.execute("SELECT pg_reload_conf()")
    for bad in ("postgresql://kiosk:s3cret-pw@[127.0.0.1/site", "postgresql://kiosk:s3cret%zzpw@host/site",
                "host=x password=s3cret-pw port"):
        with pytest.raises(SiteError) as unreadable:
            check_url(bad)
        assert unreadable.value.problem is SiteProblem.BAD_URL and "s3cret" not in str(unreadable.value)


def test_an_existing_server_upgrades_and_loses_the_old_holes(site):
    """A server from before the hardening (schema 5: functions with the caller's search_path, a left kiosk's
    login alive, a forged receive time in 2099) is put right by the admin station's next sync."""
    north_login = site.hostile.info.user
    site.north.leave()
    q = site.owner.execute
    q(f'ALTER ROLE "{north_login}" LOGIN PASSWORD \'old\'')
    q(f'GRANT "{kiosk_group_role(site.hostile.info.dbname)}" TO "{north_login}"')
    q("ALTER FUNCTION rollcall_kiosk_id() SET search_path FROM CURRENT")
    q("DROP TRIGGER events_moved_received_now ON events; DROP TRIGGER unknown_faces_received_now ON unknown_faces;"
      " DROP FUNCTION rollcall_received_now()")
    q("ALTER TABLE erasures DROP CONSTRAINT erasures_kind_check, DROP CONSTRAINT erasures_merged_into_check")
    q("ALTER TABLE erasures ADD CHECK (kind IN ('person', 'sample', 'merged')),"
      " ADD CHECK ((kind = 'merged') = (merged_into IS NOT NULL))")
    q(f"INSERT INTO events ({EVENT_COLUMNS}, received_at) VALUES ({site.event_values('north', 99)}, '2099-01-01')")
    q("UPDATE rollcall_schema SET version = 5")
    assert migrate(site.owner) == len(SERVER_MIGRATIONS)
    sync(site.admin)
    assert q("SELECT max(received_at) <= now() FROM events").fetchone() == (True,)
    assert q("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", [north_login]).fetchone() == (False,)
    assert q("SELECT proconfig FROM pg_proc WHERE proname = 'rollcall_kiosk_id'").fetchone() == (
        ["search_path=public, pg_temp"],)
    the_others_still_sync(site)
