"""A month's timesheet for 1,000 people and 60,000 events (target: <= 2 s).

    .venv/bin/python benchmarks/timesheet.py [--people 1000] [--events 60000] [--repeats 3]

Builds a real database (four groups, one of them a night shift; holidays, leave and corrections),
then times what the Timesheet view and `rollcall timesheet` do: Engine.timesheet() (reading the
facts from the store and computing every person-day), and writing the XLSX and CSV files.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

MONTH = date(2026, 10, 1)
ZONE = "Europe/Berlin"


def populate(engine, people: int, events: int, seed: int = 7) -> None:
    from core.attendance.schedule import localize, month_days
    from core.base.timekeeping import CorrectionKind

    rng = random.Random(seed)
    store = engine.store
    shapes = [("Office", "09:00", "17:00", 5, "mon-fri", 7.5), ("Plant", "06:00", "14:00", 0, "mon-sat", 7.0),
              ("Night", "22:00", "06:00", 10, "sun-thu", 7.0), ("School", "08:15", "15:30", 5, "mon-fri", 0.0)]
    groups = [engine.add_group(*shape, actor="bench").value for shape in shapes]
    zone = engine.site_zone()
    ids = []
    with store.transaction():
        for i in range(people):
            person = store.add_person(f"Person {i:04d}", external_id=f"E{i:05d}", allow_duplicate=True)
            store.set_person_group(person.id, groups[i % len(groups)].id)
            ids.append((person.id, groups[i % len(groups)]))
    days = month_days(MONTH)
    rows = []
    while len(rows) < events:
        person_id, group = rng.choice(ids)
        day = rng.choice(days)
        start = datetime.combine(day, group.schedule.start) + timedelta(minutes=rng.gauss(0, 12))
        moment = localize(start, zone)
        rows.append((person_id, "check_in", moment))
        out = moment + group.schedule.length + timedelta(minutes=rng.gauss(0, 20))
        rows.append((person_id, "check_out", out))
    with store.transaction():
        conn = store._conn  # bulk insert for set-up speed only; the timed part goes through the engine
        conn.executemany(
            "INSERT INTO events (person_id, kind, time, ts, day, source, similarity) VALUES (?, ?, ?, ?, ?, 'bench', 0.9)",
            [(p, k, m.isoformat(), m.timestamp(), m.date().isoformat()) for p, k, m in rows[:events]])
        conn.execute("UPDATE people SET created_at = '2026-01-01T00:00:00+00:00'")  # enrolled before the month
    engine.add_holiday(date(2026, 10, 3), "Unity day", actor="bench")
    for person_id, _ in ids[:50]:
        engine.add_leave(person_id, date(2026, 10, 19), date(2026, 10, 23), "vacation", actor="bench")
    for person_id, _ in ids[50:150]:
        store.add_correction(CorrectionKind.PUNCH, "bench", "bench", person_id=person_id,
                             moment=localize(datetime(2026, 10, 14, 8, 59), zone))


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
        compute, xlsx, csv_times = [], [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            sheet = engine.timesheet(MONTH)
            compute.append(time.perf_counter() - t0)
            from core.attendance.export import export_timesheet

            t0 = time.perf_counter()
            export_timesheet(sheet, home / "bench.xlsx")
            xlsx.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            export_timesheet(sheet, home / "bench.csv")
            csv_times.append(time.perf_counter() - t0)
        cells = sum(len(r.days) for r in sheet.rows)
        print(f"{len(sheet.rows)} people x {len(sheet.days)} days = {cells} person-days from "
              f"{engine.stats().events} events")
        print(f"timesheet (store read + rules): median {statistics.median(compute):.2f} s "
              f"(min {min(compute):.2f}, max {max(compute):.2f})")
        print(f"XLSX write: median {statistics.median(xlsx):.2f} s;  CSV write: median {statistics.median(csv_times):.2f} s")
        statuses = {}
        for row in sheet.rows:
            for d in row.days:
                statuses[d.status.value] = statuses.get(d.status.value, 0) + 1
        print("statuses:", ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
