"""Fault tests: each target down for a while, 500 then success, the reply lost after the target stored the
punch, the station SIGKILLed during delivery, a wrong login. Each counts what reached the targets: every
sighting exactly once in ERPNext and Odoo, every webhook id at least once (a receiver deduplicates by id)."""

from __future__ import annotations

import random
import subprocess
import sys
import time

import pytest

from core.base.records import EventKind
from core.integrations.targets import Target, TargetKind
from tests.kits.fake_erpnext import FakeErpnext
from tests.kits.fake_odoo import FakeOdoo
from tests.kits.fake_webhook import FakeWebhook
from tests.kits.integration_kit import add_erpnext, add_odoo, add_webhook, at, make_engine, people, sight, status
from tests.kits.paths import REPO

WORKER = REPO / "tests" / "kits" / "integration_worker.py"
PEOPLE = 6


@pytest.fixture
def site(rollcall_home):
    """An engine with PEOPLE people known to all three targets, and the three targets configured."""
    engine = make_engine()
    erp, odoo, hook = FakeErpnext().up(), FakeOdoo().up(), FakeWebhook().up()
    staff = people(engine, PEOPLE)
    for person in staff:
        erp.add_employee(person.name, attendance_device_id=person.external_id)
        odoo.add_employee(person.name, barcode=person.external_id)
    add_erpnext(engine, erp)
    add_odoo(engine, odoo)
    add_webhook(engine, hook)
    yield engine, staff, erp, odoo, hook
    for server in (erp, odoo, hook):
        server.down()
    engine.close()


def record_days(engine, staff, first_day: int, days: int) -> int:
    """Each person checks in at 08:0x and out at 12:00 and 17:0x; returns the number of sightings."""
    count = 0
    for day in range(first_day, first_day + days):
        for i, person in enumerate(staff):
            sight(engine, person, at(day, 8, i))
            sight(engine, person, at(day, 12, 0, i), EventKind.CHECK_OUT)
            sight(engine, person, at(day, 17, i), EventKind.CHECK_OUT)
            count += 3
    return count


def deliver_until_empty(engine, rounds: int = 20) -> None:
    for _ in range(rounds):
        engine.deliver_integrations_now()
        if all(queued == 0 for queued, _, _ in status(engine).values()):
            return


def assert_exactly_once(engine, staff, erp, odoo, hook, sightings: int, days: range) -> None:
    assert status(engine) == {
        "erp": (0, sightings, 0),
        "odoo": (0, sightings, 0),
        "hook": (0, status(engine)["hook"][1], 0),
    }
    keys = [(c["employee"], c["time"]) for c in erp.checkins]
    assert len(keys) == len(set(keys)) == sightings  # each sighting once
    events = hook.unique("event")
    assert len(events) == sightings and hook.bad_signatures == 0, hook.refused
    for person in staff:  # one attendance per person and day, 08:0x to 17:0x (site time), none left open
        spans = [
            (a["check_in"][:10], a["check_out"][11:13])
            for a in odoo.attendances(odoo._search("hr.employee", [["barcode", "=", person.external_id]])[0]["id"])
        ]
        assert spans == [(f"2026-10-{d:02d}", "15") for d in days]


def test_each_target_down_for_a_while(site):
    engine, staff, erp, odoo, hook = site
    sightings = record_days(engine, staff, 12, 1)
    erp.down()
    report = engine.deliver_integrations_now()
    assert any("cannot be reached" in error for error in report.errors)
    assert status(engine)["erp"][0] == sightings
    sightings += record_days(engine, staff, 13, 1)
    odoo.down()
    hook.down()
    erp.up()
    engine.deliver_integrations_now()
    assert status(engine)["odoo"][0] > 0 and status(engine)["hook"][0] > 0
    odoo.up()
    hook.up()
    deliver_until_empty(engine)
    assert_exactly_once(engine, staff, erp, odoo, hook, sightings, range(12, 14))
    assert len(hook.received) == len(hook.unique())  # nothing was sent twice


def test_500_then_success(site):
    engine, staff, erp, odoo, hook = site
    sightings = record_days(engine, staff, 12, 1)
    for server in (erp, odoo, hook):
        server.fail_next = 3
    deliver_until_empty(engine)
    assert (erp.failed, odoo.failed, hook.failed) == (3, 3, 3)
    assert_exactly_once(engine, staff, erp, odoo, hook, sightings, range(12, 13))


def test_reply_lost_after_the_target_stored_the_punch(site):
    engine, staff, erp, odoo, hook = site
    sightings = record_days(engine, staff, 12, 1)
    for server in (erp, odoo, hook):
        server.drop_next = 3
    deliver_until_empty(engine)
    assert (erp.dropped, odoo.dropped, hook.dropped) == (3, 3, 3)
    assert_exactly_once(engine, staff, erp, odoo, hook, sightings, range(12, 13))
    assert len(hook.received) - len(hook.unique()) == 3  # the three lost replies were sent again, same ids


def test_wrong_odoo_password_stops_the_round_and_replace_keeps_the_queue(site):
    engine, staff, erp, odoo, hook = site
    engine.add_integration(
        Target("odoo", TargetKind.ODOO, odoo.url, database=odoo.db, user=odoo.login), "wrong", replace=True
    )
    sightings = record_days(engine, staff, 12, 1)
    report = engine.deliver_integrations_now()
    assert any("refused the login" in error for error in report.errors)
    queued, delivered, dead = status(engine)["odoo"]
    assert (queued, delivered, dead) == (sightings, 0, 0)
    assert "refused the login" in next(r.last_error for r in engine.integration_status() if r.target == "odoo")
    add_odoo_again = Target("odoo", TargetKind.ODOO, odoo.url, database=odoo.db, user=odoo.login)
    engine.add_integration(add_odoo_again, odoo.password, replace=True)
    deliver_until_empty(engine)
    assert_exactly_once(engine, staff, erp, odoo, hook, sightings, range(12, 13))


@pytest.mark.slow
def test_station_killed_during_delivery_loses_and_doubles_nothing(site):
    engine, staff, erp, odoo, hook = site
    rng = random.Random(26)
    sightings = kills = killed_mid_delivery = 0
    for first_day in range(1, 25, 2):  # each worker gets two new days to deliver, and is killed at it
        sightings += record_days(engine, staff, first_day, 2)
        delivered_before = sum(delivered for _, delivered, _ in status(engine).values())
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), str(engine.store.path), str(engine._integration_folder())],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.02, 0.2))
        worker.kill()  # SIGKILL
        worker.wait()
        worker.stdout.close()
        kills += 1
        counts = status(engine).values()
        delivered_now, queued_now = sum(c[1] for c in counts), sum(c[0] for c in counts)
        killed_mid_delivery += delivered_now > delivered_before and queued_now > 0
    assert kills == 12 and killed_mid_delivery >= 10
    deliver_until_empty(engine)
    assert_exactly_once(engine, staff, erp, odoo, hook, sightings, range(1, 25))
    resent = len(hook.received) - len(hook.unique())
    print(
        f"\nkills {kills} ({killed_mid_delivery} mid-delivery), {sightings} sightings, webhook bodies sent again "
        f"{resent}, ERPNext duplicates refused {erp.requests - len(erp.checkins)}"
    )
