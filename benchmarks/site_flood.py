"""A kiosk's login floods the site server with 1,000,000 events (issue 31), against a private PostgreSQL 15
cluster (fsync on) on this machine, with the default quotas (Settings.site).

1. The flood as one statement, then in statements of 10,000 rows until the quota refuses them: how long the
   server took to refuse, and how many rows it accepted.
2. Another station's next sync: without the flood, and after it (it copies what the quota let in).
3. The flooding kiosk's own honest events: refused while over the quota, kept queued, sent an hour later.

    .venv/bin/python benchmarks/site_flood.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from core.base.settings import SiteSettings  # noqa: E402
from core.site.connection import SiteError, load_credentials  # noqa: E402
from core.site.intake import QUOTA_SQLSTATE  # noqa: E402
from tests.kits.pg import PgCluster, find_bin_dir  # noqa: E402
from tests.kits.site_kit import station, sync, write_events  # noqa: E402

SETTINGS = SiteSettings(upload_batch=1000, connect_timeout_s=5)
BATCH_ROWS = 10_000
BUSY_DOOR_HOUR = 3_600  # the busiest realistic door's hour of events (docs/site.md, "Limits")
FLOOD = (
    "INSERT INTO events (event_uuid, kiosk_id, kiosk_seq, kind, kiosk_time, kiosk_day, kiosk_utc_offset_min,"
    " source, similarity) SELECT gen_random_uuid(), rollcall_kiosk_id(), %s + g, 'unknown', now(),"
    " (now() AT TIME ZONE 'UTC')::date, 0, 'flood', 0 FROM generate_series(1, %s) g"
)


def timed_sync(site) -> tuple[float, int]:
    started = time.perf_counter()
    report = sync(site)
    return time.perf_counter() - started, report.events_mirrored.added


TEMP_FILE_LIMIT_SQLSTATE = "53400"  # the kiosk login's temp_file_limit (the statement's new rows spill to disk)


def flood(url: str, rows: int) -> tuple[float, str, int, float]:
    """(seconds to refuse it as one statement, what refused it, rows accepted in batches, seconds for them)."""
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        try:
            conn.execute(FLOOD, [10_000_000, rows])
            raise SystemExit("the one-statement flood was accepted: no quota")
        except psycopg.Error as exc:
            if exc.sqlstate not in (QUOTA_SQLSTATE, TEMP_FILE_LIMIT_SQLSTATE):
                raise
            refused_by = "the quota" if exc.sqlstate == QUOTA_SQLSTATE else "the login's temp_file_limit"
        one_statement_s = time.perf_counter() - started
        accepted, batch, started = 0, BATCH_ROWS, time.perf_counter()
        while accepted < rows and batch:  # halved at each refusal: the quota filled to the last row
            try:
                conn.execute(FLOOD, [20_000_000 + accepted, min(batch, rows - accepted)])
                accepted += min(batch, rows - accepted)
            except psycopg.Error as exc:
                if exc.sqlstate != QUOTA_SQLSTATE:
                    raise
                batch //= 2
        return one_statement_s, refused_by, accepted, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL's server binaries are needed (Debian: apt-get install postgresql-15)")
    cluster = PgCluster(bin_dir, durable=True).init()
    cluster.start()
    root = Path(tempfile.mkdtemp(prefix="rollcall-flood-bench-"))
    try:
        url = cluster.url(cluster.create_database("site"))
        admin, north, south = (station(root / name, SETTINGS) for name in ("admin", "north", "south"))
        admin.init(url)
        north.join(url, "north")
        south.join(url, "south")
        for site in (north, south, admin, south):
            sync(site)
        load_before = os.getloadavg()[0]
        with psycopg.connect(url, autocommit=True) as owner:
            owner.execute("UPDATE kiosks SET joined_at = now() - interval '1 day'")
        write_events(north.store, BUSY_DOOR_HOUR, start=datetime.now().astimezone() - timedelta(hours=2))
        sync(north)
        without_s, without_rows = timed_sync(south)
        one_s, refused_by, accepted, batches_s = flood(load_credentials(root / "north").url, args.rows)
        with_s, with_rows = timed_sync(south)
        with psycopg.connect(url, autocommit=True) as owner:  # the flood took the station's next numbers: the
            high = owner.execute(
                "SELECT high_seq FROM station_intake i JOIN kiosks k ON k.id = i.kiosk_id WHERE k.name = 'north'"
            ).fetchone()[0]
        north.store.raise_event_seq(high)  # honest PC numbers after them, as a re-join does
        write_events(north.store, 100)
        try:
            sync(north)
            held = "NOT refused"
        except SiteError as exc:
            held = f"refused ({exc.problem}), {north.status(check_server=False).queue} kept queued"
        with psycopg.connect(url, autocommit=True) as owner:  # an hour later
            owner.execute("UPDATE station_intake SET hour = hour - interval '1 hour'")
        later = sync(north).uploaded
        rows = [
            "| measure | figure |",
            "| --- | --- |",
            f"| {args.rows:,} rows in one statement | refused by {refused_by} after **{one_s:.1f} s** |",
            f"| the same in statements of {BATCH_ROWS:,} (halved at each refusal) "
            f"| **{accepted:,} rows** accepted (the quota: "
            f"{SETTINGS.station_rows_per_hour:,} an hour), then refused ({batches_s:.1f} s) |",
            f"| another station's next sync, without the flood (the busiest door's hour) | **{without_s:.2f} s** "
            f"({without_rows:,} events) |",
            f"| another station's next sync, after the flood | **{with_s:.2f} s** ({with_rows:,} events) |",
            f"| its local database after it | {(root / 'south' / 'rollcall.db').stat().st_size / 2**20:.1f} MiB |",
            f"| the flooding kiosk's 100 honest events | {held}; **{later} sent** an hour later |",
            f"| machine | {os.cpu_count()} CPUs, load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after |",
        ]
        print("\n".join(rows))
        for site in (admin, north, south):
            site.close()
    finally:
        cluster.cleanup()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
