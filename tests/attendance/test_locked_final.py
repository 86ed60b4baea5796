"""Locked means final (issue 30): changes apply from a day and never alter a locked month, whose snapshot keeps
verifying; sightings dated in a locked month are held; start and end dates; edit and remove of what HR enters;
external IDs. On a real store; no face model is needed for the rules."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.app.engine import Engine
from core.attendance.book import AttendanceBook
from core.base.dated import HeldOrigin, HeldState
from core.base.errors import InvalidInputError, MonthLockedError, RollcallError
from core.base.records import AttendanceEvent, EventKind
from core.base.settings import Settings
from core.base.timekeeping import AuditAction, DayStatus
from core.gallery.schema import MIGRATIONS, migrate_locked_means_final
from core.gallery.store import GalleryStore

ZONE = "Europe/Berlin"
TODAY = date(2026, 12, 8)  # a Tuesday; November is locked
NOV_2 = date(2026, 11, 2)  # a Monday


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(ZONE))


def seen(engine: Engine, person_id: int, moment: datetime) -> None:
    engine.store.record_event(AttendanceEvent(None, person_id, None, EventKind.CHECK_IN, moment, "cam", 0.9))


def totals(engine: Engine, month: str) -> dict[str, tuple]:
    return {r.name: (r.totals.attended, r.totals.absent, r.totals.hours) for r in engine.timesheet(month).rows}


@pytest.fixture
def hr(rollcall_home):
    """Office (09:00-17:00, mon-fri) with Ada and Bob, enrolled long ago; Ada worked 2 November; November locked."""
    settings = Settings()
    settings.attendance.time_zone = ZONE
    engine = Engine(settings)
    engine.clock = lambda: at(TODAY, 10, 0)
    office = engine.add_group("Office", "09:00", "17:00", 5, "mon-fri", actor="admin").value
    people = [engine.store.add_person(name, external_id=f"E-{name}") for name in ("Ada", "Bob")]
    for person in people:
        engine.assign_group(person.id, office.id, actor="admin")
    conn = sqlite3.connect(settings.database_path)
    with conn:
        conn.execute("UPDATE people SET created_at = '2026-01-01T00:00:00+00:00'")
    conn.close()
    seen(engine, people[0].id, at(NOV_2, 8, 58))
    seen(engine, people[0].id, at(NOV_2, 17, 2))
    seen(engine, people[0].id, at(TODAY - timedelta(days=1), 8, 55))  # Monday 7 December
    assert engine.lock_month("2026-11", actor="payroll", reason="November paid").value
    yield engine, office, people
    engine.close()


def test_a_groups_default_shift_changed_during_a_lock_applies_from_today_and_the_snapshot_verifies(hr):
    engine, office, (ada, bob) = hr
    before = totals(engine, "2026-11")
    assert before["Ada"][:2] == (1, 20) and before["Ada"][2] == pytest.approx(8.07, abs=0.01)
    night = engine.add_shift("Night", "22:00", "06:00", "mon-fri").value
    with pytest.raises(MonthLockedError, match="2026-11 is locked"):
        engine.set_group_shift(office.id, night.id, from_day=date(2026, 11, 20))
    engine.set_group_shift(office.id, night.id)  # from today
    assert totals(engine, "2026-11") == before
    assert engine.verify_locked_month("2026-11").verified
    assert engine.computed_timesheet(date(2026, 11, 1)).rows[0].totals.hours == pytest.approx(8.07, abs=0.01)
    board = {row.name: row for row in engine.day_board(TODAY - timedelta(days=1))}  # Monday: still the day shift
    assert (board["Ada"].status, board["Ada"].shift) == (DayStatus.PRESENT, "Office")
    assert {row.name: row.shift for row in engine.day_board(TODAY)}["Ada"] == "Night"
    assert engine.audit_log()[0].details["from"] == TODAY.isoformat()


def test_a_shift_type_edited_during_a_lock_applies_from_a_day_after_it(hr):
    engine, office, (ada, bob) = hr
    engine.unlock_month("2026-11", "set the shift up first", actor="payroll")
    day = engine.add_shift("Day", "09:00", "17:00", "mon-fri", late_grace=5).value
    engine.set_group_shift(office.id, day.id, from_day=date(2026, 10, 1))
    engine.lock_month("2026-11", actor="payroll")
    before = totals(engine, "2026-11")
    with pytest.raises(MonthLockedError, match="2026-11"):
        engine.edit_shift(day.id, start="13:00", end="21:00", from_day=date(2026, 11, 30))
    engine.edit_shift(day.id, start="13:00", end="21:00", from_day=date(2026, 12, 1))
    assert totals(engine, "2026-11") == before and engine.verify_locked_month("2026-11").verified
    monday = {row.name: row for row in engine.day_board(TODAY - timedelta(days=1))}["Ada"]
    assert monday.status is DayStatus.PRESENT  # 08:55 is before the new 13:00 start: not late
    assert engine.find_shift("Day").schedule.start.hour == 13
    entry = engine.audit_log()[0]
    assert (entry.action, entry.details["from"]) == (AuditAction.SHIFT_EDIT, "2026-12-01")


def test_a_membership_change_during_a_lock_is_refused_inside_it_and_applies_from_a_day_outside(hr):
    engine, office, (ada, bob) = hr
    late = engine.add_group("Late", "13:00", "21:00", 0, "mon-fri").value
    with pytest.raises(MonthLockedError, match="2026-11"):
        engine.assign_group(ada.id, late.id, from_day=date(2026, 11, 2))
    engine.assign_group(ada.id, late.id)  # from today
    assert engine.verify_locked_month("2026-11").verified
    assert engine.computed_timesheet(date(2026, 11, 1)).rows[0].group == "Office"
    assert {r.name: r.group for r in engine.day_board(TODAY - timedelta(days=1))}["Ada"] == "Office"
    assert {r.name: r.group for r in engine.day_board(TODAY)}["Ada"] == "Late"


def test_a_holiday_during_a_lock_is_refused_in_the_locked_month_and_the_snapshot_verifies(hr):
    engine, office, _ = hr
    with pytest.raises(MonthLockedError, match="2026-11"):
        engine.add_holiday(date(2026, 11, 3), "Forgotten")
    engine.add_holiday(date(2026, 12, 24), "Christmas Eve")
    assert engine.verify_locked_month("2026-11").verified


def test_a_locked_month_is_served_from_its_snapshot_and_a_change_behind_the_rules_back_is_detected(hr):
    engine, office, (ada, bob) = hr
    before = totals(engine, "2026-11")
    seen(engine, bob.id, at(date(2026, 11, 3), 9, 0))  # written past the engine (a forged or raw insert)
    seen(engine, bob.id, at(date(2026, 11, 3), 17, 0))
    sheet = engine.timesheet("2026-11")
    assert totals(engine, "2026-11") == before and sheet.locked  # payroll still reads what was locked
    assert sheet.differs_from_snapshot == (bob.id,) and not engine.verify_locked_month("2026-11").verified
    engine.unlock_month("2026-11", "recount", actor="payroll")  # unlocking is the only way to recompute
    assert totals(engine, "2026-11")["Bob"][0] == 1


def test_sightings_in_a_locked_month_are_held_audited_and_counted_after_an_unlock(hr):
    engine, office, (ada, bob) = hr
    book = AttendanceBook(engine.store, engine.settings.attendance, hold_locked=True)
    assert book.observe(bob.id, 0.9, "door", when=at(date(2026, 11, 4), 9, 0)) is None
    held = engine.held_sightings()
    assert [(h.person_id, h.month, h.origin) for h in held] == [(bob.id, "2026-11", HeldOrigin.LIVE)]
    assert engine.audit_log()[0].action is AuditAction.EVENTS_HELD
    assert engine.verify_locked_month("2026-11").verified and totals(engine, "2026-11")["Bob"][0] == 0
    with pytest.raises(InvalidInputError, match="reason"):
        engine.dismiss_held([held[0].id], " ")
    counted = engine.count_held([held[0].id], "the door's clock was right", actor="hr").value
    assert "2026-11" not in engine.locked_months() and totals(engine, "2026-11")["Bob"][0] == 1
    assert engine.store.held_sightings(HeldState.COUNTED)[0].event_id == counted[0].id
    actions = [entry.action for entry in engine.audit_log()[:2]]
    assert actions == [AuditAction.HELD_COUNTED, AuditAction.MONTH_UNLOCK]


def test_edit_and_remove_of_each_hr_kind_are_audited_refused_in_a_locked_month_and_in_the_hr_book(hr):
    engine, office, (ada, bob) = hr
    kiosk_copy = engine.settings.database_path.parent / "kiosk.db"
    shutil.copy(engine.settings.database_path, kiosk_copy)
    locked_holiday = engine.store.add_holiday(date(2026, 11, 11), "Locked")  # past the engine, for the refusals
    holiday = engine.add_holiday(date(2026, 12, 25), "Xmas").value
    holiday = engine.edit_holiday(holiday.id, day=date(2026, 12, 26), name="Boxing Day").value
    assert (holiday.day, holiday.name) == (date(2026, 12, 26), "Boxing Day")
    with pytest.raises(MonthLockedError):
        engine.edit_holiday(holiday.id, day=date(2026, 11, 26))
    with pytest.raises(MonthLockedError):
        engine.remove_holiday(locked_holiday.id)
    leave = engine.add_leave(bob.id, date(2026, 12, 14), date(2026, 12, 18), "holiday").value
    leave = engine.edit_leave(leave.id, last=date(2026, 12, 16), reason="shortened").value
    assert (leave.last_day, leave.reason) == (date(2026, 12, 16), "shortened")
    with pytest.raises(MonthLockedError):
        engine.edit_leave(leave.id, first=date(2026, 11, 30))
    day = engine.add_shift("Day", "08:00", "16:00").value
    assignment = engine.assign_shift(bob.id, day.id, date(2026, 12, 21), date(2026, 12, 22)).value
    assignment = engine.edit_assignment(assignment.id, shift_id=None, last=date(2026, 12, 23)).value
    assert (assignment.shift_id, assignment.last_day) == (None, date(2026, 12, 23))
    with pytest.raises(MonthLockedError):
        engine.edit_assignment(assignment.id, first=date(2026, 11, 30))
    engine.edit_group(office.id, name="Head office")
    engine.edit_shift(day.id, name="Early")
    book = engine.store.hr_book()
    assert [h["day"] for h in book["holidays"]] == ["2026-11-11", "2026-12-26"]
    assert [g["name"] for g in book["groups"]] == ["Head office"] and book["shifts"][0]["name"] == "Early"
    assert book["leave"][0]["last_day"] == "2026-12-16" and book["shift_assignments"][0]["shift_id"] is None
    kiosk = GalleryStore(kiosk_copy)  # a kiosk applies the book: the same facts
    kiosk.apply_hr_book(book)
    assert [g.name for g in kiosk.list_groups()] == ["Head office"]
    assert kiosk.holidays(date(2026, 12, 1), date(2026, 12, 31))[0].name == "Boxing Day"
    kiosk.close()
    engine.remove_holiday(holiday.id)
    engine.remove_leave(leave.id, "cancelled")
    engine.remove_assignment(assignment.id)
    engine.remove_shift(day.id)
    with pytest.raises(InvalidInputError, match="still used"):
        engine.remove_group(office.id)
    spare = engine.add_group("Spare", "09:00", "17:00").value
    engine.remove_group(spare.id)
    assert engine.holidays_between(date(2026, 12, 1), date(2026, 12, 31)) == []
    assert engine.leave_between(date(2026, 12, 1), date(2026, 12, 31)) == [] and engine.shifts() == []
    actions = {entry.action for entry in engine.audit_log()}
    assert actions >= {
        AuditAction.HOLIDAY_EDIT,
        AuditAction.HOLIDAY_REMOVE,
        AuditAction.LEAVE_EDIT,
        AuditAction.LEAVE_REMOVE,
        AuditAction.ASSIGNMENT_EDIT,
        AuditAction.ASSIGNMENT_REMOVE,
        AuditAction.GROUP_EDIT,
        AuditAction.GROUP_REMOVE,
        AuditAction.SHIFT_EDIT,
        AuditAction.SHIFT_REMOVE,
    }


def test_an_archived_leaver_keeps_their_timesheets_and_is_no_longer_recognised(hr):
    engine, office, (ada, bob) = hr
    with pytest.raises(MonthLockedError, match="2026-11"):
        engine.archive_person(ada.id, date(2026, 11, 20))
    engine.archive_person(ada.id, date(2026, 12, 7), reason="resigned")
    assert [o.person.name for o in engine.people()] == ["Bob"]  # out of the gallery and the lists
    december = {row.name: row for row in engine.timesheet("2026-12").rows}
    ada_days = {d.day: d.status for d in december["Ada"].days}
    assert ada_days[date(2026, 12, 7)] is DayStatus.PRESENT and ada_days[TODAY] is DayStatus.LEFT
    assert totals(engine, "2026-11")["Ada"][0] == 1  # the locked month keeps her
    assert "Ada" not in {row.name for row in engine.day_board(TODAY)}
    assert "Ada" not in {row.name for row in engine.timesheet("2027-01").rows}
    assert engine.audit_log()[0].action is AuditAction.PERSON_ARCHIVE


def test_a_start_date_makes_earlier_days_not_enrolled_and_moving_it_into_a_locked_month_is_refused(hr):
    engine, office, (ada, bob) = hr
    with pytest.raises(MonthLockedError, match="2026-11"):  # enrolled in January: days in November would change
        engine.set_working_life(bob.id, start=date(2026, 12, 3))
    carol = engine.store.add_person("Carol")  # enrolled today
    engine.assign_group(carol.id, office.id)
    with pytest.raises(MonthLockedError, match="2026-11"):
        engine.set_working_life(carol.id, start=date(2026, 11, 15))
    engine.set_working_life(carol.id, start=date(2026, 12, 3))
    days = {d.day: d.status for d in engine.person_history(carol.id, date(2026, 12, 2), date(2026, 12, 3))}
    assert days == {date(2026, 12, 2): DayStatus.NOT_ENROLLED, date(2026, 12, 3): DayStatus.ABSENT}
    assert engine.verify_locked_month("2026-11").verified


def test_an_import_before_the_start_date_lists_the_lines_or_moves_the_start(hr, tmp_path):
    engine, office, (ada, bob) = hr
    carol = engine.store.add_person("Carol", external_id="E-Carol")  # enrolled today, started on the 3rd
    engine.assign_group(carol.id, office.id)
    engine.set_working_life(carol.id, start=date(2026, 12, 3))
    log = tmp_path / "log.csv"
    log.write_text("person,time\nE-Carol,2026-12-01 09:00\nE-Carol,2026-12-02 09:00\nE-Carol,2026-12-03 09:00\n")
    result = engine.import_events_now(log).value
    assert (result.recorded, [p.line for p in result.before_start]) == (1, [2, 3])
    assert "before Carol's start date 2026-12-03" in result.before_start[0].message
    result = engine.import_events_now(log, move_start=True).value
    assert result.starts_moved == ((carol.id, date(2026, 12, 1)),) and result.recorded == 2
    statuses = {d.day: d.status for d in engine.person_history(carol.id, date(2026, 12, 1), date(2026, 12, 3))}
    assert set(statuses.values()) == {DayStatus.PRESENT}


def test_an_external_id_set_after_enrollment_matches_a_zkteco_log(hr, tmp_path):
    engine, office, (ada, bob) = hr
    engine.set_external_id(bob.id, None)
    carol = engine.store.add_person("Carol")
    engine.set_working_life(carol.id, start=date(2026, 12, 1))
    engine.set_external_id(carol.id, "7", actor="hr")
    entry = engine.audit_log()[0]
    assert (entry.action, entry.details) == (AuditAction.PERSON_EXTERNAL_ID, {"external_id": "7", "was": None})
    with pytest.raises(RollcallError, match="already belongs to Carol"):
        engine.set_external_id(bob.id, "7")
    log = tmp_path / "1_attlog.dat"
    log.write_text("        7\t2026-12-07 08:59:01\t1\t0\t1\t0\n        7\t2026-12-07 17:01:00\t1\t1\t1\t0\n")
    result = engine.import_events_now(log).value
    assert result.recorded == 2
    monday = {row.name: row for row in engine.day_board(TODAY - timedelta(days=1))}["Carol"]
    assert monday.status is DayStatus.PRESENT and monday.hours > 8


def test_the_migration_keeps_every_event_and_runs_again_without_harm(rollcall_home, tmp_path):
    path = tmp_path / "old.db"
    store = GalleryStore(path)
    person = store.add_person("Ada")
    for hour in range(8, 12):
        store.record_event(AttendanceEvent(None, person.id, None, EventKind.CHECK_IN, at(NOV_2, hour, 0), "cam", 0.9))
    store.close()
    conn = sqlite3.connect(path)  # back to the schema before this migration
    for table in ("month_snapshots", "held_sightings", "group_history", "shift_history", "membership_history"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("ALTER TABLE people DROP COLUMN start_day")
    conn.execute("ALTER TABLE people DROP COLUMN end_day")
    conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(migrate_locked_means_final)}")
    conn.commit()
    conn.close()
    store = GalleryStore(path)
    assert len(store.events()) == 4 and store.roster()[0].start_day is None
    with store.transaction():
        migrate_locked_means_final(store._conn)  # re-runnable
    assert len(store.events()) == 4
    store.close()


def test_the_gallery_floor_names_the_kiosk_role_as_the_site_floor_does():
    from core.gallery.site_store import KIOSK_ROLE, ROLE_META_KEY
    from core.site.records import ROLE_KEY, SiteRole

    assert (ROLE_META_KEY, KIOSK_ROLE) == (ROLE_KEY, SiteRole.KIOSK.value)


def test_merging_people_keeps_their_held_sightings_and_a_leavers_later_lines_are_listed(hr, tmp_path):
    engine, office, (ada, bob) = hr
    book = AttendanceBook(engine.store, engine.settings.attendance, hold_locked=True)
    book.observe(bob.id, 0.9, "door", when=at(date(2026, 11, 5), 9, 0))
    with pytest.raises(MonthLockedError, match="2026-11"):  # Ada's November events would count for Bob
        engine.merge_people(bob.id, ada.id)
    engine.merge_people(ada.id, bob.id)
    assert [h.person_id for h in engine.held_sightings()] == [ada.id]
    engine.archive_person(ada.id, date(2026, 12, 7))
    log = tmp_path / "after.csv"
    log.write_text("person,time\nE-Ada,2026-12-07 09:00\nE-Ada,2026-12-08 09:00\n")
    result = engine.import_events_now(log).value
    assert [p.line for p in result.before_start] == [3] and "after Ada's end date" in result.before_start[0].message
