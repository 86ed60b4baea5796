"""The whole site's attendance on the admin station: reports and CSV with a `kiosk` column."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from core.attendance.reports import CSV_COLUMNS, safe_cell
from core.base.errors import InvalidInputError
from core.base.records import DayRow
from core.site.status import SiteEvent

SITE_CSV_COLUMNS = [*CSV_COLUMNS, "kiosk", "received_at"]


@dataclass(frozen=True)
class SiteDayRow(DayRow):
    """A person's day across the site, with the stations that saw them (first to last)."""

    kiosks: tuple[str, ...] = ()


def site_range_report(events: list[SiteEvent], person_ids: dict[str, int]) -> list[SiteDayRow]:
    """One row per person per day. `person_ids` maps person UUIDs to this station's ids."""
    rows: dict[tuple[date, str], SiteDayRow] = {}
    for event in events:
        if event.person_uuid is None:
            continue
        key = (event.day, event.person_uuid)
        row = rows.get(key)
        if row is None:
            rows[key] = SiteDayRow(person_ids.get(event.person_uuid, 0), event.person_name or "", event.external_id,
                                   event.time, event.time, 1, (event.kiosk,))
        else:
            kiosks = row.kiosks if event.kiosk in row.kiosks else (*row.kiosks, event.kiosk)
            rows[key] = SiteDayRow(row.person_id, row.name, row.external_id, min(row.first_seen, event.time),
                                   max(row.last_seen, event.time), row.events + 1, kiosks)
    return sorted(rows.values(), key=lambda r: (r.day, r.name.casefold(), r.person_id))


def export_site_csv(events: list[SiteEvent], person_ids: dict[str, int], path: Path | str) -> int:
    """Every station's events as CSV (UTF-8 with BOM, cells safe for spreadsheets); returns data rows."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SITE_CSV_COLUMNS)
        for event in events:
            person_id = person_ids.get(event.person_uuid) if event.person_uuid else None
            writer.writerow([event.day.isoformat(), "" if person_id is None else person_id,
                             safe_cell(event.person_name), safe_cell(event.external_id), event.kind,
                             event.time.isoformat(), safe_cell(event.source), f"{event.similarity:.4f}",
                             safe_cell(event.kiosk), event.received_at.isoformat()])
    os.replace(tmp, path)
    return len(events)


def check_range(start: date, end: date) -> None:
    if end < start:
        raise InvalidInputError("The end date is before the start date.")
