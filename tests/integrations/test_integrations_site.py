"""Integrations in a site, on a real PostgreSQL: the admin station queues and delivers the sightings that
reach it from every kiosk (with the kiosk's name as the station), exactly once; a kiosk queues nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.integrations.delivery import DeliveryRound
from core.integrations.outbox import DeliveryPolicy, transaction
from core.integrations.targets import Target, TargetKind, save_target, store_secret
from tests.kits.fake_webhook import FakeWebhook
from tests.kits.site_kit import admin_and_kiosk, joined_since, sync, write_events


@pytest.fixture
def site(pg, tmp_path):
    cluster, url = pg
    admin, kiosk = admin_and_kiosk(url, tmp_path, "north door")
    joined_since(url, days=400)  # the sightings below are from October
    hook = FakeWebhook().up()
    with admin.store._lock:  # the target, as `rollcall integrations add` saves it
        conn = admin.store._conn
        with transaction(conn):
            save_target(conn, Target("hook", TargetKind.WEBHOOK, hook.url))
    store_secret(tmp_path / "admin", "hook", hook.secret)
    yield admin, kiosk, hook, tmp_path
    hook.down()
    admin.close()
    kiosk.close()


def deliver(db_path, data_dir) -> int:
    delivery = DeliveryRound(db_path, data_dir, ZoneInfo("UTC"), "admin", DeliveryPolicy(first_retry_s=0))
    generator = delivery.run(now=True)
    while True:
        try:
            next(generator)
        except StopIteration as done:
            return done.value.delivered


def test_the_admin_station_delivers_every_kiosks_sightings_once(site):
    admin, kiosk, hook, folder = site
    ada_on_kiosk = kiosk.store.list_people()[0].id
    ada_on_admin = admin.store.list_people()[0].id
    write_events(kiosk.store, 3, datetime(2026, 10, 12, 8, 0, tzinfo=UTC), ada_on_kiosk)
    write_events(admin.store, 2, datetime(2026, 10, 12, 9, 0, tzinfo=UTC), ada_on_admin)
    assert kiosk.store._scalar("SELECT count(*) FROM integration_outbox") == 0  # a kiosk has no targets
    sync(kiosk)
    sync(admin)
    sync(admin)
    assert deliver(admin.store.path, folder / "admin") >= 5
    assert deliver(admin.store.path, folder / "admin") == 0
    events = hook.unique("event")
    assert len(events) == len(hook.received) == 5
    stations = sorted(body["data"]["station"] for body in events.values())
    assert stations == ["admin", "admin", "north door", "north door", "north door"]
    kiosk_uuids = {r[0] for r in kiosk.store._conn.execute("SELECT uuid FROM events")}
    assert kiosk_uuids <= set(events)  # the kiosk's own event ids travel unchanged
