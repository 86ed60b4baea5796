"""The issue's four cases and the roster through `rollcall`: shift add/assign/rotate, roster, report --json.

Sightings go through the recogniser's path (AttendanceBook.observe) on the command line's own database."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.app.cli import main
from core.app.engine import Engine
from core.attendance.book import AttendanceBook
from core.base.settings import Settings

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 11, 23)


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=LONDON)


def run(capsys, *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def report(capsys, day: date) -> dict[str, dict]:
    out = run(capsys, "report", "--json", day.isoformat())
    return {row["name"]: row for row in map(json.loads, out.splitlines())}


def sightings(people: dict[str, list[datetime]]) -> None:
    """Enrol the people (long ago) and pass their sightings through the book, as the recogniser does."""
    with Engine(Settings.load()) as engine:
        ids = {name: engine.store.add_person(name).id for name in people}
        conn = sqlite3.connect(engine.settings.database_path)
        with conn:
            conn.execute("UPDATE people SET created_at = '2026-01-01T00:00:00+00:00'")
        conn.close()
        book = AttendanceBook(engine.store, engine.settings.attendance)
        for name, moments in people.items():
            for moment in moments:
                assert book.observe(ids[name], 0.9, "door", when=moment) is not None


def test_the_issues_four_cases(capsys):
    run(capsys, "config", "set", "attendance.time_zone", "Europe/London")
    run(capsys, "shift", "add", "Night", "--start", "22:00", "--end", "06:00", "--days", "mon-sun")
    run(
        capsys,
        "shift",
        "add",
        "Morning",
        "--start",
        "08:00",
        "--end",
        "12:00",
        "--checkin-before",
        "60",
        "--checkout-after",
        "60",
    )
    nights = [MONDAY + timedelta(days=i) for i in range(3)]
    plain = [m for n in nights for m in (at(n, 22, 0), at(n + timedelta(days=1), 6, 0))]
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    sightings(
        {
            "Nina": plain,
            "Nora": sorted(plain + [at(nights[1], 23, 30)]),
            "Dan": [at(tuesday, 8, 0), at(tuesday, 12, 0), at(tuesday, 22, 30), at(wednesday, 11, 0)],
        }
    )
    for name, shift in (("Nina", "Night"), ("Nora", "Night"), ("Dan", "Morning")):
        run(capsys, "shift", "assign", name, shift, "--from", "2026-11-01")

    for mode in ("false", "true"):
        run(capsys, "config", "set", "attendance.checkout_mode", mode)
        for night in nights:  # three night shifts present with 8 h each, in both modes
            rows = report(capsys, night)
            for name in ("Nina", "Nora"):
                assert (rows[name]["status"], rows[name]["hours"], rows[name]["shift"]) == ("present", 8.0, "Night")
        dan = report(capsys, tuesday)["Dan"]
        assert (dan["status"], dan["hours"], dan["half_day"]) == ("present", 4.0, False)
        assert dan["outside_window"] == [at(tuesday, 22, 30).isoformat()]
        assert report(capsys, wednesday)["Dan"]["late_minutes"] == 180
    run(capsys, "config", "set", "attendance.checkout_mode", "false")
    assert report(capsys, wednesday)["Dan"]["status"] == "late"  # in check-out mode: incomplete, late by 180


def test_rotation_roster_and_audit(capsys):
    run(capsys, "config", "set", "attendance.time_zone", "Europe/London")
    run(capsys, "shift", "add", "Day", "--start", "08:00", "--end", "16:00", "--days", "mon-sun")
    run(
        capsys,
        "shift",
        "add",
        "Night",
        "--start",
        "22:00",
        "--end",
        "06:00",
        "--days",
        "mon-sun",
        "--half-day-below",
        "4",
        "--hours",
        "pairs",
    )
    listed = run(capsys, "shift", "list")
    assert "Day: 08:00-16:00" in listed and "half day below 4 h" in listed and "hours pairs" in listed
    run(capsys, "group", "add", "Plant", "--shift", "Day", "--days", "mon-sun")
    sightings({"Rita": [], "Paul": []})
    run(capsys, "group", "assign", "Plant", "Rita", "Paul")
    run(capsys, "shift", "rotate", "Rita", "--pattern", "Day,Day,Night,Night,off,off", "--from", "2026-10-30")
    run(capsys, "shift", "assign", "Paul", "Night", "--from", "2026-11-02", "--to", "2026-11-03")
    out = run(capsys, "roster", "--from", "2026-10-30", "--to", "2026-11-04", "--json")
    cells = {(c["name"], c["date"]): (c["shift"], c["source"]) for c in map(json.loads, out.splitlines())}
    rita = [cells[("Rita", f"2026-{d}")][0] for d in ("10-30", "10-31", "11-01", "11-02", "11-03", "11-04")]
    assert rita == ["Day", "Day", "Night", "Night", "off", "off"]
    assert cells[("Paul", "2026-11-01")] == ("Day", "group")
    assert cells[("Paul", "2026-11-02")] == ("Night", "assignment")
    run(capsys, "shift", "assign", "Rita", "off", "--from", "2026-11-01", "--to", "2026-11-01")  # a cell edited
    out = run(capsys, "roster", "--from", "2026-11-01", "--to", "2026-11-02", "--json")
    assert [
        (c["shift"], c["working"], c["source"]) for c in map(json.loads, out.splitlines()) if c["name"] == "Rita"
    ] == [("off", False, "assignment"), ("Night", True, "rotation")]
    assert report(capsys, date(2026, 11, 1))["Rita"]["status"] == "day_off"
    grid = run(capsys, "roster", "--from", "2026-11-01", "--to", "2026-11-07")
    assert grid.splitlines()[1].split()[:3] == ["Paul", "Day", "Night"]
    audit = [json.loads(line) for line in run(capsys, "audit", "--json").splitlines()]
    actions = [entry["action"] for entry in audit]
    assert {"shift_add", "group_shift", "shift_rotate", "shift_assign"} <= set(actions)
    rotation = next(e for e in audit if e["action"] == "shift_rotate")
    assert rotation["details"]["pattern"] == "Day,Day,Night,Night,off,off" and rotation["person"] == "Rita"
    code = main(["shift", "rotate", "Rita", "--pattern", "Day,Evening", "--from", "2026-11-01"])
    assert code != 0 and "Evening" in capsys.readouterr().err
