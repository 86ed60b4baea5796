"""Time and attendance through the engine on a real store: corrections, locks, audit, exports, charts."""

from __future__ import annotations

import csv
import sqlite3
from datetime import date, datetime

import pytest

from core.app.changes import ChangeKind
from core.base.errors import InvalidInputError, MonthLockedError
from core.base.records import AttendanceEvent, EventKind
from core.base.timekeeping import AuditAction, DayStatus
from core.gallery.store import GalleryStore
from tests.kits.hr import DAY, at


def test_punch_makes_absent_present_and_is_audited_with_its_reason(hr):
    engine, (ada, _, bob) = hr
    seen = []
    engine.subscribe(seen.append)
    board = {d.person_id: d.status for d in engine.day_board(DAY)}
    assert board[ada.id] is DayStatus.ABSENT
    with pytest.raises(InvalidInputError, match="reason"):
        engine.punch(ada.id, datetime(2026, 10, 12, 8, 58), "   ")
    engine.punch(ada.id, datetime(2026, 10, 12, 8, 58), "badge reader down", actor="hr-anna")
    board = {d.person_id: d for d in engine.day_board(DAY)}
    assert board[ada.id].status is DayStatus.PRESENT
    assert board[ada.id].first_seen == at(DAY, 8, 58)  # the naive time was read in the site's zone
    assert seen[-1].touches(ChangeKind.CORRECTIONS) and ada.id in seen[-1].person_ids
    entry = engine.audit_log()[0]
    assert (entry.action, entry.actor, entry.reason, entry.person_id) == (
        AuditAction.PUNCH,
        "hr-anna",
        "badge reader down",
        ada.id,
    )


def test_void_and_reassign_never_edit_the_raw_event(hr):
    engine, (ada, _, bob) = hr
    raw = engine.store.record_event(AttendanceEvent(None, ada.id, None, EventKind.CHECK_IN, at(DAY, 8, 50), "cam", 0.8))
    engine.reassign_event(raw.id, bob.id, "look-alike", actor="hr")
    board = {d.person_id: d.status for d in engine.day_board(DAY)}
    assert board[ada.id] is DayStatus.ABSENT and board[bob.id] is DayStatus.PRESENT
    engine.void_event(raw.id, "not Bob either", actor="hr")
    assert {d.person_id: d.status for d in engine.day_board(DAY)}[bob.id] is DayStatus.ABSENT
    assert engine.store.get_event(raw.id) == raw  # unchanged
    assert [e.action for e in engine.audit_log(2)] == [AuditAction.VOID, AuditAction.REASSIGN]


def test_a_correction_inside_a_locked_month_is_refused_until_an_audited_unlock(hr):
    engine, (ada, _, _) = hr
    raw = engine.store.record_event(AttendanceEvent(None, ada.id, None, EventKind.CHECK_IN, at(DAY, 9, 30), "cam", 0.8))
    assert engine.lock_month("2026-10", actor="payroll").value
    before = engine.timesheet("2026-10")
    for attempt in (
        lambda: engine.punch(ada.id, datetime(2026, 10, 12, 8, 0), "x"),
        lambda: engine.void_event(raw.id, "x"),
        lambda: engine.add_leave(ada.id, date(2026, 10, 30), date(2026, 11, 2), "x"),
        lambda: engine.add_holiday(date(2026, 10, 3), "Unity day"),
    ):
        with pytest.raises(MonthLockedError, match="2026-10 is locked"):
            attempt()
    assert engine.timesheet("2026-10").rows == before.rows and before.locked
    engine.punch(ada.id, datetime(2026, 9, 30, 9, 0), "September is open")  # other months are not
    with pytest.raises(InvalidInputError, match="reason"):
        engine.unlock_month("2026-10", "")
    assert engine.unlock_month("2026-10", "late sick note", actor="payroll").value
    engine.void_event(raw.id, "duplicate badge")
    actions = [(e.action, e.actor, e.reason) for e in engine.audit_log(4)]
    assert actions[1] == (AuditAction.MONTH_UNLOCK, "payroll", "late sick note")


