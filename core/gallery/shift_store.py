"""The store's shift tables: shift types, each group's default shift, dated assignments and rotating rosters.
GalleryStore inherits these methods. A site's HR book carries them like groups (shift_book / apply_shift_book).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, time

from core.base.errors import InvalidInputError
from core.base.timekeeping import HoursMode, Schedule, Shift, ShiftAssignment, ShiftRotation
from core.gallery.names import name_key
from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded

MAX_SHIFT_NAME_LEN = 40  # a roster cell shows it

SHIFT_SCHEMA = """
CREATE TABLE shifts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, name_key TEXT NOT NULL UNIQUE,
    start_time TEXT NOT NULL, end_time TEXT NOT NULL, working_days TEXT NOT NULL,
    late_grace INTEGER NOT NULL CHECK (late_grace >= 0), early_grace INTEGER CHECK (early_grace >= 0),
    checkin_before INTEGER CHECK (checkin_before >= 0), checkout_after INTEGER CHECK (checkout_after >= 0),
    min_hours REAL NOT NULL DEFAULT 0, half_day_below REAL NOT NULL DEFAULT 0, absent_below REAL NOT NULL DEFAULT 0,
    hours_mode TEXT NOT NULL CHECK (hours_mode IN ('first-last', 'pairs')), created_at TEXT NOT NULL);
CREATE TABLE shift_assignments (
    id INTEGER PRIMARY KEY AUTOINCREMENT, person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    shift_id INTEGER REFERENCES shifts(id), first_day TEXT NOT NULL, last_day TEXT,  -- NULL: days off
    CHECK (last_day IS NULL OR first_day <= last_day));
