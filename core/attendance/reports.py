"""Attendance reports: who was there per day, and CSV export safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import os
from datetime import date
from pathlib import Path

from core.base.errors import InvalidInputError
from core.base.records import DayRow
from core.gallery.store import GalleryStore

CSV_COLUMNS = ["date", "person_id", "name", "external_id", "kind", "time", "source", "similarity"]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def range_report(store: GalleryStore, start: date, end: date) -> list[DayRow]:
    """One row per person per day from start to end (inclusive), by day then name."""
    rows: dict[tuple[date, int], DayRow] = {}
    for event in store.events(start, end):
        if event.person_id is None:
            continue
        key = (event.day, event.person_id)
        row = rows.get(key)
        if row is None:
            rows[key] = DayRow(event.person_id, event.person_name or "", None, event.time, event.time, 1)
        else:
            rows[key] = DayRow(
                row.person_id,
                row.name,
                None,
                min(row.first_seen, event.time),
                max(row.last_seen, event.time),
                row.events + 1,
            )
    external_ids = {p.id: p.external_id for p in store.list_people(include_inactive=True)}
    report = [
        DayRow(r.person_id, r.name, external_ids.get(r.person_id), r.first_seen, r.last_seen, r.events)
        for r in rows.values()
    ]
    return sorted(report, key=lambda r: (r.day, r.name.casefold(), r.person_id))


def daily_report(store: GalleryStore, day: date) -> list[DayRow]:
    """Who was there on a day: first and last time seen and how many events, by name."""
    return range_report(store, day, day)


def safe_cell(value: object) -> str:
    """Text that Excel will not run as a formula (names are user input)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def export_csv(store: GalleryStore, path: Path | str, start: date, end: date) -> int:
    """Write all events from start to end to a CSV file (UTF-8 with BOM, for Excel); returns data rows."""
    if end < start:
        raise InvalidInputError("The end date is before the start date.")
    path = Path(path)
    external_ids = {p.id: p.external_id for p in store.list_people(include_inactive=True)}
    events = store.events(start, end)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for event in events:
            writer.writerow(
                [
                    event.day.isoformat(),
                    "" if event.person_id is None else event.person_id,
                    safe_cell(event.person_name),
                    safe_cell(external_ids.get(event.person_id)),
                    event.kind,
                    event.time.isoformat(),
                    safe_cell(event.source),
                    f"{event.similarity:.4f}",
                ]
            )
    os.replace(tmp, path)  # a half-written file never replaces a good one
    return len(events)
