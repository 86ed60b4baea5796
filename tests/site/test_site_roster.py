"""A rotating roster in site mode, against a real PostgreSQL: the admin station's shifts, rotations and dated
assignments travel in the HR book, and a kiosk and the admin station give the same day board and timesheet
for sightings logged at both (brought in with `events import`)."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from core.app.engine import Engine
from core.base.settings import Settings, SiteSettings
from core.base.timekeeping import DayStatus
from tests.kits.site_kit import MODEL, enroll

ZONE = ZoneInfo("Europe/Berlin")
FIRST = date(2026, 10, 26)  # a Monday; the rotation runs across the month's end
DAYS = [FIRST + timedelta(days=n) for n in range(10)]
ROTATION = "Day,Day,Night,Night,off,off"


def make_engine(folder: Path) -> Engine:
    settings = Settings()
    settings.storage.data_dir = str(folder)
    settings.storage.backups_kept = 0
    settings.site = SiteSettings(sync_interval_s=60, connect_timeout_s=2)
    settings.compute.active_model = MODEL.id
    settings.attendance.time_zone = ZONE.key
    return Engine(settings)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZONE)


def shift_sightings(day: date, shift: str, late: int = 0) -> tuple[datetime, datetime]:
    """An arrival (late minutes late) and a departure on time for a day's shift."""
    if shift != "Night":
        return at(day, 8, late), at(day, 16)
    return at(day, 22, late), at(day + timedelta(days=1), 6)


def plan() -> dict[str, list[tuple[date, str, int]]]:
    """Who works which shift on which day, and how late they come: (day, shift, late minutes)."""
    pattern = ROTATION.split(",")
    ada = [(day, pattern[n % len(pattern)], 20 if n == 1 else 0) for n, day in enumerate(DAYS)]
    charles = [(day, "Night" if day == date(2026, 11, 2) else "Weekday", 0) for day in DAYS if day.weekday() < 5]
    return {"Ada Lovelace": [entry for entry in ada if entry[1] != "off"], "Charles Babbage": charles}


def write_log(path: Path, rows: list[tuple[str, datetime]]) -> Path:
    path.write_text("person,time\n" + "".join(f"{name},{moment:%Y-%m-%d %H:%M}\n" for name, moment in rows))
    return path


@pytest.fixture
def site(pg, tmp_path):
    _, url = pg
    admin = make_engine(tmp_path / "admin")
    for seed, name in enumerate(("Ada Lovelace", "Charles Babbage"), start=1):
        enroll(admin.store, name, seed=seed)
    conn = sqlite3.connect(admin.store.path)  # enrolled before the roster's days
    with conn:
        conn.execute("UPDATE people SET created_at = '2026-01-01T00:00:00+00:00'")
    conn.close()
    admin.site_init(url)
    kiosk = make_engine(tmp_path / "kiosk")
    kiosk.site_join(url, "door")
    with psycopg.connect(url) as server:
        server.execute("UPDATE kiosks SET joined_at = now() - interval '90 days'")
    yield admin, kiosk
    admin.close()
    kiosk.close()


def board(engine: Engine, day: date) -> list[dict]:
    return [row.to_json() for row in engine.day_board(day)]


def test_a_kiosk_and_the_admin_station_agree_on_a_rotating_roster(site, tmp_path):
    admin, kiosk = site
    admin.add_shift("Day", "08:00", "16:00", "mon-sun")
    night = admin.add_shift("Night", "22:00", "06:00", "mon-sun").value
    weekday = admin.add_shift("Weekday", "08:00", "16:00", "mon-fri").value
    office = admin.add_group("Office", "09:00", "17:00", 0, "mon-sun").value
    ada, charles = admin.find_person("Ada Lovelace"), admin.find_person("Charles Babbage")
    admin.set_group_shift(office.id, weekday.id)  # the group's default shift replaces its own schedule
    admin.assign_group(charles.id, office.id)
    admin.assign_shift(charles.id, night.id, date(2026, 11, 2), date(2026, 11, 2))  # overrides the group's Day
    admin.rotate_shift(ada.id, ROTATION, FIRST)

    # arrivals are logged at the kiosk's door, departures at the admin station
    arrivals, departures = [], []
    for name, days in plan().items():
        for day, shift, late in days:
            arrival, departure = shift_sightings(day, shift, late)
            arrivals.append((name, arrival))
            departures.append((name, departure))
    kiosk.sync_site_now()  # the kiosk has the HR book before it imports
    assert kiosk.import_events_now(write_log(tmp_path / "door.csv", arrivals)).value.recorded == len(arrivals)
    assert admin.import_events_now(write_log(tmp_path / "desk.csv", departures)).value.recorded == len(departures)
    kiosk.sync_site_now()
    admin.sync_site_now()
    kiosk.sync_site_now()

    assert [(r.day, r.shift) for r in kiosk.roster(DAYS[0], DAYS[-1]) if r.person_id == ada.id] == \
           [(r.day, r.shift) for r in admin.roster(DAYS[0], DAYS[-1]) if r.person_id == ada.id]
    for day in DAYS:
        assert board(kiosk, day) == board(admin, day), day
    for month in ("2026-10", "2026-11"):
        assert kiosk.timesheet(month).rows == admin.timesheet(month).rows

    rows = {(row.name, row.day): row for day in DAYS for row in admin.day_board(day)}
    night_one = rows[("Ada Lovelace", date(2026, 10, 28))]
    assert (night_one.status, night_one.shift, night_one.hours) == (DayStatus.PRESENT, "Night", 8.0)
    assert (rows[("Ada Lovelace", date(2026, 10, 27))].status, rows[("Ada Lovelace", date(2026, 10, 27))].late_minutes
            ) == (DayStatus.LATE, 20)
    assert rows[("Ada Lovelace", date(2026, 10, 31))].status is DayStatus.DAY_OFF
    assert (rows[("Ada Lovelace", date(2026, 11, 1))].shift, rows[("Ada Lovelace", date(2026, 11, 1))].status) == \
           ("Day", DayStatus.PRESENT)  # the pattern goes on in the new month
    swapped = rows[("Charles Babbage", date(2026, 11, 2))]
    assert (swapped.status, swapped.shift, swapped.hours) == (DayStatus.PRESENT, "Night", 8.0)
    assert rows[("Charles Babbage", date(2026, 10, 30))].shift == "Weekday"  # the group's default
    assert rows[("Charles Babbage", date(2026, 10, 31))].status is DayStatus.DAY_OFF  # a Saturday
