"""A locked month's snapshot: each person's computed days as they stood when the month was locked, with a
digest of what payroll pays from (status, hours, late and early minutes, punches).

Pure: no database. The snapshot keeps no names (an erased person's row goes with them); a timesheet served
from it takes the names from the current roster. A later read recomputes the month and compares digests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from core.base.dated import SnapshotRow
from core.base.timekeeping import DayStatus, PersonDay, RosterEntry

from .timesheet import Timesheet, TimesheetRow, totals_of

_KEPT = ("date", "status", "group", "first_seen", "last_seen", "late_minutes", "early_leave_minutes", "hours",
         "punches", "below_minimum", "final", "shift", "half_day", "outside_window")  # fmt: skip


@dataclass(frozen=True)
class SnapshotCheck:
    """A locked month's snapshot against the month computed again now."""

    month: str
    people: int  # rows in the snapshot
    differing: tuple[int, ...]  # person ids whose recomputed days differ from the snapshot

    @property
    def verified(self) -> bool:
        return self.people > 0 and not self.differing


def digest_of(days: Iterable[PersonDay]) -> str:
    """SHA-256 over what payroll reads from each day."""
    paid = [
        [d.day.isoformat(), d.status.value, round(d.hours, 2), d.late_minutes, d.early_leave_minutes, d.punches]
        for d in days
    ]
    return hashlib.sha256(json.dumps(paid, separators=(",", ":")).encode()).hexdigest()


def snapshot_rows(sheet: Timesheet) -> list[SnapshotRow]:
    month = sheet.title
    rows = []
    for row in sheet.rows:
        days = [{key: value for key, value in d.to_json().items() if key in _KEPT} for d in row.days]
        rows.append(SnapshotRow(month, row.person_id, json.dumps(days, sort_keys=True), digest_of(row.days)))
    return rows


def _day(data: dict, person: RosterEntry) -> PersonDay:
    moment = datetime.fromisoformat
    return PersonDay(
        person.person_id,
        person.name,
        person.external_id,
        data["group"],
        date.fromisoformat(data["date"]),
        DayStatus(data["status"]),
        moment(data["first_seen"]) if data["first_seen"] else None,
        moment(data["last_seen"]) if data["last_seen"] else None,
        data["punches"],
        data["hours"],
        data["late_minutes"],
        data["early_leave_minutes"],
        data["below_minimum"],
        data["final"],
        data["shift"],
        data["half_day"],
        tuple(moment(m) for m in data["outside_window"]),
    )


def timesheet_from_snapshot(
    month: date, days: Sequence[date], rows: Sequence[SnapshotRow], roster: Mapping[int, RosterEntry], at: datetime
) -> Timesheet:
    """The locked month as it was locked, in roster order (names as they are now)."""
    by_person = {row.person_id: row for row in rows}
    sheet_rows = []
    for person_id, person in roster.items():
        row = by_person.get(person_id)
        if row is None:
            continue
        person_days = tuple(_day(item, person) for item in json.loads(row.days_json))
        group = person_days[0].group if person_days else None
        sheet_rows.append(
            TimesheetRow(person_id, person.name, person.external_id, group, person_days, totals_of(list(person_days)))
        )
    return Timesheet(month, tuple(days), tuple(sheet_rows), at, locked=True)


def check_snapshot(month: str, rows: Sequence[SnapshotRow], recomputed: Timesheet) -> SnapshotCheck:
    now = {row.person_id: digest_of(row.days) for row in recomputed.rows}
    differing = tuple(row.person_id for row in rows if now.get(row.person_id) != row.digest)
    return SnapshotCheck(month, len(rows), differing)
