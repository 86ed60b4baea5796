"""`rollcall verify` over 1,000,000 events (target: <= 30 s), and what the chain costs an event's write.

    .venv/bin/python benchmarks/verify.py [--events 1000000]

Writes the events into a real kiosk database through the store's own connection (its TEMP triggers append one
ledger entry per event, as recognition does), in batches of 10,000 per transaction; signs a checkpoint; then
times Engine.verify_chain(): every ledger link and every chained row's content hash, and the checkpoint's
signature. Also times 2,000 single-event writes (GalleryStore.record_event, one transaction each) with the
chain's triggers and without them, for the per-event cost.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.app.engine import Engine  # noqa: E402
from core.base.records import AttendanceEvent, EventKind  # noqa: E402
from core.base.settings import Settings  # noqa: E402

BATCH = 10_000
SINGLE_WRITES = 2_000


def fill(engine: Engine, count: int) -> float:
    store, start = engine.store, datetime(2026, 1, 1, tzinfo=UTC)
    people = [store.add_person(f"Person {i}").id for i in range(100)]
    began = time.perf_counter()
    for first in range(0, count, BATCH):
        rows = []
        for i in range(first, min(count, first + BATCH)):
            moment = start + timedelta(seconds=30 * i)
            rows.append((people[i % 100], "check_in", moment.isoformat(), moment.timestamp(),
                         moment.date().isoformat(), "door", 0.9, i + 1))  # fmt: skip
        with store.transaction():
            store._conn.executemany(  # the store's connection: its chain triggers run, as for recognition
                "INSERT INTO events (person_id, kind, time, ts, day, source, similarity, seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        store._conn.execute("UPDATE meta SET value = ? WHERE key = 'event_seq'", [str(count)])
    return time.perf_counter() - began


def single_writes(engine: Engine, chained: bool) -> float:
    store = engine.store
    if not chained:
        for op in ("insert", "update", "delete"):
            store._conn.execute(f"DROP TRIGGER temp.chain_events_{op}")
    person = store.add_person(f"Single {chained}").id
    moment = datetime(2027, 1, 1, tzinfo=UTC)
    began = time.perf_counter()
    for i in range(SINGLE_WRITES):
        store.record_event(AttendanceEvent(None, person, None, EventKind.CHECK_IN, moment + timedelta(minutes=i),
                                           "door", 0.9))  # fmt: skip
    return (time.perf_counter() - began) / SINGLE_WRITES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings()
        settings.storage.data_dir = folder
        settings.storage.backups_kept = 0
        engine = Engine(settings)
        written = fill(engine, args.events)
        print(f"wrote {args.events:,} chained events in {written:.1f} s ({args.events / written:,.0f}/s, batches)")
        engine.checkpoint()
        began = time.perf_counter()
        report = engine.verify_chain()
        took = time.perf_counter() - began
        assert report.clean, report.lines()
        print(f"verify: {report.entries:,} ledger entries, {report.rows:,} rows in {took:.1f} s "
              f"(target <= 30 s): {'PASS' if took <= 30 else 'FAIL'}")  # fmt: skip
        with_chain = single_writes(engine, chained=True)
        without = single_writes(engine, chained=False)
        print(f"one event's write: {with_chain * 1000:.2f} ms with the chain, {without * 1000:.2f} ms without")
        engine.close()


if __name__ == "__main__":
    main()
