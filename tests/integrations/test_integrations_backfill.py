"""A backfill sends an existing period to a new target: the CLI command, idempotent, with progress and cancel."""

from __future__ import annotations

import dataclasses

import pytest

from core.app.cli import main
from core.base.errors import Cancelled
from core.base.records import EventKind
from tests.kits.fake_erpnext import FakeErpnext
from tests.kits.integration_kit import add_erpnext, at, make_engine, people, secret_file, sight, status


@pytest.fixture
def engine(rollcall_home):
    engine = make_engine()
    yield engine
    engine.close()


def test_backfill_sends_a_period_once_from_the_cli(engine, tmp_path, capsys):
    staff = people(engine, 2)
    for day in (10, 11, 12):  # recorded before the target existed: nothing queued
        for person in staff:
            sight(engine, person, at(day, 8, 0))
            sight(engine, person, at(day, 17, 0), EventKind.CHECK_OUT)
    engine.punch(staff[0].id, at(11, 18, 0), "left late", actor="admin")
    with FakeErpnext() as erp:
        for person in staff:
            erp.add_employee(person.name, attendance_device_id=person.external_id)
        key = secret_file(tmp_path, "erp", erp.token.removeprefix("token "))
        assert main(["integrations", "add", "erpnext", "erp", "--url", erp.url, "--api-key-file", str(key)]) == 0
        assert status(engine)["erp"] == (0, 0, 0)
        capsys.readouterr()
        argv = ["integrations", "backfill", "erp", "--from", "2026-10-10", "--to", "2026-10-11"]
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "9 of the 9 sightings and corrections" in out and "erp: 9 delivered" in out
        assert sorted({c["time"].day for c in erp.checkins}) == [10, 11] and len(erp.checkins) == 9
        assert main(argv) == 0  # again: nothing twice
        assert "0 of the 9" in capsys.readouterr().out and len(erp.checkins) == 9
        assert main(["integrations", "backfill", "erp", "--from", "2026-10-12", "--to", "2026-10-10"]) != 0


def test_backfill_reports_progress_and_a_cancel_keeps_what_was_queued(engine):
    (ada,) = people(engine, 1)
    for day in range(1, 11):
        sight(engine, ada, at(day, 8, 0))
    with FakeErpnext() as erp:
        add_erpnext(engine, erp)
        engine.integration_policy = dataclasses.replace(engine.integration_policy, batch=4)
        steps = list(engine.backfill_integration("erp", at(1, 0, 0).date(), at(10, 0, 0).date()))
        assert [(s.done, s.total) for s in steps] == [(4, 10), (8, 10), (10, 10)]
        assert status(engine)["erp"] == (10, 0, 0)
        engine.remove_integration("erp")
        add_erpnext(engine, erp)
        calls = iter([False, True])
        with pytest.raises(Cancelled):
            list(engine.backfill_integration("erp", at(1, 0, 0).date(), at(10, 0, 0).date(), lambda: next(calls)))
        assert status(engine)["erp"] == (4, 0, 0)  # the first batch stays queued
