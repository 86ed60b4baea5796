"""The second hostile-kiosk round (issue 31): a kiosk's own login aims at the other stations and at payroll.

Each test fails on the code before schema 8. A poison row is put on the server with the OWNER's login, past the
server's checks (as a server from before them could hold): every other station's sync still exits 0, records
the row it skipped (station, id, why), shows it in `site status`, and keeps receiving later events; the
admin station's integration queue gets nothing from it.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from core.app.cli import main
from core.site.connection import load_credentials
from core.site.schema import migrate
from core.site.service import Site
from tests.kits.site_kit import MODEL, enroll, local_uuids, station, sync, write_events

COLUMNS = (
    "event_uuid, kiosk_id, kiosk_seq, kind, person_uuid, kiosk_time, kiosk_day, kiosk_utc_offset_min, source,"
    " similarity"
)
NOW_DAY = "(now() AT TIME ZONE 'UTC')::date"  # kiosk_day for now() at offset 0


@dataclass
class PoisonSite:
    url: str
    admin: Site
    north: Site  # the hostile kiosk
    south: Site
    hostile: psycopg.Connection
    owner: psycopg.Connection
    folder: Path

    def station_id(self, name: str) -> int:
        return self.owner.execute("SELECT id FROM kiosks WHERE name = %s", [name]).fetchone()[0]

    @property
    def ada(self) -> str:
        return self.owner.execute("SELECT uuid::text FROM people LIMIT 1").fetchone()[0]

    def values(self, what: str, seq: int) -> str:
        return f"'{uuid.uuid4()}', {self.station_id('north')}, {seq}, {what}"


@pytest.fixture
def site(pg, tmp_path):
    _, url = pg
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
    yield PoisonSite(url, admin, north, south, hostile, owner, tmp_path)
    for conn in (hostile, owner):
        conn.close()
    for kiosk in (admin, north, south):
        kiosk.close()


def past_the_checks(owner: psycopg.Connection, table: str, statement: str) -> None:
    """The owner writes a row the server's checks would refuse: checks and triggers off for one statement."""
    with owner.transaction():
        checks = owner.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
            " AND (contype = 'c' OR conname = 'events_person_exists')",
            [table],
        ).fetchall()
        owner.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for name, _ in checks:
            owner.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        owner.execute(statement)
        for name, definition in checks:
            owner.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        owner.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def rollcall(capsys, home: Path, *argv: str) -> tuple[int, str]:
    code = main(["--home", str(home), *argv])
    out, err = capsys.readouterr()
    return code, out + err


def integration_queue(site: PoisonSite) -> list[tuple]:
    with sqlite3.connect(site.folder / "admin" / "rollcall.db") as db:
        return db.execute("SELECT target, uuid, type FROM integration_outbox ORDER BY id").fetchall()


def the_others_still_sync(site: PoisonSite) -> None:
    """South's next event reaches the server and the admin station; the admin's integration queue takes it."""
    queued = len(integration_queue(site))
    write_events(site.south.store, 1)
    assert sync(site.south).uploaded == 1
    assert sync(site.admin).events_mirrored.added >= 1
    assert len(integration_queue(site)) == queued  # unknown sightings are not delivered: nothing new queued


