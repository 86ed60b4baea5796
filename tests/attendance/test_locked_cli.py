"""Issue 30 through `rollcall`: edit and remove what HR entered, a person's employee ID and working life,
dated group changes, held sightings and a locked month's snapshot check."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta

from core.app.cli import main
from core.app.engine import Engine
from core.attendance.book import AttendanceBook
from core.base.settings import Settings
from core.base.timekeeping import AuditAction


def run(capsys, *argv: str, code: int = 0) -> str:
    result = main(list(argv))
    out, err = capsys.readouterr()
    assert result == code, err + out
    return out + err


def test_hr_entries_are_edited_and_removed_and_a_locked_month_stays_final_from_the_cli(rollcall_home, capsys):
    today = date.today()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=15)
    month = f"{last_month:%Y-%m}"
    with Engine(Settings.load()) as engine:
        ada = engine.store.add_person("Ada")
        engine.store.add_person("Bob")
    conn = sqlite3.connect(Settings.load().database_path)
    with conn:
        conn.execute("UPDATE people SET created_at = '2020-01-01T00:00:00+00:00'")
    conn.close()
    run(capsys, "group", "add", "Office", "--start", "09:00", "--end", "17:00", "--days", "mon-sun")
    run(capsys, "group", "assign", "Office", "Ada", "Bob")
    run(capsys, "shift", "add", "Night", "--start", "22:00", "--end", "06:00", "--days", "mon-sun")
    run(capsys, "lock", month)
    with Engine(Settings.load()) as engine:
        book = AttendanceBook(engine.store, engine.settings.attendance, hold_locked=True)
        book.observe(
            ada.id, 0.9, "cam", when=datetime.combine(last_month, datetime.min.time()).astimezone() + timedelta(hours=9)
        )
    assert "verifies" in run(capsys, "verify-lock", month)

    # a dated group change: refused inside the locked month, from today otherwise
    assert "is locked" in run(capsys, "group", "shift", "Office", "Night", "--from", f"{month}-20", code=2)
    assert "from" in run(capsys, "group", "shift", "Office", "Night", "--from", today.isoformat())
    run(capsys, "edit", "group", "Office", "--name", "Head office")
    assert "verifies" in run(capsys, "verify-lock", month)

    # holidays and leave: listed with their ids, edited and removed
    run(capsys, "holiday", "add", f"{today.year + 1}-01-01", "--name", "New Year")
    listed = run(capsys, "holiday", "list", "--from", f"{today.year + 1}-01-01", "--to", f"{today.year + 1}-01-31")
    holiday_id = listed.split()[0].lstrip("#")
    run(capsys, "edit", "holiday", holiday_id, "--day", f"{today.year + 1}-01-02")
    run(capsys, "remove", "holiday", holiday_id)
    run(capsys, "leave", "add", "Bob", f"{today.year + 1}-02-02", f"{today.year + 1}-02-06", "--reason", "trip")
    leave_id = (
        run(capsys, "leave", "list", "--from", f"{today.year + 1}-02-01", "--to", f"{today.year + 1}-02-28")
        .split()[0]
        .lstrip("#")
    )
    assert "to " + f"{today.year + 1}-02-03" in run(
        capsys, "edit", "leave", leave_id, "--last", f"{today.year + 1}-02-03"
    )
    run(capsys, "remove", "leave", leave_id, "--reason", "cancelled")
    assert "is locked" in run(capsys, "leave", "add", "Bob", f"{month}-03", f"{month}-04", "--reason", "x", code=2)

    # a held sighting: listed, then counted (its month is unlocked, audited)
    listed = run(capsys, "held", "list")
    assert "1 sightings held" in listed and "Ada" in listed
    held_id = listed.split("#")[1].split()[0]
    run(capsys, "held", "count", held_id, "--reason", "the door was offline")
    assert "0 sightings held" in run(capsys, "held", "list")

    # working life and the employee ID
    assert "employee ID 7" in run(capsys, "person", "Ada", "--external-id", "7")
    assert "already belongs to Ada" in run(capsys, "person", "Bob", "--external-id", "7", code=2)
    assert "rollcall delete" in run(capsys, "person", "Bob", "--archive", today.isoformat())
    with Engine(Settings.load()) as engine:
        actions = {entry.action for entry in engine.audit_log()}
        assert {
            AuditAction.HOLIDAY_EDIT,
            AuditAction.HOLIDAY_REMOVE,
            AuditAction.LEAVE_EDIT,
            AuditAction.LEAVE_REMOVE,
            AuditAction.GROUP_EDIT,
            AuditAction.HELD_COUNTED,
            AuditAction.PERSON_EXTERNAL_ID,
            AuditAction.PERSON_ARCHIVE,
        } <= actions
        assert [o.person.name for o in engine.people()] == ["Ada"]
