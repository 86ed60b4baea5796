"""Why a day has its status: `rollcall explain` and Engine.explain_day, by the same run of the rules."""

from __future__ import annotations

import json
from datetime import timedelta

from core.attendance.book import AttendanceBook
from core.base.records import ChallengeAttempt, ChallengeOutcome
from core.base.timekeeping import DayStatus
from tests.kits.cli import run
from tests.kits.hr import DAY, at


def test_a_late_day_says_which_rule_decided_it_with_the_sightings_and_corrections(hr, capsys):
    engine, (ada, _, bob) = hr
    for moment in (at(DAY, 9, 20), at(DAY, 17, 0)):
        engine.punch(ada.id, moment, "badge reader was down", actor="hr")
    engine.store.record_challenge(
        ChallengeAttempt(None, ada.id, at(DAY, 9, 20), "door", ("left", "right"), ChallengeOutcome.PASSED, 2.5)
    )
    explained = engine.explain_day(ada.id, DAY)
    assert explained.liveness == ("09:20:00 at door: challenge passed (left, right)",)
    assert explained.day == next(r for r in engine.day_board(DAY) if r.person_id == ada.id)
    assert explained.day.status is DayStatus.LATE
    assert "first sighting 09:20 is 20 min after 09:00 with 5 min grace: late 20" in explained.rules
    assert explained.source.value == "group" and explained.shift == "Office"
    assert [s.note.startswith("manual punch") for s in explained.sightings] == [True, True]
    assert {(a.who, a.why) for a in explained.applied} == {("hr", "badge reader was down")}
    engine.add_leave(bob.id, DAY, DAY, "annual leave", actor="hr")
    code, out, _ = run(capsys, "explain", str(bob.id), DAY.isoformat(), "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "on_leave" and data["applied"][0]["why"] == "annual leave"
    assert data["rules"][-1].endswith("on leave")
    code, out, _ = run(capsys, "explain", "Ada", (DAY + timedelta(days=5)).isoformat())
    assert code == 0 and "the shift does not work on this day: day off" in out  # a Saturday


def test_a_locked_day_names_its_snapshot_and_its_held_sightings(hr):
    engine, (ada, _, _) = hr
    engine.punch(ada.id, at(DAY, 8, 58), "badge", actor="hr")
    engine.lock_month("2026-10", actor="payroll", reason="paid")
    AttendanceBook(engine.store, engine.settings.attendance, hold_locked=True).observe(
        ada.id, 0.9, "door", when=at(DAY, 17, 0)
    )
    rules = engine.explain_day(ada.id, DAY).rules
    assert any(line.startswith("the month is locked: the timesheet shows the snapshot") for line in rules)
    assert "held (dated in the locked month, not counted until HR counts them): 17:00" in rules