def test_1_a_poison_row_is_skipped_recorded_and_every_other_station_keeps_syncing(site, capsys):
    with sqlite3.connect(site.folder / "admin" / "rollcall.db") as db:  # an ERPNext-like target on the admin
        db.execute("INSERT INTO integration_targets (name, kind, added_at) VALUES ('hook', 'webhook', '2026-01-01')")
    poisons = {
        "NaN similarity": "'unknown', NULL, now(), {day}, 0, 'cam', 'NaN'",
        "offset of 24 h": "'unknown', NULL, now(), {day}, 1440, 'cam', 0",
        "infinite time": "'unknown', NULL, 'infinity', {day}, 0, 'cam', 0",
        "1 MB of source": "'unknown', NULL, now(), {day}, 0, repeat('x', 1048576), 0",
        "a check-in with no person": "'check_in', NULL, now(), {day}, 0, 'cam', 0.9",
        "negative similarity": "'check_in', '{ada}', now(), {day}, 0, 'cam', -0.5",
        "dated 2099": "'check_in', '{ada}', '2099-01-01', '2099-01-01', 0, 'cam', 0.9",
    }
    for seq, what in enumerate(poisons.values(), start=100):  # the keys say what each row is
        past_the_checks(
            site.owner,
            "events",
            f"INSERT INTO events ({COLUMNS}) VALUES ({site.values(what.format(day=NOW_DAY, ada=site.ada), seq)})",
        )
    unknown = site.owner.execute(
        "SELECT event_uuid FROM events WHERE kiosk_id = %s AND kiosk_seq < 100 ORDER BY id",  # its honest ones
        [site.station_id("north")],
    ).fetchall()
    past_the_checks(
        site.owner,
        "unknown_faces",
        "INSERT INTO unknown_faces (event_uuid, model_id, vector, crop_jpeg,"
        f" det_prob, face_px, sharpness) VALUES ('{unknown[0][0]}',"
        f" '{MODEL.id}', '\\x010203', 'x', 0.9, 100, 10),"
        f" ('{unknown[1][0]}', '{MODEL.id}', decode(repeat('00', 512), 'hex'),"
        " 'x', 'NaN', 100, 10)",
    )
    queued = integration_queue(site)

    code, out = rollcall(capsys, site.folder / "south", "site", "sync")
    assert code == 0 and "skipped 7 rows" in out, out
    report = sync(site.admin)
    assert report.events_mirrored.skipped == 7
    assert integration_queue(site) == queued  # nothing of the poison reaches ERPNext, Odoo or webhooks
    assert len(site.admin.store.unknown_faces(start=datetime(2000, 1, 1, tzinfo=UTC))) == 0  # loads: no bad buffer
    assert len(site.admin.events(date.today() - timedelta(days=2), date.today() + timedelta(days=2))) == 9  # export
    status = site.admin.status()
    assert status.skipped_total >= 9 and {r.station for r in status.skipped} == {"north"}
    assert any("template of 3 bytes" in r.why for r in status.skipped)
    assert any("not finite" in r.why or "detection probability" in r.why for r in status.skipped)
    code, out = rollcall(capsys, site.folder / "south", "site", "status", "--json")
    assert code == 0 and json.loads(out)["skipped_total"] == 7 and json.loads(out)["pending_held_by"], out
    code, out = rollcall(capsys, site.folder / "south", "site", "status")
    assert code == 0 and "station north" in out and "UTC offset of 1440" in out, out

    before = local_uuids(site.north.store)
    write_events(site.north.store, 1)
    (fresh,) = local_uuids(site.north.store) - before  # the other stations keep receiving later events
    assert sync(site.north).uploaded == 1
    assert rollcall(capsys, site.folder / "south", "site", "sync")[0] == 0
    assert site.south.store.event_ids_by_uuid([fresh])
    assert sync(site.admin).events_mirrored.added >= 1


