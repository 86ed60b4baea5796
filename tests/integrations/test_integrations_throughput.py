"""Delivery throughput to local targets (events per second) and the delay from sighting to delivery with
the background thread running; prints the figures (docs/integrations.md and the issue's closing note)."""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest

from core.integrations.outbox import DeliveryPolicy
from tests.kits.fake_erpnext import FakeErpnext
from tests.kits.fake_odoo import FakeOdoo
from tests.kits.fake_webhook import FakeWebhook
from tests.kits.integration_kit import add_erpnext, add_odoo, add_webhook, make_engine, people, sight

EVENTS = 600
SIGHTINGS_FOR_DELAY = 40


@pytest.fixture
def engine(rollcall_home):
    engine = make_engine()
    yield engine
    engine.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["webhook", "erpnext", "odoo"])
def test_delivery_throughput(engine, kind, capsys):
    server = {"webhook": FakeWebhook, "erpnext": FakeErpnext, "odoo": FakeOdoo}[kind]().up()
    try:
        staff = people(engine, 20)
        for person in staff:
            if isinstance(server, FakeErpnext):
                server.add_employee(person.name, attendance_device_id=person.external_id)
            elif isinstance(server, FakeOdoo):
                server.add_employee(person.name, barcode=person.external_id)
        {"webhook": add_webhook, "erpnext": add_erpnext, "odoo": add_odoo}[kind](engine, server)  # type: ignore[operator]
        start = datetime(2026, 10, 12, 6, 0, tzinfo=UTC)
        for i in range(EVENTS):
            sight(engine, staff[i % len(staff)], start + timedelta(minutes=i))
        began = time.perf_counter()
        report = engine.deliver_integrations_now()
        seconds = time.perf_counter() - began
        assert report.dead == 0 and report.delivered >= EVENTS
        with capsys.disabled():
            print(
                f"\n{kind}: {EVENTS} events in {seconds:.2f} s = {EVENTS / seconds:.0f} events/s "
                f"({report.delivered} rows with day statuses); load average {os.getloadavg()[0]:.2f}"
            )
    finally:
        server.down()


@pytest.mark.slow
def test_delay_from_sighting_to_delivery(engine, capsys):
    engine.integration_policy = DeliveryPolicy()  # the defaults: a round every 2 s
    hook = FakeWebhook().up()
    arrivals: dict[str, float] = {}
    handle = hook.handle

    def timed(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        answer = handle(method, path, headers, body)
        arrivals.setdefault(hook.received[-1]["id"], time.time())
        return answer

    hook.handle = timed  # type: ignore[method-assign]
    try:
        add_webhook(engine, hook)
        (ada,) = people(engine, 1)
        assert engine.start_integration_delivery()
        sighted = {}
        for _ in range(SIGHTINGS_FOR_DELAY):
            event = sight(engine, ada, datetime.now(UTC))
            sighted[engine.store._scalar("SELECT uuid FROM events WHERE id = ?", [event.id])] = time.time()
            time.sleep(0.25)
        deadline = time.time() + 10
        while len(set(sighted) & set(arrivals)) < len(sighted) and time.time() < deadline:
            time.sleep(0.05)
        engine.stop_integration_delivery()
        delays = sorted(arrivals[u] - t for u, t in sighted.items())
        assert len(delays) == SIGHTINGS_FOR_DELAY
        with capsys.disabled():
            print(
                f"\ndelay from sighting to delivery ({len(delays)} sightings, one every 0.25 s, rounds every "
                f"2 s): median {statistics.median(delays):.2f} s, p95 {delays[int(0.95 * len(delays)) - 1]:.2f} s,"
                f" max {delays[-1]:.2f} s; load average {os.getloadavg()[0]:.2f}"
            )
    finally:
        hook.down()
