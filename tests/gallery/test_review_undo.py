"""Review's "Add to person" counts the visitor's sightings as the person's attendance (on the day board, audited),
and can be undone; a dismissed visitor is listed and restored while retention keeps them."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from core.attendance.schedule import month_key
from core.base.errors import InvalidInputError, MonthLockedError
from core.base.records import ReviewState
from core.base.timekeeping import AuditAction, CorrectionKind, DayStatus
from tests.gallery.test_unknowns import _person
from tests.kits.paths import dev_photos
from tests.kits.sightings import store_sighting


def _at(engine, day, hour: int) -> datetime:
    return datetime.combine(day, time(hour)).replace(tzinfo=engine.site_zone())


def test_add_to_person_counts_on_the_day_board_and_is_undone(engine, faces):
    engine.enroll_files("Colin Powell", dev_photos(_person("Colin_Powell"))[:4])
    colin = engine.find_person("Colin Powell")
    engine.add_group("Office", "08:00", "17:00", days="mon-sun")
    engine.assign_group(colin.id, engine.find_group("Office").id)
    today = engine.site_today()
    engine.clock = lambda: _at(engine, today, 23).astimezone(UTC)  # the day is over: statuses are final
    tony = [
        store_sighting(engine, p, _at(engine, today, h), "/srv/cameras/north-door.mp4")
        for h, p in zip((8, 12, 17), dev_photos(_person("Tony_Blair"))[:3], strict=True)
    ]
    before = {r.person_id: r for r in engine.day_board(today)}[colin.id]
    assert before.status is DayStatus.ABSENT and before.punches == 0

    outcome = engine.assign_unknown_group(min(tony), colin.id)
    record = outcome.value
    assert record.person_id == colin.id and len(record.event_ids) == 3 and len(record.sample_ids) == 3
    assert record.report.samples_added == 3 and record.days == (today,)
    board = {r.person_id: r for r in engine.day_board(today)}[colin.id]
    assert board.status is DayStatus.PRESENT and board.punches == 3, board
    assert (board.first_seen.hour, board.last_seen.hour) == (8, 17)
    assert engine.timesheet(today).rows[0].totals.attended == 1
    entry = engine.audit_log(limit=1)[0]
    assert entry.action is AuditAction.UNKNOWN_ASSIGN and entry.person_id == colin.id
    assert entry.details["event_ids"] == list(record.event_ids) and entry.reason

    undone = engine.undo_unknown_assign(min(tony)).value
    assert undone.undone and not record.undone
    assert set(undone.sample_ids) == set(record.sample_ids) and len(undone.correction_ids) == 3
    assert len(engine.samples(colin.id)) == 4, "the visitor's samples are gone"
    after = {r.person_id: r for r in engine.day_board(today)}[colin.id]
    assert after.status is DayStatus.ABSENT and after.punches == 0
    assert engine.audit_log(limit=1)[0].action is AuditAction.UNKNOWN_UNASSIGN
    assert [g.id for g in engine.unknown_groups()] == [min(tony)], "the visitor is back in review"
    kinds = [c.kind for c in engine.store.corrections_between(_at(engine, today, 0), _at(engine, today, 23))]
    assert kinds.count(CorrectionKind.REASSIGN) == 6, "both the add and its undo stay in the record"
    with pytest.raises(InvalidInputError, match="already undone"):
        engine.undo_unknown_assign(min(tony))

    # Added again, then the month is locked: the undo is refused, naming the month.
    engine.assign_unknown_group(min(tony), colin.id)
    engine.lock_month(month_key(today), reason="payroll")
    with pytest.raises(MonthLockedError, match=month_key(today)):
        engine.undo_unknown_assign(min(tony))
    assert {r.person_id: r for r in engine.day_board(today)}[colin.id].punches == 3


def test_dismissed_visitors_are_listed_and_restored_until_retention(engine, faces):
    engine.enroll_files("Colin Powell", dev_photos(_person("Colin_Powell"))[:3])
    now = datetime.now().astimezone()
    hugo = [store_sighting(engine, p, now - timedelta(hours=1), "door") for p in dev_photos(_person("Hugo_Chavez"))[:2]]
    assert engine.dismissed_unknowns() == []
    engine.dismiss_unknown_group(min(hugo))
    assert engine.unknown_groups() == []
    [visitor] = engine.dismissed_unknowns()
    assert visitor.id == min(hugo) and visitor.count == 2 and visitor.snapshot_jpeg[:2] == b"\xff\xd8"
    assert visitor.kept_until is None, "retention 0 keeps them"
    engine.settings.storage.retention_days = 30
    assert engine.dismissed_unknowns()[0].kept_until == visitor.first_seen + timedelta(days=30)

    restored = engine.restore_unknown_group(min(hugo)).value
    assert restored.id == min(hugo)
    assert [g.id for g in engine.unknown_groups()] == [min(hugo)] and engine.dismissed_unknowns() == []
    assert engine.audit_log(limit=1)[0].action is AuditAction.UNKNOWN_RESTORE
    states = {f.state for f in engine.store.unknown_faces_by_id(hugo)}
    assert states == {ReviewState.OPEN}
    with pytest.raises(InvalidInputError, match="No dismissed visitor"):
        engine.restore_unknown_group(min(hugo))


def test_cli_unassigns_lists_dismissed_and_restores(engine, faces, capsys):
    from core.app.cli import main

    engine.enroll_files("Colin Powell", dev_photos(_person("Colin_Powell"))[:3])
    now = datetime.now().astimezone()
    tony = [store_sighting(engine, p, now, "door") for p in dev_photos(_person("Tony_Blair"))[:2]]
    hugo = store_sighting(engine, dev_photos(_person("Hugo_Chavez"))[0], now, "door")
    engine.close()

    assert main(["unknowns", "assign", str(min(tony)), "--person", "Colin Powell"]) == 0
    assert "2 sightings count as theirs" in capsys.readouterr().out
    assert main(["unknowns", "unassign", str(min(tony))]) == 0
    assert "back in review" in capsys.readouterr().out
    assert main(["unknowns", "unassign", str(min(tony))]) == 2
    assert "already undone" in capsys.readouterr().err
    assert main(["unknowns", "dismiss", str(hugo)]) == 0
    capsys.readouterr()
    assert main(["unknowns", "dismissed"]) == 0
    listed = capsys.readouterr().out
    assert listed.split()[0] == str(hugo) and "kept" in listed
    assert main(["unknowns", "restore", str(hugo)]) == 0
    assert f"restored unknown group {hugo}" in capsys.readouterr().out