def test_3_a_kiosk_cannot_hold_every_absence_pending(site):
    north_id = site.station_id("north")
    high = site.owner.execute("SELECT max(kiosk_seq) FROM events WHERE kiosk_id = %s", [north_id]).fetchone()[0]
    with pytest.raises(errors.CheckViolation):  # through its login: refused
        site.hostile.execute(
            "UPDATE events SET revision = 1, kiosk_seq = 500, kiosk_time = '2000-01-03',"
            " kiosk_day = '2000-01-03', kiosk_utc_offset_min = 0 WHERE revision = 0"
        )
    past_the_checks(
        site.owner,
        "events",
        "UPDATE events SET kiosk_time = '2000-01-03', kiosk_day = '2000-01-03',"
        f" kiosk_utc_offset_min = 0 WHERE kiosk_id = {north_id}",
    )
    site.hostile.execute("SELECT rollcall_heartbeat(5, %s, 0)", [high])
    reported, joined = site.owner.execute(
        "SELECT rollcall_reported_up_to(), joined_at FROM kiosks WHERE name = 'north'"
    ).fetchone()
    assert reported >= joined  # times before the station joined count for nothing
    assert site.admin.status().pending_held_by == "north"

    site.owner.execute("UPDATE kiosks SET joined_at = now() - interval '60 days' WHERE name = 'north'")
    reported, now = site.owner.execute("SELECT rollcall_reported_up_to(), now()").fetchone()
    assert reported >= now - timedelta(days=7, minutes=1)  # one station reaches back a week at most

    site.owner.execute("UPDATE site_limits SET pending_reach = interval '90 days'")
    first_of_month = now.astimezone(UTC).date().replace(day=1)
    last_month = (first_of_month - timedelta(days=1)).strftime("%Y-%m")
    site.owner.execute(
        "UPDATE hr_book SET body = jsonb_set(body, '{month_locks}', %s::jsonb)",
        [f'[{{"month": "{last_month}", "locked_by": "hr", "locked_at_utc": "x"}}]'],
    )
    reported = site.owner.execute("SELECT rollcall_reported_up_to()").fetchone()[0]
    assert reported >= min(now, datetime.combine(first_of_month, datetime.min.time(), UTC) + timedelta(hours=18))
    the_others_still_sync(site)


REFUSED_VALUES = {
    "a year of 2099": "'check_in', '{ada}', '2099-01-01', '2099-01-01', 0, 'cam', 0.9",
    "a year of 2000": "'check_in', '{ada}', '2000-01-03', '2000-01-03', 0, 'cam', 0.9",
    "a person that does not exist": "'check_in', '{nobody}', now(), {day}, 0, 'cam', 0.9",
    "a check-in with no person": "'check_in', NULL, now(), {day}, 0, 'cam', 0.9",
    "NaN similarity": "'unknown', NULL, now(), {day}, 0, 'cam', 'NaN'",
    "negative similarity": "'check_in', '{ada}', now(), {day}, 0, 'cam', -0.5",
    "a UTC offset of 24 h": "'unknown', NULL, now(), {day}, 1440, 'cam', 0",
    "an infinite time": "'unknown', NULL, 'infinity', 'infinity', 0, 'cam', 0",
    "a kiosk_day that does not match": "'unknown', NULL, now(), {day} - 3, 0, 'cam', 0",
    "10 MB of source": "'unknown', NULL, now(), {day}, 0, repeat('x', 10485760), 0",
}


def test_4_the_server_checks_every_value_a_kiosk_writes(site):
    before = site.owner.execute("SELECT count(*) FROM events").fetchone()[0]
    for what, values in REFUSED_VALUES.items():
        row = site.values(values.format(ada=site.ada, nobody=uuid.uuid4(), day=NOW_DAY), 10_000)
        with pytest.raises((errors.CheckViolation, errors.ForeignKeyViolation)):
            site.hostile.execute(f"INSERT INTO events ({COLUMNS}) VALUES ({row})")
        assert site.owner.execute("SELECT count(*) FROM events").fetchone()[0] == before, what
    write_events(site.south.store, 1)
    assert sync(site.south).uploaded == 1 and sync(site.admin).events_mirrored.added >= 1


def test_4_sequence_numbers_are_positive_and_rise_per_station(site):
    ok = f"'unknown', NULL, now(), {NOW_DAY}, 0, 'cam', 0"
    for seq in (-5, 0, 2):  # north already has 1 to 3
        with pytest.raises(errors.CheckViolation):
            site.hostile.execute(f"INSERT INTO events ({COLUMNS}) VALUES ({site.values(ok, seq)})")
    with pytest.raises(errors.CheckViolation):  # two rows, one number
        site.hostile.execute(f"INSERT INTO events ({COLUMNS}) VALUES ({site.values(ok, 50)}), ({site.values(ok, 50)})")
    site.hostile.execute(f"INSERT INTO events ({COLUMNS}) VALUES ({site.values(ok, 50)})")
    write_events(site.south.store, 1)
    assert sync(site.south).uploaded == 1  # another station's numbers are its own