CREATE INDEX shift_assignments_person ON shift_assignments(person_id);
CREATE TABLE shift_rotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    pattern_json TEXT NOT NULL, first_day TEXT NOT NULL);
CREATE INDEX shift_rotations_person ON shift_rotations(person_id);
ALTER TABLE groups ADD COLUMN shift_id INTEGER REFERENCES shifts(id)
"""


def migrate_shifts(conn: sqlite3.Connection) -> None:
    """Schema migration: shift types, a group's default shift, dated assignments and rotations.
    Events are untouched: every stored event stays a raw sighting, read by the rules."""
    for statement in filter(str.strip, SHIFT_SCHEMA.split(";\n")):
        conn.execute(statement)


_SHIFT_COLUMNS = (
    "id, name, start_time, end_time, working_days, late_grace, early_grace, checkin_before,"
    " checkout_after, min_hours, half_day_below, absent_below, hours_mode"
)
_BOOK_SHIFT_KEYS = (
    "id",
    "name",
    "name_key",
    "start",
    "end",
    "days",
    "late_grace",
    "early_grace",
    "checkin_before",
    "checkout_after",
    "min_hours",
    "half_day_below",
    "absent_below",
    "hours_mode",
    "created_at",
)


def shift_from_row(row: sqlite3.Row | tuple) -> Shift:
    sid, name, start, end, days, late, early, before, after, min_hours, half_day, absent, mode = row
    schedule = Schedule(
        time.fromisoformat(start),
        time.fromisoformat(end),
        int(late),
        frozenset(int(d) for d in days.split(",") if d),
        float(min_hours),
        early,
        before,
        after,
        float(half_day),
        float(absent),
        HoursMode(mode),
    )
    return Shift(sid, name, schedule)


def _assignment(row: sqlite3.Row | tuple) -> ShiftAssignment:
    aid, person_id, shift_id, first, last = row
    last_day = date.fromisoformat(last) if last else None
    return ShiftAssignment(aid, person_id, shift_id, date.fromisoformat(first), last_day)


def _rotation(row: sqlite3.Row | tuple) -> ShiftRotation:
    rid, person_id, pattern, first = row
    return ShiftRotation(rid, person_id, tuple(json.loads(pattern)), date.fromisoformat(first))


def shift_rule_values(schedule: Schedule) -> list:
    """A shift's rules in the shifts table's column order: start_time through hours_mode."""
    return [
        schedule.start.isoformat("minutes"),
        schedule.end.isoformat("minutes"),
        ",".join(str(d) for d in sorted(schedule.working_days)),
        schedule.grace_minutes,
        schedule.early_grace_minutes,
        schedule.checkin_before_minutes,
        schedule.checkout_after_minutes,
        schedule.min_hours,
        schedule.half_day_below,
        schedule.absent_below,
        schedule.hours_mode.value,
    ]


class ShiftTables(StoreState):
    """Methods GalleryStore gains for shifts and rosters (uses its _lock, _tx, _conn, _error)."""

    @guarded
    def add_shift(self, name: str, schedule: Schedule) -> Shift:
        name = " ".join(str(name).split())
        if not name or len(name) > MAX_SHIFT_NAME_LEN or "," in name:
            raise InvalidInputError(f"A shift needs a name of 1 to {MAX_SHIFT_NAME_LEN} characters, without commas.")
        if name.casefold() == "off":
            raise InvalidInputError("'off' means a day off in a rotation; give the shift another name.")
        with self._tx():
            if self._conn.execute("SELECT 1 FROM shifts WHERE name_key = ?", [name_key(name)]).fetchone():
                raise InvalidInputError(f"There is already a shift named {name!r}; choose another name.")
            cursor = self._conn.execute(
                "INSERT INTO shifts (name, name_key, start_time, end_time, working_days, late_grace, early_grace,"
                " checkin_before, checkout_after, min_hours, half_day_below, absent_below, hours_mode, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    name,
                    name_key(name),
                    *shift_rule_values(schedule),
                    datetime.now(UTC).isoformat(),
                ],
            )
            return self.get_shift(cursor.lastrowid)

    @guarded
    def get_shift(self, shift_id: int) -> Shift:
        row = self._conn.execute(f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE id = ?", [shift_id]).fetchone()
        if row is None:
            raise InvalidInputError(f"No shift with id {shift_id}.")
        return shift_from_row(row)

    @guarded
    def find_shift(self, name: str) -> Shift:
        row = self._conn.execute(f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE name_key = ?", [name_key(name)]).fetchone()
        if row is None:
            known = ", ".join(s.name for s in self.list_shifts()) or "none yet; add one with `rollcall shift add`"
            raise InvalidInputError(f"No shift named {name!r} (shifts: {known}).")
        return shift_from_row(row)

    @guarded
    def list_shifts(self) -> list[Shift]:
        return [shift_from_row(r) for r in self._conn.execute(f"SELECT {_SHIFT_COLUMNS} FROM shifts ORDER BY name_key")]

    @guarded
    def set_group_shift(self, group_id: int, shift_id: int | None) -> None:
        """A group's default shift (None: its own schedule again); its schedule columns follow the shift."""
        with self._tx():
            self.get_group(group_id)
            if shift_id is None:
                self._conn.execute("UPDATE groups SET shift_id = NULL WHERE id = ?", [group_id])
                return
            schedule = self.get_shift(shift_id).schedule
            self._conn.execute(
                "UPDATE groups SET shift_id = ?, start_time = ?, end_time = ?, grace_minutes = ?, working_days = ?,"
                " min_hours = ? WHERE id = ?",
                [
                    shift_id,
                    schedule.start.isoformat("minutes"),
                    schedule.end.isoformat("minutes"),
                    schedule.grace_minutes,
                    ",".join(str(d) for d in sorted(schedule.working_days)),
                    schedule.min_hours,
                    group_id,
                ],
            )

    @guarded
    def add_shift_assignment(
        self, person_id: int, shift_id: int | None, first_day: date, last_day: date | None = None
    ) -> ShiftAssignment:
        if last_day is not None and last_day < first_day:
            raise InvalidInputError(f"The assignment ends ({last_day}) before it starts ({first_day}).")
        with self._tx():
            self.get_person(person_id)
            if shift_id is not None:
                self.get_shift(shift_id)
            cursor = self._conn.execute(
                "INSERT INTO shift_assignments (person_id, shift_id, first_day, last_day) VALUES (?, ?, ?, ?)",
                [person_id, shift_id, first_day.isoformat(), last_day.isoformat() if last_day else None],
            )
            return ShiftAssignment(int(cursor.lastrowid or 0), person_id, shift_id, first_day, last_day)

    @guarded
    def shift_assignments(self, person_id: int | None = None) -> list[ShiftAssignment]:
        where, params = (" WHERE person_id = ?", [person_id]) if person_id is not None else ("", [])
        rows = self._conn.execute(
            f"SELECT id, person_id, shift_id, first_day, last_day FROM shift_assignments{where} ORDER BY id", params
        )
        return [_assignment(r) for r in rows]

    @guarded
    def add_shift_rotation(self, person_id: int, pattern: tuple[int | None, ...], first_day: date) -> ShiftRotation:
        if not pattern or all(entry is None for entry in pattern):
            raise InvalidInputError("A rotation needs at least one shift in its pattern.")
        with self._tx():
            self.get_person(person_id)
            for shift_id in {entry for entry in pattern if entry is not None}:
                self.get_shift(shift_id)
            cursor = self._conn.execute(
                "INSERT INTO shift_rotations (person_id, pattern_json, first_day) VALUES (?, ?, ?)",
                [person_id, json.dumps(list(pattern)), first_day.isoformat()],
            )
            return ShiftRotation(int(cursor.lastrowid or 0), person_id, tuple(pattern), first_day)

    @guarded
    def shift_rotations(self, person_id: int | None = None) -> list[ShiftRotation]:
        where, params = (" WHERE person_id = ?", [person_id]) if person_id is not None else ("", [])
        rows = self._conn.execute(
            f"SELECT id, person_id, pattern_json, first_day FROM shift_rotations{where} ORDER BY id", params
        )
        return [_rotation(r) for r in rows]

    # ---- site mode: the HR book ----

    def shift_book(self) -> dict:
        """Shifts, assignments and rotations (people by UUID), JSON-ready; called inside hr_book."""
        q = self._conn.execute
        return {
            "shifts": [
                dict(zip(_BOOK_SHIFT_KEYS, row, strict=True))
                for row in q(
                    "SELECT id, name, name_key, start_time, end_time, working_days, late_grace, early_grace,"
                    " checkin_before, checkout_after, min_hours, half_day_below, absent_below, hours_mode, created_at"
                    " FROM shifts ORDER BY id"
                )
            ],
            "group_shifts": [
                dict(zip(("group_id", "shift_id"), row, strict=True))
                for row in q("SELECT id, shift_id FROM groups WHERE shift_id IS NOT NULL ORDER BY id")
            ],
            "shift_assignments": [
                dict(zip(("id", "person", "shift_id", "first_day", "last_day"), row, strict=True))
                for row in q(
                    "SELECT a.id, p.uuid, a.shift_id, a.first_day, a.last_day FROM shift_assignments a"
                    " JOIN people p ON p.id = a.person_id ORDER BY a.id"
                )
            ],
            "shift_rotations": [
                dict(zip(("id", "person", "pattern", "first_day"), row, strict=True))
                for row in q(
                    "SELECT r.id, p.uuid, r.pattern_json, r.first_day FROM shift_rotations r"
                    " JOIN people p ON p.id = r.person_id ORDER BY r.id"
                )
            ],
        }

    def clear_shift_book(self) -> None:
        """Inside apply_hr_book's transaction, after the groups are gone: drop this station's shift tables."""
        for table in ("shift_assignments", "shift_rotations", "shifts"):
            self._conn.execute(f"DELETE FROM {table}")

    def apply_shifts(self, book: dict) -> None:
        """Inside apply_hr_book's transaction, before the groups go in: the site's shift types."""
        for s in book.get("shifts", []):
            self._conn.execute(
                f"INSERT INTO shifts ({', '.join(_BOOK_COLUMNS)}) VALUES ({', '.join('?' * len(_BOOK_COLUMNS))})",
                [s[key] for key in _BOOK_SHIFT_KEYS],
            )

    def apply_shift_book(self, book: dict, people: dict[str, int]) -> int:
        """Inside apply_hr_book's transaction, after the groups: default shifts, assignments and rotations.
        Returns how many could not be applied yet (their person is not here)."""
        missing = 0
        for g in book.get("group_shifts", []):
            self._conn.execute("UPDATE groups SET shift_id = ? WHERE id = ?", [g["shift_id"], g["group_id"]])
        for a in book.get("shift_assignments", []):
            if a["person"] not in people:
                missing += 1
                continue
            self._conn.execute(
                "INSERT INTO shift_assignments (id, person_id, shift_id, first_day, last_day) VALUES (?, ?, ?, ?, ?)",
                [a["id"], people[a["person"]], a["shift_id"], a["first_day"], a["last_day"]],
            )
        for r in book.get("shift_rotations", []):
            if r["person"] not in people:
                missing += 1
                continue
            self._conn.execute(
                "INSERT INTO shift_rotations (id, person_id, pattern_json, first_day) VALUES (?, ?, ?, ?)",
                [r["id"], people[r["person"]], r["pattern"], r["first_day"]],
            )
        return missing


_BOOK_COLUMNS = (
    "id",
    "name",
    "name_key",
    "start_time",
    "end_time",
    "working_days",
    "late_grace",
    "early_grace",
    "checkin_before",
    "checkout_after",
    "min_hours",
    "half_day_below",
    "absent_below",
    "hours_mode",
    "created_at",
)
