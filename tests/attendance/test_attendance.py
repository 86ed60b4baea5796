"""Attendance rules, reports and CSV export, driven by a fake clock."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta, timezone

import pytest

from core.attendance.book import AttendanceBook
from core.attendance.reports import daily_report, export_csv, range_report
from core.base.settings import AttendanceSettings, Settings
from core.gallery.store import GalleryStore

TZ = timezone(timedelta(hours=-5))
MORNING = datetime(2024, 5, 6, 9, 0, tzinfo=TZ)


class Clock:
    def __init__(self, now: datetime = MORNING):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, hour: int, minute: int = 0, days: int = 0) -> None:
        self.now = MORNING.replace(hour=hour, minute=minute) + timedelta(days=days)


@pytest.fixture
def store(tmp_path):
    with GalleryStore(tmp_path / "rollcall.db") as opened:
        yield opened


def book(store, clock, checkout=False, cooldown_min=10):
    return AttendanceBook(store, AttendanceSettings(cooldown_minutes=cooldown_min, checkout_mode=checkout), clock)


def test_check_in_once_per_day_and_every_later_sighting_kept(store):
    alice, clock = store.add_person("Alice"), Clock()
    attendance = book(store, clock)
    first = attendance.observe(alice.id, 0.9, "cam")
    assert first is not None and first.kind == "check_in" and first.time == MORNING
    for hour in (9, 10, 17):
        clock.set(hour, 30)
        assert attendance.observe(alice.id, 0.9, "cam").kind == "check_out"  # raw sightings: the rules read them
    assert [e.kind for e in store.events()] == ["check_in", "check_out", "check_out", "check_out"]


def test_new_day_gives_a_new_check_in(store):
    alice, clock = store.add_person("Alice"), Clock()
    attendance = book(store, clock)
    attendance.observe(alice.id, 0.9, "cam")
    clock.set(8, 0, days=1)
    second = attendance.observe(alice.id, 0.9, "cam")
    assert second is not None and second.kind == "check_in"
    assert [e.day for e in store.events()] == [date(2024, 5, 6), date(2024, 5, 7)]


def test_cooldown_blocks_a_second_event(store):
    alice, clock = store.add_person("Alice"), Clock()
    attendance = book(store, clock, checkout=True)
    assert attendance.observe(alice.id, 0.9, "cam").kind == "check_in"
    clock.set(9, 9)
    assert attendance.observe(alice.id, 0.9, "cam") is None
    clock.set(9, 11)
    assert attendance.observe(alice.id, 0.9, "cam").kind == "check_out"
    clock.set(9, 15)
    assert attendance.observe(alice.id, 0.9, "cam") is None
    assert len(store.events()) == 2


def test_checkout_mode_keeps_every_sighting_and_moves_none(store):
    alice, bob, clock = store.add_person("Alice"), store.add_person("Bob"), Clock()
    attendance = book(store, clock, checkout=True)
    attendance.observe(alice.id, 0.9, "cam")
    attendance.observe(bob.id, 0.9, "cam")
    checkouts = []
    for hour in (10, 12, 17):
        clock.set(hour)
        checkouts.append(attendance.observe(alice.id, 0.7 + hour / 100, "door", track_id=hour))
    assert len({e.id for e in checkouts}) == 3
    alice_events = store.events(person_id=alice.id)
    assert [e.kind for e in alice_events] == ["check_in", "check_out", "check_out", "check_out"]
    assert alice_events[3].time == MORNING.replace(hour=17) and alice_events[1].time == MORNING.replace(hour=10)
    assert alice_events[3].similarity == pytest.approx(0.87) and alice_events[3].track_id == 17
    assert [e.kind for e in store.events(person_id=bob.id)] == ["check_in"]


def test_restarted_app_does_not_double_mark(tmp_path):
    path, clock = tmp_path / "rollcall.db", Clock()
    with GalleryStore(path) as store:
        alice = store.add_person("Alice")
        assert book(store, clock, checkout=True).observe(alice.id, 0.9, "cam") is not None
    clock.set(9, 5)
    with GalleryStore(path) as store:  # a new app: empty cache, same database
        assert book(store, clock, checkout=True).observe(alice.id, 0.9, "cam") is None
        assert book(store, clock).observe(alice.id, 0.9, "cam") is None
        clock.set(16)
        assert book(store, clock).observe(alice.id, 0.9, "cam").kind == "check_out"  # kept in either mode
        assert book(store, clock, checkout=True).observe(alice.id, 0.9, "cam") is None
        assert [e.kind for e in store.events()] == ["check_in", "check_out"]


def test_unknown_faces_are_recorded_with_snapshot(store):
    attendance = book(store, Clock())
    first = attendance.observe(None, 0.3, "cam", track_id=4, snapshot_jpeg=b"face")
    second = attendance.observe(None, 0.2, "cam", track_id=5)
    assert first.kind == second.kind == "unknown" and first.person_id is None
    assert store.event_snapshot(first.id) == b"face"
    assert len(store.events(kinds="unknown")) == 2


def test_daily_report_first_and_last(store):
    alice, bob, clock = store.add_person("alice"), store.add_person("Bob"), Clock()
    store.set_external_id(bob.id, "B-7")
    attendance = book(store, clock, checkout=True)
    attendance.observe(alice.id, 0.9, "cam")
    clock.set(10)
    attendance.observe(bob.id, 0.9, "cam")
    attendance.observe(None, 0.1, "cam")
    clock.set(17, 45)
    attendance.observe(alice.id, 0.9, "cam")
    clock.set(9, 0, days=1)
    attendance.observe(bob.id, 0.9, "cam")  # another day: not in the report

    rows = daily_report(store, date(2024, 5, 6))
    assert [(r.name, r.events) for r in rows] == [("alice", 2), ("Bob", 1)]
    assert rows[0].first_seen == MORNING and rows[0].last_seen == MORNING.replace(hour=17, minute=45)
    assert rows[1].first_seen == rows[1].last_seen == MORNING.replace(hour=10)
    assert rows[1].external_id == "B-7"
    assert daily_report(store, date(2024, 5, 8)) == []
    both_days = range_report(store, date(2024, 5, 6), date(2024, 5, 7))
    assert [(r.day, r.name) for r in both_days] == [
        (date(2024, 5, 6), "alice"),
        (date(2024, 5, 6), "Bob"),
        (date(2024, 5, 7), "Bob"),
    ]


def test_export_csv_round_trip_and_formula_escaping(store, tmp_path):
    names = ['=HYPERLINK("http://x")', "+cmd", "-2+3", "@SUM(A1)", 'Zoë "Q", Jr.']
    people = [store.add_person(name) for name in names]
    store.set_external_id(people[0].id, "=1+1")
    clock = Clock()
    attendance = book(store, clock)
    for minute, person in enumerate(people):
        clock.set(9, minute)
        attendance.observe(person.id, 0.9, "cam")
    attendance.observe(None, 0.25, "cam")
    clock.set(9, 0, days=3)
    attendance.observe(people[0].id, 0.9, "cam")  # outside the exported range

    path = tmp_path / "out.csv"
    assert export_csv(store, path, date(2024, 5, 6), date(2024, 5, 6)) == 6
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["date", "person_id", "name", "external_id", "kind", "time", "source", "similarity"]
    assert len(rows) == 6
    exported = [row["name"] for row in rows[:5]]
    assert exported == ['\'=HYPERLINK("http://x")', "'+cmd", "'-2+3", "'@SUM(A1)", 'Zoë "Q", Jr.']
    assert rows[0]["external_id"] == "'=1+1"
    assert rows[0]["person_id"] == str(people[0].id) and rows[0]["kind"] == "check_in"
    assert datetime.fromisoformat(rows[0]["time"]) == MORNING and rows[0]["date"] == "2024-05-06"
    assert rows[5]["kind"] == "unknown" and rows[5]["person_id"] == "" and rows[5]["similarity"] == "0.2500"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())


def test_rules_are_the_attendance_section_of_the_settings():
    settings = Settings(attendance=AttendanceSettings(cooldown_minutes=2.5, checkout_mode=True))
    assert settings.attendance.cooldown == timedelta(minutes=2.5) and settings.attendance.checkout_mode
    assert Settings().attendance == AttendanceSettings()