def test_7_kiosks_get_leave_dates_without_reasons(site):
    ada = site.admin.store.list_people()[0].id
    site.admin.store.add_leave(ada, date(2026, 12, 1), date(2026, 12, 3), "sick note: pneumonia")
    site.admin.store.set_meta_values({"site_hr_book_dirty": "1"})
    sync(site.admin)
    body = site.owner.execute("SELECT body::text FROM hr_book").fetchone()[0]
    assert "pneumonia" not in body and "2026-12-01" in body
    sync(site.north)
    assert (site.folder / "north" / "rollcall.db").read_bytes().find(b"pneumonia") == -1
    kept = site.north.store.leave(date(2026, 12, 1), date(2026, 12, 31))
    assert [(item.first_day, item.last_day, item.reason) for item in kept] == [
        (date(2026, 12, 1), date(2026, 12, 3), "")
    ]
    # a server that already holds reasons loses them at the admin station's next sync (schema 8 again)
    site.owner.execute("""UPDATE hr_book SET body = jsonb_set(body, '{leave,0,reason}', '"sick note: flu"')""")
    site.owner.execute("UPDATE rollcall_schema SET version = 7")
    migrate(site.owner)
    assert "flu" not in site.owner.execute("SELECT body::text FROM hr_book").fetchone()[0]
    the_others_still_sync(site)


def test_8_templates_are_checked_on_the_way_in(site):
    north_unknown = site.owner.execute(
        "SELECT e.event_uuid FROM events e JOIN kiosks k ON k.id = e.kiosk_id WHERE k.name = 'north' LIMIT 1"
    ).fetchone()[0]
    face = (
        "INSERT INTO unknown_faces (event_uuid, model_id, vector, crop_jpeg, det_prob, face_px, sharpness)"
        f" VALUES ('{north_unknown}', '{MODEL.id}', {{vector}}, 'x', {{det_prob}}, 100, 10)"
    )
    for vector, det_prob in (
        ("'\\x010203'", "0.9"),
        ("decode(repeat('ffffffff', 128), 'hex')", "0.9"),
        ("decode(repeat('00', 512), 'hex')", "'NaN'"),
        ("decode(repeat('00', 512), 'hex')", "1.5"),
    ):
        with pytest.raises(errors.CheckViolation):
            site.hostile.execute(face.format(vector=vector, det_prob=det_prob))
    site.hostile.execute(face.format(vector="decode(repeat('00', 512), 'hex')", det_prob="0.9"))
    with pytest.raises(errors.CheckViolation):  # nor when sent again
        site.hostile.execute("UPDATE unknown_faces SET vector = '\\x0102'")
    with site.owner.transaction():  # the way out: a template in the gallery that does not fit its model
        version = site.owner.execute(
            "UPDATE site_meta SET gallery_version = gallery_version + 1 RETURNING gallery_version"
        ).fetchone()[0]
        site.owner.execute(
            "UPDATE embeddings SET vector = '\\x010203', version = %s"
            " WHERE sample_id = (SELECT min(sample_id) FROM embeddings)",
            [version],
        )
    sync(site.south)
    assert any("template of" in row.why for row in site.south.status(check_server=False).skipped)
    assert [len(e.vector) for e in site.south.store.site_gallery().embeddings] == [512, 512]  # the good ones kept
    the_others_still_sync(site)


def test_9_every_change_to_an_event_raises_its_revision(site):
    north_event = site.owner.execute(
        "SELECT e.event_uuid, e.kiosk_time FROM events e JOIN kiosks k"
        " ON k.id = e.kiosk_id WHERE k.name = 'north' LIMIT 1"
    ).fetchone()
    for change in (
        "kiosk_time = now() - interval '2 hours', kiosk_day = " + NOW_DAY,
        "source = 'elsewhere'",
        "similarity = 0.99",
        "kind = 'check_out'",
    ):
        with pytest.raises(errors.CheckViolation):
            site.hostile.execute(f"UPDATE events SET {change} WHERE event_uuid = '{north_event[0]}'")
    assert (
        site.owner.execute("SELECT kiosk_time FROM events WHERE event_uuid = %s", [north_event[0]]).fetchone()[0]
        == north_event[1]
    )
    the_others_still_sync(site)