def test_the_audit_log_cannot_be_edited_and_keeps_no_deleted_name(hr):
    engine, (ada, _, bob) = hr
    engine.punch(bob.id, datetime(2026, 10, 12, 9, 0), "forgot")
    engine.rename_person(bob.id, "Robert")
    engine.delete_person(bob.id)
    actions = [e.action for e in engine.audit_log(3)]
    assert actions == [AuditAction.PERSON_DELETE, AuditAction.PERSON_RENAME, AuditAction.PUNCH]
    conn = sqlite3.connect(engine.settings.database_path)
    for statement in ("UPDATE audit_log SET reason = 'nothing'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement)
    conn.close()
    everything = engine.settings.database_path.read_bytes()
    wal = engine.settings.database_path.with_name("rollcall.db-wal")
    everything += wal.read_bytes() if wal.exists() else b""
    assert b"Robert" not in everything and b"Bob" not in everything


def test_timesheet_exports_neutralise_formulas_in_csv_and_xlsx(hr, tmp_path):
    import openpyxl

    engine, (ada, evil, bob) = hr
    engine.store.record_event(AttendanceEvent(None, ada.id, None, EventKind.CHECK_IN, at(DAY, 9, 20), "cam", 0.8))
    engine.add_holiday(date(2026, 10, 3), "Unity day")
    xlsx = engine.export_timesheet("2026-10", tmp_path / "oct.xlsx")
    book = openpyxl.load_workbook(xlsx)
    grid = book.worksheets[0]
    header = [c.value for c in grid[1]]
    assert header[:3] == ["Name", "External ID", "Group"] and "2026-10-31" in header
    rows = {r[0].value: r for r in grid.iter_rows(min_row=2)}
    assert set(rows) == {"Ada", "Bob", evil.name}
    assert all(c.data_type != "f" for row in grid.iter_rows() for c in row)
    assert rows[evil.name][0].data_type == "s" and rows[evil.name][0].quotePrefix
    assert rows["Ada"][header.index("2026-10-12")].value == "L"
    assert rows["Ada"][header.index("2026-10-03")].value == "H"
    assert rows["Ada"][header.index("Days late")].value == 1
    path = engine.export_timesheet("2026-10", tmp_path / "oct.csv")
    with open(path, encoding="utf-8-sig") as handle:
        csv_rows = list(csv.reader(handle))
    names = [r[0] for r in csv_rows[1:]]
    assert "'" + evil.name in names and all(r[1].startswith("'@") for r in csv_rows[1:])
    with pytest.raises(InvalidInputError, match=".xlsx or .csv"):
        engine.export_timesheet("2026-10", tmp_path / "oct.pdf")


def test_chart_pngs_and_series(hr, tmp_path):
    engine, (ada, _, bob) = hr
    for person, minute in ((ada, 50), (bob, 20)):
        engine.store.record_event(
            AttendanceEvent(
                None, person.id, None, EventKind.CHECK_IN, at(DAY, 8 if minute == 50 else 9, minute), "cam", 0.8
            )
        )
    rate, arrivals, late = engine.chart_series("2026-10")
    assert rate.values[rate.labels.index("12")] == pytest.approx(66.7) and "11" not in rate.labels  # a Sunday
    assert sum(arrivals.values) == 2 and arrivals.values[arrivals.labels.index("-10")] == 1
    assert late.labels == ("Bob",) and late.values == (1.0,)
    paths = engine.save_charts("2026-10", tmp_path / "charts")
    assert len(paths) == 3 and all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_pending_while_the_site_reports_late(hr):
    engine, (ada, _, _) = hr
    engine.clock = lambda: at(DAY, 10, 0)
    engine.reported_up_to = lambda: at(DAY, 8, 0)  # what site mode feeds: the oldest kiosk's last upload
    assert {d.status for d in engine.day_board(DAY)} == {DayStatus.PENDING}
    engine.store.record_event(AttendanceEvent(None, ada.id, None, EventKind.CHECK_IN, at(DAY, 8, 55), "kiosk2", 0.8))
    engine.reported_up_to = lambda: at(DAY, 10, 0)
    board = {d.person_id: d.status for d in engine.day_board(DAY)}
    assert board[ada.id] is DayStatus.PRESENT and DayStatus.ABSENT in board.values()


def test_migration_adds_the_tables_to_an_existing_database(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    from core.gallery.schema import MIGRATIONS

    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO people (name, name_key, created_at) VALUES ('Old', 'old', '2026-01-01T00:00:00+00:00')")
    conn.commit()
    conn.close()
    with GalleryStore(path) as store:
        assert [r.name for r in store.roster()] == ["Old"] and store.list_groups() == []
