"""Per-station quotas, enforced by the server (issue 31, defect 4's flood, scaled down: the full 1,000,000-row
flood is benchmarks/site_flood.py). A flood is cut off, the kiosk's honest queue waits and goes later, the
admin station sees the refusal, and the other stations keep syncing."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest

from core.site.connection import SiteError, SiteProblem, load_credentials
from core.site.intake import QUOTA_SQLSTATE
from tests.kits.site_kit import FAST, enroll, station, sync, write_events

ROWS_PER_HOUR = 60


@pytest.mark.slow
def test_4_a_flood_is_cut_off_and_the_honest_queue_waits_then_goes(pg, tmp_path):
    _, url = pg
    admin = station(tmp_path / "admin", replace(FAST, station_rows_per_hour=ROWS_PER_HOUR))
    enroll(admin.store, "Ada Lovelace", seed=1)
    admin.init(url)
    north, south = station(tmp_path / "north"), station(tmp_path / "south")
    north.join(url, "north")
    south.join(url, "south")
    sync(admin)  # the admin station's limits reach the server
    with psycopg.connect(load_credentials(tmp_path / "north").url, autocommit=True) as hostile:
        north_id = hostile.execute("SELECT rollcall_kiosk_id()").fetchone()[0]
        with pytest.raises(psycopg.Error) as flood:
            hostile.execute(
                "INSERT INTO events (event_uuid, kiosk_id, kiosk_seq, kind, kiosk_time, kiosk_day,"
                " kiosk_utc_offset_min, source, similarity) SELECT gen_random_uuid(), %s, 1000 + g,"
                " 'unknown', now(), (now() AT TIME ZONE 'UTC')::date, 0, 'cam', 0"
                " FROM generate_series(1, 2000) g",
                [north_id],
            )
        assert flood.value.sqlstate == QUOTA_SQLSTATE and "north is over its quota" in str(flood.value)

    write_events(north.store, 80)
    with pytest.raises(SiteError) as refused:
        sync(north)  # 50 go, the next 30 would pass 60 this hour
    assert refused.value.problem is SiteProblem.QUOTA and "stay queued" in str(refused.value)
    assert north.status(check_server=False).queue == 30
    status = admin.status()
    seen = {s.name: s for s in status.stations}
    assert seen["north"].refused_at is not None and seen["north"].rows_this_hour == 50
    assert status.quota[0] == ROWS_PER_HOUR and seen["north"].queue_length == 30

    write_events(south.store, 3)  # the other stations are not held up
    assert sync(south).uploaded == 3 and sync(south).events_mirrored is not None
    with psycopg.connect(url, autocommit=True) as owner:  # an hour later
        owner.execute("UPDATE station_intake SET hour = hour - interval '1 hour'")
    assert sync(north).uploaded == 30 and north.status(check_server=False).queue == 0
    with psycopg.connect(url, autocommit=True) as owner:  # the byte quota too (rows allowed, 20,000 bytes)
        owner.execute("UPDATE site_limits SET rows_per_hour = 1000000, bytes_per_hour = 20000")
    with psycopg.connect(load_credentials(tmp_path / "north").url, autocommit=True) as hostile:
        with pytest.raises(psycopg.Error) as too_big:
            hostile.execute(
                "INSERT INTO events (event_uuid, kiosk_id, kiosk_seq, kind, kiosk_time, kiosk_day,"
                " kiosk_utc_offset_min, source, similarity) SELECT gen_random_uuid(), rollcall_kiosk_id(), 5000 + g,"
                " 'unknown', now(), (now() AT TIME ZONE 'UTC')::date, 0, repeat('x', 200), 0"
                " FROM generate_series(1, 100) g"
            )
        assert too_big.value.sqlstate == QUOTA_SQLSTATE and "bytes" in str(too_big.value)
    for site in (admin, north, south):
        site.close()
