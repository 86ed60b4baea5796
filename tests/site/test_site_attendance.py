"""Time and attendance in site mode, against a real PostgreSQL: every station copies the others' events,
the admin station's HR book reaches every kiosk, absence waits for every station to report, and a
kiosk and the admin station give the same statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from core.app.engine import Engine
from core.base.records import AttendanceEvent, EventKind
from core.base.settings import Settings, SiteSettings
from core.base.timekeeping import DayStatus
from core.site.connection import SiteError, SiteProblem
from tests.kits.site_kit import MODEL, enroll


def _zone_near_noon() -> str:
    """A site zone where it is about noon now, so a shift that ended an hour ago never began yesterday
    (before the people were enrolled, today): a fixed America/New_York failed from 00:00 to 03:00 there."""
    offset = 12 - datetime.now(UTC).hour
    return f"Etc/GMT{-offset:+d}"  # the Etc names carry the opposite sign


ZONE = _zone_near_noon()


def make_engine(folder) -> Engine:
    settings = Settings()
    settings.storage.data_dir = str(folder)
    settings.storage.backups_kept = 0
    settings.site = SiteSettings(sync_interval_s=60, connect_timeout_s=2)
    settings.compute.active_model = MODEL.id
    settings.attendance.time_zone = ZONE
    return Engine(settings)


def board(engine: Engine, day) -> dict[str, tuple]:
    return {row.name: (row.status, row.late_minutes, row.first_seen, row.last_seen, row.punches)
            for row in engine.day_board(day)}


def check_in(engine: Engine, name: str, moment: datetime) -> AttendanceEvent:
    person = engine.find_person(name)
    return engine.store.record_event(AttendanceEvent(None, person.id, None, EventKind.CHECK_IN, moment, "cam", 0.9))


@pytest.fixture
def site(pg, tmp_path):
    cluster, url = pg
    admin = make_engine(tmp_path / "admin")
    enroll(admin.store, "Ada Lovelace", seed=1)
    enroll(admin.store, "Charles Babbage", seed=2)
    admin.site_init(url)
    kiosk = make_engine(tmp_path / "kiosk")
    kiosk.site_join(url, "door")
    with psycopg.connect(url) as conn:  # the kiosk has been part of the site for months
        conn.execute("UPDATE kiosks SET joined_at = now() - interval '90 days'")
    yield url, admin, kiosk
    admin.close()
    kiosk.close()


def test_kiosk_and_admin_station_agree_and_absence_waits_for_every_station(site):
    url, admin, kiosk = site
    zone = ZoneInfo(ZONE)
    now = datetime.now(zone).replace(second=0, microsecond=0)
    start, end = now - timedelta(hours=3), now - timedelta(hours=1)  # the shift ended an hour ago
    shift_day = start.date()
    group = admin.add_group("Day shift", start.strftime("%H:%M"), end.strftime("%H:%M"), 0, "mon-sun").value
    for name in ("Ada Lovelace", "Charles Babbage"):
        admin.assign_group(admin.find_person(name).id, group.id)

    # the kiosk saw Ada 10 minutes late, and has not reported yet
    check_in(kiosk, "Ada Lovelace", start + timedelta(minutes=10))
    admin.sync_site_now()
    assert {s for s, *_ in board(admin, shift_day).values()} == {DayStatus.PENDING}, \
        "nobody is absent while a kiosk still holds events"

    kiosk.sync_site_now()  # uploads, and applies the admin's groups
    report = admin.sync_site_now().value
    assert report.events_mirrored.added == 1
    on_admin = board(admin, shift_day)
    assert on_admin["Ada Lovelace"][:2] == (DayStatus.LATE, 10)
    assert on_admin["Charles Babbage"][0] is DayStatus.ABSENT
    # the admin station's own sighting reaches the kiosk too
    check_in(admin, "Ada Lovelace", end + timedelta(minutes=5))
    admin.sync_site_now()
    assert kiosk.sync_site_now().value.events_mirrored.added == 1
    assert board(kiosk, shift_day) == board(admin, shift_day)

    # corrections are made on the admin station and reach the kiosk; the kiosk refuses to make any
    with pytest.raises(SiteError) as refused:
        kiosk.punch(kiosk.find_person("Charles Babbage").id, start + timedelta(minutes=2), "forgot badge")
    assert refused.value.problem is SiteProblem.NEEDS_ADMIN and "admin station" in str(refused.value)
    admin.punch(admin.find_person("Charles Babbage").id, start - timedelta(minutes=5), "camera was covered")
    ada_event = next(e for e in admin.events_on(shift_day) if e.time == start + timedelta(minutes=10))
    admin.void_event(ada_event.id, "that was her twin")
    assert kiosk.sync_site_now().value.hr_book_changed
    on_kiosk = board(kiosk, shift_day)
    assert on_kiosk == board(admin, shift_day)
    assert on_kiosk["Charles Babbage"][0] is DayStatus.PRESENT
    assert on_kiosk["Ada Lovelace"][:2] == (DayStatus.LATE, 125)  # only the admin station's sighting counts now
    assert kiosk.timesheet(shift_day.strftime("%Y-%m")).rows == admin.timesheet(shift_day.strftime("%Y-%m")).rows
    assert [a.action for a in kiosk.audit_log()] == []  # the audit trail stays with the admin station
    assert {a.reason for a in admin.audit_log()} >= {"camera was covered", "that was her twin"}


def test_hr_changes_made_while_the_server_is_down_reach_kiosks_at_the_next_sync(site, pg):
    cluster, _ = pg
    url, admin, kiosk = site
    kiosk.sync_site_now()
    cluster.stop()
    try:
        group = admin.add_group("Night", "22:00", "06:00", 15, "mon-fri").value  # kept here meanwhile
    finally:
        cluster.start()
    assert [g.name for g in admin.groups()] == ["Night"]
    admin.sync_site_now()
    kiosk.sync_site_now()
    assert [(g.name, g.schedule) for g in kiosk.groups()] == [("Night", group.schedule)]


def test_other_stations_events_are_never_uploaded_again_and_retention_drops_them(site):
    url, admin, kiosk = site
    moment = datetime.now(ZoneInfo(ZONE)) - timedelta(days=40)
    check_in(kiosk, "Ada Lovelace", moment)
    kiosk.sync_site_now()
    admin.sync_site_now()
    assert admin.sync_site_now().value.uploaded == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    assert admin.store.purge(moment + timedelta(days=1), keep_seq_above=0) == 1


def test_a_stranger_seen_at_two_doors_is_one_group_on_the_admin_station(site):
    import numpy as np

    url, admin, kiosk = site
    rng = np.random.default_rng(7)
    stranger, other = rng.normal(size=128), rng.normal(size=128)
    now = datetime.now(ZoneInfo(ZONE))

    def seen(engine: Engine, face: np.ndarray, moment: datetime, jpeg: bytes) -> None:
        event = engine.store.record_event(AttendanceEvent(None, None, None, EventKind.UNKNOWN, moment, "cam", 0.1))
        vector = face + rng.normal(scale=0.05, size=128)
        engine.store.add_unknown_face(event.id, MODEL.id, vector / np.linalg.norm(vector), jpeg, 0.99, 120, 40.0)

    seen(kiosk, stranger, now - timedelta(hours=9), b"morning at the door")
    seen(admin, stranger, now - timedelta(hours=1), b"evening at reception")
    seen(kiosk, other, now - timedelta(hours=2), b"someone else")
    kiosk.sync_site_now()
    admin.sync_site_now()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM unknown_faces").fetchone()[0] == 3
    groups = admin.unknown_groups((now - timedelta(days=1)).date(), now.date())
    assert sorted(g.count for g in groups) == [1, 2]
    pair = next(g for g in groups if g.count == 2)
    assert {admin.unknown_face_crop(i) for i in pair.face_ids} == {b"morning at the door", b"evening at reception"}
    assert kiosk.unknown_groups((now - timedelta(days=1)).date(), now.date())[0].count == 1  # a kiosk: its own door

    kiosk.settings.storage.retention_days = 1  # the server keeps strangers' faces no longer than retention
    admin.settings.storage.retention_days = 1
    admin.apply_settings(admin.settings)
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE unknown_faces SET received_at = now() - interval '2 days'")
    admin.sync_site_now()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM unknown_faces").fetchone()[0] == 0


def test_a_face_corrected_on_the_admin_station_comes_from_the_door_that_saw_it(site):
    url, admin, kiosk = site
    moment = datetime.now(ZoneInfo(ZONE)) - timedelta(hours=1)
    ada = kiosk.find_person("Ada Lovelace").id
    kiosk.store.record_event(AttendanceEvent(None, ada, None, EventKind.CHECK_IN, moment, "door cam", 0.8,
                                             snapshot_jpeg=b"the face the door saw"))
    kiosk.sync_site_now()
    admin.sync_site_now()
    copied = next(e for e in admin.events_on(moment.date()) if e.person_id == admin.find_person("Ada Lovelace").id)
    admin.reassign_event(copied.id, admin.find_person("Charles Babbage").id, "it was Charles")
    confusion = admin.confusions()[0]
    assert not confusion.has_crop  # the server keeps no snapshots of recognised events
    kiosk.sync_site_now()  # the correction reaches the door, which sends that one face
    admin.sync_site_now()
    confusion = admin.confusions()[0]
    assert confusion.has_crop and admin.confusion_crop(confusion.id) == b"the face the door saw"
    assert (confusion.shown_person_id, confusion.true_person_id) == (admin.find_person("Ada Lovelace").id,
                                                                      admin.find_person("Charles Babbage").id)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM correction_faces").fetchone()[0] == 1
    kiosk.sync_site_now()
    with psycopg.connect(url) as conn:  # sent once
        assert conn.execute("SELECT count(*) FROM correction_faces").fetchone()[0] == 1


def test_an_admin_station_that_records_nothing_holds_no_absence_back(site):
    url, admin, kiosk = site
    zone = ZoneInfo(ZONE)
    now = datetime.now(zone).replace(second=0, microsecond=0)
    start, end = now - timedelta(hours=3), now - timedelta(hours=1)
    group = admin.add_group("Day", start.strftime("%H:%M"), end.strftime("%H:%M"), 0, "mon-sun").value
    admin.assign_group(admin.find_person("Ada Lovelace").id, group.id)
    admin.sync_site_now()
    with psycopg.connect(url) as conn:  # the office PC was last seen yesterday
        conn.execute("UPDATE kiosks SET last_contact = now() - interval '1 day' WHERE is_admin")
    kiosk.sync_site_now()
    assert board(kiosk, start.date())["Ada Lovelace"][0] is DayStatus.ABSENT
