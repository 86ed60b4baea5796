"""An HR engine on an empty gallery, with a fixed Monday and times on it."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

import pytest

from core.app.engine import Engine
from core.base.settings import Settings

DAY = date(2026, 10, 12)  # a Monday
ZONE = "Europe/Berlin"


def enrolled_long_ago(engine) -> None:
    """The rules leave days before enrollment out; these people were enrolled before the test's month."""
    conn = sqlite3.connect(engine.settings.database_path)
    with conn:
        conn.execute("UPDATE people SET created_at = '2026-01-01T00:00:00+00:00'")
    conn.close()


def at(day: date, hh: int, mm: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(ZONE))


@pytest.fixture
def hr(rollcall_home):
    """An engine on a real database file; no face model is needed for the rules."""
    settings = Settings()
    settings.attendance.time_zone = ZONE
    engine = Engine(settings)
    engine.clock = lambda: at(DAY, 23, 0)
    group = engine.add_group("Office", "09:00", "17:00", 5, "mon-fri", 7.5, actor="admin").value
    people = []
    for name in ("Ada", '=HYPERLINK("http://x")', "Bob"):
        person = engine.store.add_person(name, external_id="@E" + name[:1])
        engine.assign_group(person.id, group.id, actor="admin")
        people.append(person)
    enrolled_long_ago(engine)
    yield engine, people
    engine.close()
