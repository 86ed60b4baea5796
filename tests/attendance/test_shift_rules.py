"""Golden tests for shifts and rosters: every rule runs twice through the Engine, once as sightings through the
recogniser's path (AttendanceBook.observe) and once as manual punches (corrections of kind PUNCH); both
people must get the same days."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.app.engine import Engine
from core.attendance.book import AttendanceBook
from core.base.records import EventKind
from core.base.settings import Settings
from core.base.timekeeping import DayStatus, HoursMode, PersonDay

ZONE = "Europe/London"
LONDON = ZoneInfo(ZONE)
MONDAY = date(2026, 11, 23)
TUESDAY, WEDNESDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)

Setup = Callable[[Engine, int], None]


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=LONDON)


@pytest.fixture
def hr(rollcall_home):
    """An engine on a real database file, its clock well after every scenario; no face model needed."""
    settings = Settings()
    settings.attendance.time_zone = ZONE
    engine = Engine(settings)
    engine.clock = lambda: at(date(2026, 12, 5), 12, 0)
    yield engine
    engine.close()


def golden(
    engine: Engine, setup: Setup, moments: list[datetime], first: date, last: date, checkout_mode: bool = False
) -> list[PersonDay]:
    """The same scenario for two new people: sightings through the book, and manual punches. Returns the days."""
    engine.settings.attendance.checkout_mode = checkout_mode
    count = len(engine.store.roster())
    seen = engine.store.add_person(f"Seen {count}")
    punched = engine.store.add_person(f"Punched {count}")
    conn = sqlite3.connect(engine.settings.database_path)
    with conn:
        conn.execute("UPDATE people SET created_at = '2026-01-01T00:00:00+00:00'")
    conn.close()
    for person in (seen, punched):
        setup(engine, person.id)
    book = AttendanceBook(engine.store, engine.settings.attendance)
    for moment in moments:
        assert book.observe(seen.id, 0.9, "cam", when=moment) is not None
        engine.punch(punched.id, moment, "golden test", actor="hr")
    by_book = engine.person_history(seen.id, first, last)
    by_punch = engine.person_history(punched.id, first, last)

    def same(day: PersonDay) -> PersonDay:
        return replace(day, person_id=0, name="")

    assert [same(d) for d in by_book] == [same(d) for d in by_punch]
    agree_with_explain(engine, seen.id, by_book)
    return by_book


def agree_with_explain(engine: Engine, person_id: int, days: list[PersonDay]) -> None:
    """`explain` gives the day board's and the timesheet's day, and its last reason names the status."""
    sheets = {month: engine.timesheet(month) for month in {f"{d.day:%Y-%m}" for d in days}}
    for day in days:
        explained = engine.explain_day(person_id, day.day)
        board = next(row for row in engine.day_board(day.day) if row.person_id == person_id)
        row = next(r for r in sheets[f"{day.day:%Y-%m}"].rows if r.person_id == person_id)
        cell = next(d for d in row.days if d.day == day.day)
        assert explained.day == board == cell == day
        assert day.status.value.replace("_", " ") in explained.decision.replace("_", " ")


def shift(name: str, start: str, end: str, **options) -> Setup:
    """Create the shift once, then assign it to each person from long ago."""

    def setup(engine: Engine, person_id: int) -> None:
        known = {s.name: s for s in engine.shifts()}
        made = known.get(name) or engine.add_shift(name, start, end, actor="hr", **options).value
        engine.assign_shift(person_id, made.id, date(2026, 1, 1), actor="hr")

    return setup


NIGHT = dict(days="mon-sun")


@pytest.mark.parametrize("checkout_mode", [False, True])
def test_three_night_shifts_are_present_with_eight_hours_in_both_modes(hr, checkout_mode):
    nights = [MONDAY, TUESDAY, WEDNESDAY]
    moments = [m for night in nights for m in (at(night, 22, 0), at(night + timedelta(days=1), 6, 0))]
    days = golden(hr, shift("Night", "22:00", "06:00", **NIGHT), moments, MONDAY, WEDNESDAY, checkout_mode)
    assert [(d.status, d.hours, d.shift) for d in days] == [(DayStatus.PRESENT, 8.0, "Night")] * 3
    kinds = [e.kind for e in hr.store.events() if e.person_name and e.person_name.startswith("Seen")]
    assert kinds == [EventKind.CHECK_IN, EventKind.CHECK_OUT] * 3  # the book's reading, for display


def test_a_sighting_during_the_night_changes_nothing_in_check_out_mode(hr):
    moments = [at(MONDAY, 22, 0), at(TUESDAY, 6, 0), at(TUESDAY, 22, 0), at(TUESDAY, 23, 30), at(WEDNESDAY, 6, 0)]
    days = golden(hr, shift("Night", "22:00", "06:00", **NIGHT), moments, MONDAY, TUESDAY, checkout_mode=True)
    assert [(d.status, d.hours, d.punches) for d in days] == [(DayStatus.PRESENT, 8.0, 2), (DayStatus.PRESENT, 8.0, 3)]


WINDOWED = dict(checkin_before=60, checkout_after=60)


def test_an_evening_visit_is_outside_every_window_in_check_out_mode(hr):
    moments = [at(TUESDAY, 8, 0), at(TUESDAY, 12, 0), at(TUESDAY, 22, 30)]
    tuesday = golden(hr, shift("Morning", "08:00", "12:00", **WINDOWED), moments, TUESDAY, TUESDAY, checkout_mode=True)[
        0
    ]
    assert tuesday.status is DayStatus.PRESENT and tuesday.hours == 4.0
    assert tuesday.outside_window == (at(TUESDAY, 22, 30),) and tuesday.last_seen == at(TUESDAY, 12, 0)


def test_an_evening_visit_is_not_the_next_days_arrival(hr):
    moments = [at(TUESDAY, 8, 0), at(TUESDAY, 12, 0), at(TUESDAY, 22, 30), at(WEDNESDAY, 11, 0)]
    tuesday, wednesday = golden(hr, shift("Morning", "08:00", "12:00", **WINDOWED), moments, TUESDAY, WEDNESDAY)
    assert tuesday.status is DayStatus.PRESENT and tuesday.hours == 4.0
    assert wednesday.status is DayStatus.LATE and wednesday.late_minutes == 180
    assert wednesday.first_seen == at(WEDNESDAY, 11, 0) and wednesday.outside_window == ()


def test_window_limits_count_and_a_minute_beyond_does_not(hr):
    inside = golden(
        hr, shift("Morning", "08:00", "12:00", **WINDOWED), [at(TUESDAY, 7, 0), at(TUESDAY, 13, 0)], TUESDAY, TUESDAY
    )[0]
    assert inside.punches == 2 and inside.hours == 6.0 and inside.outside_window == ()
    beyond = golden(
        hr, shift("Morning", "08:00", "12:00", **WINDOWED), [at(TUESDAY, 6, 59), at(TUESDAY, 13, 1)], TUESDAY, TUESDAY
    )[0]
    assert beyond.punches == 0 and beyond.status is DayStatus.ABSENT
    assert beyond.outside_window == (at(TUESDAY, 6, 59), at(TUESDAY, 13, 1))


GRACES = dict(late_grace=10, early_grace=15)


@pytest.mark.parametrize(
    ("arrive", "leave", "late", "early"),
    [
        ((9, 10), (16, 45), 0, 0),  # both graces at their limits
        ((9, 11), (16, 45), 11, 0),  # a minute past the late grace: late by 11 minutes from the start
        ((9, 10), (16, 44), 0, 16),  # a minute past the early grace: early leave by 16 minutes
    ],
)
def test_late_and_early_graces_at_and_one_minute_past_their_limits(hr, arrive, leave, late, early):
    moments = [at(MONDAY, *arrive), at(MONDAY, *leave)]
    day = golden(hr, shift("Office", "09:00", "17:00", **GRACES), moments, MONDAY, MONDAY)[0]
    assert (day.late_minutes, day.early_leave_minutes) == (late, early)
    expected = DayStatus.LATE if late else DayStatus.EARLY_LEAVE if early else DayStatus.PRESENT
    assert day.status is expected


LIMITS = dict(half_day_below=6, absent_below=3)


@pytest.mark.parametrize(
    ("leave", "status", "half_day"),
    [
        ((14, 0), DayStatus.HALF_DAY, True),  # 5 h
        ((11, 0), DayStatus.ABSENT, False),  # 2 h
        ((15, 0), DayStatus.EARLY_LEAVE, False),  # 6 h: at the limit, not a half day
    ],
)
def test_half_days_and_absence_below_their_hours(hr, leave, status, half_day):
    day = golden(
        hr, shift("Office", "09:00", "17:00", **LIMITS), [at(MONDAY, 9, 0), at(MONDAY, *leave)], MONDAY, MONDAY
    )[0]
    assert day.status is status and day.half_day is half_day


def test_pairs_leave_the_break_out(hr):
    moments = [at(MONDAY, 9, 0), at(MONDAY, 12, 0), at(MONDAY, 13, 0), at(MONDAY, 17, 0)]
    pairs = golden(hr, shift("Paired", "09:00", "17:00", hours=HoursMode.PAIRS), moments, MONDAY, MONDAY)[0]
    assert pairs.hours == 7.0 and pairs.status is DayStatus.PRESENT
    first_last = golden(hr, shift("Office", "09:00", "17:00"), moments, MONDAY, MONDAY)[0]
    assert first_last.hours == 8.0


@pytest.mark.parametrize(("night", "real_hours"), [(date(2026, 10, 24), 9.0), (date(2026, 3, 28), 7.0)])
def test_a_night_shift_across_a_clock_change_has_its_real_hours(hr, night, real_hours):
    # Europe/London: clocks go back on Sunday 25 Oct 2026 and forward on Sunday 29 Mar 2026.
    moments = [at(night, 22, 0), at(night + timedelta(days=1), 6, 0)]
    day = golden(hr, shift("Night", "22:00", "06:00", **NIGHT), moments, night, night)[0]
    assert day.status is DayStatus.PRESENT and day.hours == real_hours


def test_a_rotation_across_a_month_boundary(hr):
    def setup(engine: Engine, person_id: int) -> None:
        for name, start, end in (("Day", "08:00", "16:00"), ("Night", "22:00", "06:00")):
            if name not in {s.name for s in engine.shifts()}:
                engine.add_shift(name, start, end, days="mon-sun", actor="hr")
        engine.rotate_shift(person_id, "Day,Night,off", date(2026, 10, 30), actor="hr")

    first, last = date(2026, 10, 30), date(2026, 11, 3)
    moments = [
        at(first, 8, 0),
        at(first, 16, 0),
        at(date(2026, 10, 31), 22, 0),
        at(date(2026, 11, 1), 6, 0),
        at(date(2026, 11, 2), 8, 5),
        at(date(2026, 11, 2), 16, 0),
    ]
    days = golden(hr, setup, moments, first, last)
    assert [(d.shift, d.status, round(d.hours, 4)) for d in days] == [
        ("Day", DayStatus.PRESENT, 8.0),
        ("Night", DayStatus.PRESENT, 8.0),
        ("off", DayStatus.DAY_OFF, 0.0),
        ("Day", DayStatus.LATE, round(7 + 55 / 60, 4)),
        ("Night", DayStatus.ABSENT, 0.0),
    ]
    sheet = hr.timesheet("2026-11")
    row = next(r for r in sheet.rows if r.name.startswith("Seen"))
    assert [d.shift for d in row.days[:3]] == ["off", "Day", "Night"]
    assert row.days[0].status is DayStatus.DAY_OFF and row.days[0].punches == 0  # 06:00 counted on 31 October


def test_a_dated_assignment_overrides_the_group(hr):
    office = hr.add_group("Office", "09:00", "17:00", 0, "mon-fri", 0, actor="hr").value
    night = hr.add_shift("Night", "22:00", "06:00", days="mon-sun", actor="hr").value

    def setup(engine: Engine, person_id: int) -> None:
        engine.assign_group(person_id, office.id, actor="hr")
        engine.assign_shift(person_id, night.id, TUESDAY, WEDNESDAY, actor="hr")

    moments = [
        at(MONDAY, 9, 0),
        at(MONDAY, 17, 0),
        at(TUESDAY, 22, 0),
        at(WEDNESDAY, 6, 0),
        at(WEDNESDAY, 22, 0),
        at(WEDNESDAY + timedelta(days=1), 6, 0),
        at(WEDNESDAY + timedelta(days=1), 9, 0),
        at(WEDNESDAY + timedelta(days=1), 17, 0),
    ]
    days = golden(hr, setup, moments, MONDAY, WEDNESDAY + timedelta(days=1))
    assert [(d.shift, d.status, d.hours) for d in days] == [
        ("Office", DayStatus.PRESENT, 8.0),
        ("Night", DayStatus.PRESENT, 8.0),
        ("Night", DayStatus.PRESENT, 8.0),
        ("Office", DayStatus.PRESENT, 8.0),
    ]
    assert all(d.group == "Office" for d in days)


def test_an_old_database_migrates_without_losing_an_event(tmp_path):
    from core.gallery.schema import MIGRATIONS
    from core.gallery.shift_store import migrate_shifts
    from core.gallery.store import GalleryStore

    path, before = tmp_path / "rollcall.db", MIGRATIONS.index(migrate_shifts)
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:before]:
        migration(conn)
    conn.execute(f"PRAGMA user_version = {before}")
    conn.execute("INSERT INTO people (name, name_key, created_at, uuid) VALUES ('Nina', 'nina', '2026-01-01', 'u1')")
    conn.execute(
        "INSERT INTO groups (name, name_key, start_time, end_time, grace_minutes, working_days, min_hours,"
        " created_at) VALUES ('Night', 'night', '22:00', '06:00', 0, '0,1,2,3,4,5,6', 0, '2026-01-01')"
    )
    conn.execute("INSERT INTO group_members (person_id, group_id) VALUES (1, 1)")
    old = [("check_in", at(MONDAY, 22, 0), 0), ("check_out", at(TUESDAY, 6, 0), 3)]  # a check-out moved 3 times
    for seq, (kind, moment, revision) in enumerate(old, start=1):
        conn.execute(
            "INSERT INTO events (uuid, seq, person_id, kind, time, ts, day, source, similarity, revision)"
            " VALUES (?, ?, 1, ?, ?, ?, ?, 'cam', 0.9, ?)",
            [f"e{seq}", seq, kind, moment.isoformat(), moment.timestamp(), moment.date().isoformat(), revision],
        )
    conn.commit()
    conn.close()
    with GalleryStore(path) as store:
        assert [(e.kind.value, e.time) for e in store.events()] == [(k, m) for k, m, _ in old]
        assert store.list_shifts() == [] and store.list_groups()[0].shift_id is None
    settings = Settings()
    settings.attendance.time_zone = ZONE
    settings.storage.data_dir = str(tmp_path)
    with Engine(settings) as engine:
        engine.clock = lambda: at(date(2026, 12, 5), 12, 0)
        day = engine.person_history(1, MONDAY, MONDAY)[0]
    assert (day.status, day.hours, day.shift) == (DayStatus.PRESENT, 8.0, "Night")
