"""A month's timesheet for 1,000 people on rotating rosters and 60,000 events (target: <= 2 s).

    .venv/bin/python benchmarks/timesheet.py [--people 1000] [--events 60000] [--repeats 3]

Builds a real database: four groups (one a night shift) as everyone's default, three shift types (Early,
Late, Night; windows, half days, pairs) and a rotating roster for every person, started on different days
before the month so the rotation crosses the month boundary; dated assignments for some, holidays, leave and
corrections. The events follow each person's roster (arrival and departure, a lunch break for some, a stray
sighting outside any window now and then). Then it times what the Timesheet view and `rollcall timesheet`
do: Engine.timesheet() (reading the facts from the store and computing every person-day), and writing the
XLSX and CSV files. Then it locks the month and times a locked month's read (served from the snapshot the
lock kept, and checked against the month computed again).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

MONTH = date(2026, 10, 1)
ZONE = "Europe/Berlin"


ROTATION = "Early,Early,Late,Late,Night,Night,off,off"
SHIFTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("Early", "06:00", "14:00", dict(late_grace=5, checkin_before=60, checkout_after=90, half_day_below=4)),
    ("Late", "14:00", "22:00", dict(late_grace=5, early_grace=10, hours="pairs")),
    ("Night", "22:00", "06:00", dict(checkin_before=120, checkout_after=120, half_day_below=4, absent_below=2)),
]


def populate(engine, people: int, events: int, seed: int = 7) -> None:
    from core.attendance.schedule import localize, month_days
    from core.base.timekeeping import CorrectionKind

    rng = random.Random(seed)
    store = engine.store
    shapes = [
        ("Office", "09:00", "17:00", 5, "mon-fri", 7.5),
        ("Plant", "06:00", "14:00", 0, "mon-sat", 7.0),
        ("Night", "22:00", "06:00", 10, "sun-thu", 7.0),
        ("School", "08:15", "15:30", 5, "mon-fri", 0.0),
    ]
    groups = [engine.add_group(*shape, actor="bench").value for shape in shapes]
    shifts = [
        engine.add_shift(name, start, end, days="mon-sun", actor="bench", **options).value
        for name, start, end, options in SHIFTS
    ]
    zone = engine.site_zone()
    ids = []
    with store.transaction():
        for i in range(people):
            person = store.add_person(f"Person {i:04d}", external_id=f"E{i:05d}", allow_duplicate=True)
            store.set_person_group(person.id, groups[i % len(groups)].id)
            ids.append(person.id)
        store._conn.execute("UPDATE people SET created_at = '2026-01-01T00:00:00+00:00'")  # enrolled before
    for i, person_id in enumerate(ids):
        engine.rotate_shift(person_id, ROTATION, MONTH - timedelta(days=1 + i % 8), actor="bench")
    for person_id in ids[::40]:  # a week on nights for some
        engine.assign_shift(person_id, shifts[2].id, date(2026, 10, 12), date(2026, 10, 18), actor="bench")
    plan, roster = engine.shift_plan(), {p.person_id: p for p in store.roster()}
    days = month_days(MONTH)
    rows: list[tuple[int, datetime]] = []
    while len(rows) < events:
        person_id = rng.choice(ids)
        day = rng.choice(days)
        planned = plan.planned(roster[person_id], day)
        if not planned.working or planned.schedule is None:
            if rng.random() < 0.05:  # a stray visit on a day off
                noon = datetime.combine(day, datetime.min.time()) + timedelta(hours=12)
                rows.append((person_id, localize(noon, zone)))
            continue
        start = localize(datetime.combine(day, planned.schedule.start) + timedelta(minutes=rng.gauss(0, 12)), zone)
        out = start + planned.schedule.length + timedelta(minutes=rng.gauss(0, 20))
        rows.append((person_id, start))
        if rng.random() < 0.3:  # a lunch break
            rows += [(person_id, start + timedelta(hours=4)), (person_id, start + timedelta(hours=4, minutes=30))]
        rows.append((person_id, out))
    with store.transaction():
        conn = store._conn  # bulk insert for set-up speed only; the timed part goes through the engine
        conn.executemany(
            "INSERT INTO events (person_id, kind, time, ts, day, source, similarity)"
            " VALUES (?, 'check_in', ?, ?, ?, 'bench', 0.9)",
            [(p, m.isoformat(), m.timestamp(), m.date().isoformat()) for p, m in rows[:events]],
        )
    engine.add_holiday(date(2026, 10, 3), "Unity day", actor="bench")
    for person_id in ids[:50]:
        engine.add_leave(person_id, date(2026, 10, 19), date(2026, 10, 23), "vacation", actor="bench")
    for person_id in ids[50:150]:
        store.add_correction(
            CorrectionKind.PUNCH,
            "bench",
            "bench",
            person_id=person_id,
            moment=localize(datetime(2026, 10, 14, 8, 59), zone),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--events", type=int, default=60000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    home = C.fresh_home()
    from core.app.engine import Engine
    from core.base.settings import Settings

    settings = Settings()
    settings.attendance.time_zone = ZONE
    settings.attendance.checkout_mode = True
    with Engine(settings) as engine:
        populate(engine, args.people, args.events)
        engine.clock = lambda: datetime(2026, 11, 2, 12, 0).astimezone()
        compute, cpu, xlsx, csv_times = [], [], [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            sheet = engine.timesheet(MONTH)
            compute.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            from core.attendance.export import export_timesheet

            t0 = time.perf_counter()
            export_timesheet(sheet, home / "bench.xlsx")
            xlsx.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            export_timesheet(sheet, home / "bench.csv")
            csv_times.append(time.perf_counter() - t0)
        cells = sum(len(r.days) for r in sheet.rows)
        print(
            f"{len(sheet.rows)} people x {len(sheet.days)} days = {cells} person-days from "
            f"{engine.stats().events} events"
        )
        print(
            f"timesheet (store read + rules): median {statistics.median(compute):.2f} s "
            f"(min {min(compute):.2f}, max {max(compute):.2f}); CPU time median {statistics.median(cpu):.2f} s"
            " (what a quiet machine would take, near enough)"
        )
        print(
            f"XLSX write: median {statistics.median(xlsx):.2f} s;  "
            f"CSV write: median {statistics.median(csv_times):.2f} s"
        )
        statuses: dict[str, int] = {}
        for row in sheet.rows:
            for d in row.days:
                statuses[d.status.value] = statuses.get(d.status.value, 0) + 1
        print("statuses:", ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
        shifts: dict[str, int] = {}
        for row in sheet.rows:
            for d in row.days:
                shifts[d.shift or "none"] = shifts.get(d.shift or "none", 0) + 1
        outside = sum(len(d.outside_window) for row in sheet.rows for d in row.days)
        codes = ", ".join(f"{k} {v}" for k, v in sorted(shifts.items()))
        print(f"shift codes: {codes}; sightings outside any window {outside}")
        t0 = time.perf_counter()
        engine.lock_month(f"{MONTH:%Y-%m}", actor="bench", reason="benchmark")
        lock_s = time.perf_counter() - t0
        locked, locked_cpu = [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            kept = engine.timesheet(MONTH)  # served from the snapshot, checked against the month computed again
            locked.append(time.perf_counter() - t0)
            locked_cpu.append(time.process_time() - c0)
        assert kept.locked and not kept.differs_from_snapshot
        print(
            f"lock (computes and keeps the snapshot): {lock_s:.2f} s; a locked month's timesheet (snapshot + check): "
            f"median {statistics.median(locked):.2f} s, CPU time median {statistics.median(locked_cpu):.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
