"""The store's effective-dated HR facts: what a group, a shift type or a membership was before each change,
and each person's working life (start and end dates). GalleryStore inherits these methods.

A change from day D keeps the value on D - 1 as a `..._history` row (until_day = D) and then updates the
current row; the rules read the history (core.base.dated). Rows describing days from D on are replaced.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from core.base.dated import GroupBefore, MembershipBefore, RuleHistory, ShiftBefore
from core.base.errors import InvalidInputError
from core.base.timekeeping import Group, RosterEntry, Schedule, Shift
from core.gallery.names import name_key
from core.gallery.shift_store import MAX_SHIFT_NAME_LEN, shift_from_row, shift_rule_values
from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded
from core.gallery.timekeeping_store import MAX_GROUP_NAME_LEN

DATED_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS group_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT, group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        until_day TEXT NOT NULL, shift_id INTEGER, start_time TEXT NOT NULL, end_time TEXT NOT NULL,
        grace_minutes INTEGER NOT NULL, working_days TEXT NOT NULL, min_hours REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS shift_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT, shift_id INTEGER NOT NULL REFERENCES shifts(id) ON DELETE CASCADE,
        until_day TEXT NOT NULL, start_time TEXT NOT NULL, end_time TEXT NOT NULL, working_days TEXT NOT NULL,
        late_grace INTEGER NOT NULL, early_grace INTEGER, checkin_before INTEGER, checkout_after INTEGER,
        min_hours REAL NOT NULL, half_day_below REAL NOT NULL, absent_below REAL NOT NULL, hours_mode TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS membership_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT, person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        group_id INTEGER REFERENCES groups(id), until_day TEXT NOT NULL)""",
)
_PEOPLE_DATES = ("start_day", "end_day")
_GROUP_RULES = "shift_id, start_time, end_time, grace_minutes, working_days, min_hours"
_SHIFT_RULES = (
    "start_time, end_time, working_days, late_grace, early_grace, checkin_before, checkout_after, min_hours,"
    " half_day_below, absent_below, hours_mode"
)
_ROSTER_SELECT = (
    "SELECT p.id, p.name, p.external_id, m.group_id, p.created_at, p.start_day, p.end_day FROM people p"
    " LEFT JOIN group_members m ON m.person_id = p.id"
)
HISTORY_TABLES = ("group_history", "shift_history", "membership_history")


def migrate_dated_tables(conn: sqlite3.Connection) -> None:
    """Re-runnable: start and end dates for people, and the history tables (every event stays as it was)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(people)")}
    for column in _PEOPLE_DATES:
        if column not in columns:
            conn.execute(f"ALTER TABLE people ADD COLUMN {column} TEXT")
    for statement in DATED_SCHEMA:
        conn.execute(statement)


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _entry(row: tuple) -> RosterEntry:
    pid, name, ext, gid, created, start, end = row
    return RosterEntry(pid, name, ext, gid, datetime.fromisoformat(created), _day(start), _day(end))


class DatedTables(StoreState):
    """History rows for dated changes, start and end dates, and the roster the rules read."""

    if TYPE_CHECKING:  # TimekeepingTables' and ShiftTables'

        def list_groups(self) -> list[Group]: ...

        def list_shifts(self) -> list[Shift]: ...

        def get_shift(self, shift_id: int) -> Shift: ...

    # ---- the roster ----

    @guarded
    def roster(self, include_inactive: bool = False) -> list[RosterEntry]:
        """Active people, and archived leavers (their timesheets stay); include_inactive: everyone."""
        where = "" if include_inactive else " WHERE p.active = 1 OR p.end_day IS NOT NULL"
        return [_entry(r) for r in self._conn.execute(f"{_ROSTER_SELECT}{where} ORDER BY p.name_key, p.id")]

    @guarded
    def roster_entry(self, person_id: int) -> RosterEntry | None:
        """One person as the rules see them (also an inactive one); None if there is no such person."""
        row = self._conn.execute(f"{_ROSTER_SELECT} WHERE p.id = ?", [person_id]).fetchone()
        return _entry(row) if row is not None else None

    # ---- the history the rules read ----

    @guarded
    def rule_history(
        self, groups: dict[int, Group] | None = None, shifts: dict[int, Shift] | None = None
    ) -> RuleHistory:
        """Every dated change; groups and shifts (by id) when the caller has read them already."""
        q = self._conn.execute
        groups = groups if groups is not None else {g.id: g for g in self.list_groups()}
        shifts = shifts if shifts is not None else {s.id: s for s in self.list_shifts()}
        group_rows = q(f"SELECT group_id, until_day, {_GROUP_RULES} FROM group_history ORDER BY until_day, id")
        groups_before = tuple(
            GroupBefore(_group_as(groups[gid], rest), date.fromisoformat(until))
            for gid, until, *rest in group_rows
            if gid in groups
        )
        shift_rows = q(f"SELECT shift_id, until_day, {_SHIFT_RULES} FROM shift_history ORDER BY until_day, id")
        shifts_before = tuple(
            ShiftBefore(Shift(sid, shifts[sid].name, _shift_schedule(rest)), date.fromisoformat(until))
            for sid, until, *rest in shift_rows
            if sid in shifts
        )
        members = tuple(
            MembershipBefore(pid, gid, date.fromisoformat(until))
            for pid, gid, until in q("SELECT person_id, group_id, until_day FROM membership_history ORDER BY until_day")
        )
        return RuleHistory(groups_before, shifts_before, members)

    # ---- changes from a day ----

    def _keep_before(self, table: str, key: str, key_id: int, columns: str, from_day: date) -> None:
        """Record the value on from_day - 1 (until from_day); rows for days from from_day on are replaced."""
        earlier = self._conn.execute(
            f"SELECT {columns} FROM {table} WHERE {key} = ? AND until_day >= ? ORDER BY until_day LIMIT 1",
            [key_id, from_day.isoformat()],
        ).fetchone()
        current_table = {"group_history": "groups", "shift_history": "shifts"}.get(table)
        if earlier is None:
            if current_table is not None:
                earlier = self._conn.execute(f"SELECT {columns} FROM {current_table} WHERE id = ?", [key_id]).fetchone()
            else:
                earlier = self._conn.execute(
                    "SELECT group_id FROM group_members WHERE person_id = ?", [key_id]
                ).fetchone() or (None,)
        self._conn.execute(f"DELETE FROM {table} WHERE {key} = ? AND until_day >= ?", [key_id, from_day.isoformat()])
        if from_day == date.min:  # from the start: nothing before it to keep
            return
        self._conn.execute(
            f"INSERT INTO {table} ({key}, until_day, {columns}) VALUES (?, ?, {', '.join('?' * len(earlier))})",
            [key_id, from_day.isoformat(), *earlier],
        )

    @guarded
    def set_group_rules_from(
        self, group_id: int, from_day: date, shift_id: int | None, schedule: Schedule | None = None
    ) -> Group:
        """From from_day on the group works `shift_id` (None: its own `schedule`, or the one it has)."""
        with self._tx():
            group = self.get_group(group_id)
            rules = schedule or group.schedule
            if shift_id is not None:
                rules = self.get_shift(shift_id).schedule
            self._keep_before("group_history", "group_id", group_id, _GROUP_RULES, from_day)
            self._conn.execute(
                "UPDATE groups SET shift_id = ?, start_time = ?, end_time = ?, grace_minutes = ?, working_days = ?,"
                " min_hours = ? WHERE id = ?",
                [
                    shift_id,
                    *shift_rule_values(rules)[:2],
                    rules.grace_minutes,
                    shift_rule_values(rules)[2],
                    rules.min_hours,
                    group_id,
                ],
            )
            return self.get_group(group_id)

    @guarded
    def set_shift_rules_from(self, shift_id: int, from_day: date, schedule: Schedule) -> Shift:
        with self._tx():
            self.get_shift(shift_id)
            self._keep_before("shift_history", "shift_id", shift_id, _SHIFT_RULES, from_day)
            self._conn.execute(
                "UPDATE shifts SET start_time = ?, end_time = ?, working_days = ?, late_grace = ?, early_grace = ?,"
                " checkin_before = ?, checkout_after = ?, min_hours = ?, half_day_below = ?, absent_below = ?,"
                " hours_mode = ? WHERE id = ?",
                [*shift_rule_values(schedule), shift_id],
            )
            return self.get_shift(shift_id)

    @guarded
    def set_person_group_from(self, person_id: int, group_id: int | None, from_day: date) -> None:
        with self._tx():
            self.get_person(person_id)
            if group_id is not None:
                self.get_group(group_id)
            self._keep_before("membership_history", "person_id", person_id, "group_id", from_day)
            if group_id is None:
                self._conn.execute("DELETE FROM group_members WHERE person_id = ?", [person_id])
            else:
                self._conn.execute(
                    "INSERT INTO group_members (person_id, group_id) VALUES (?, ?)"
                    " ON CONFLICT (person_id) DO UPDATE SET group_id = excluded.group_id",
                    [person_id, group_id],
                )

    @guarded
    def group_changed_from(self, group_id: int) -> list[date]:
        """The days from which a group's rules or members changed (oldest first)."""
        rows = self._conn.execute(
            "SELECT until_day FROM group_history WHERE group_id = ? UNION"
            " SELECT until_day FROM membership_history WHERE group_id = ? ORDER BY 1",
            [group_id, group_id],
        )
        return [date.fromisoformat(r[0]) for r in rows]

    # ---- names (not dated: a name is how a group or shift is shown) ----

    @guarded
    def rename_group(self, group_id: int, name: str) -> Group:
        name = " ".join(str(name).split())
        if not name or len(name) > MAX_GROUP_NAME_LEN:
            raise InvalidInputError(f"A group needs a name of 1 to {MAX_GROUP_NAME_LEN} characters.")
        with self._tx():
            self.get_group(group_id)
            taken = self._conn.execute(
                "SELECT 1 FROM groups WHERE name_key = ? AND id != ?", [name_key(name), group_id]
            ).fetchone()
            if taken:
                raise InvalidInputError(f"There is already a group named {name!r}; choose another name.")
            self._conn.execute(
                "UPDATE groups SET name = ?, name_key = ? WHERE id = ?", [name, name_key(name), group_id]
            )
            return self.get_group(group_id)

    @guarded
    def rename_shift(self, shift_id: int, name: str) -> Shift:
        name = " ".join(str(name).split())
        if not name or len(name) > MAX_SHIFT_NAME_LEN or "," in name or name.casefold() == "off":
            raise InvalidInputError(
                f"A shift needs a name of 1 to {MAX_SHIFT_NAME_LEN} characters, without commas, other than 'off'."
            )
        with self._tx():
            self.get_shift(shift_id)
            taken = self._conn.execute(
                "SELECT 1 FROM shifts WHERE name_key = ? AND id != ?", [name_key(name), shift_id]
            ).fetchone()
            if taken:
                raise InvalidInputError(f"There is already a shift named {name!r}; choose another name.")
            self._conn.execute(
                "UPDATE shifts SET name = ?, name_key = ? WHERE id = ?", [name, name_key(name), shift_id]
            )
            return self.get_shift(shift_id)

    # ---- removing a group or a shift type that nothing refers to ----

    @guarded
    def remove_group(self, group_id: int) -> Group:
        with self._tx():
            group = self.get_group(group_id)
            uses = {
                "people in it": "SELECT count(*) FROM group_members WHERE group_id = ?",
                "people who were in it": "SELECT count(*) FROM membership_history WHERE group_id = ?",
                "its own holidays": "SELECT count(*) FROM holidays WHERE group_id = ?",
            }
            found = [f"{count} {what}" for what, sql in uses.items() if (count := self._scalar(sql, [group_id]))]
            if found:
                raise InvalidInputError(
                    f"The group {group.name} is still used ({', '.join(found)}), so removing it would change "
                    "past timesheets. Move its people to another group from a date instead; rename it if the "
                    "name is wrong."
                )
            self._conn.execute("DELETE FROM groups WHERE id = ?", [group_id])
            return group

    @guarded
    def remove_shift(self, shift_id: int) -> Shift:
        with self._tx():
            shift = self.get_shift(shift_id)
            uses = {
                "groups": "SELECT count(*) FROM groups WHERE shift_id = ?",
                "earlier group settings": "SELECT count(*) FROM group_history WHERE shift_id = ?",
                "dated assignments": "SELECT count(*) FROM shift_assignments WHERE shift_id = ?",
            }
            found = [f"{count} {what}" for what, sql in uses.items() if (count := self._scalar(sql, [shift_id]))]
            rotations = sum(
                shift_id in json.loads(row[0]) for row in self._conn.execute("SELECT pattern_json FROM shift_rotations")
            )
            if rotations:
                found.append(f"{rotations} rotations")
            if found:
                raise InvalidInputError(
                    f"The shift {shift.name} is still used ({', '.join(found)}); remove or change those first."
                )
            self._conn.execute("DELETE FROM shifts WHERE id = ?", [shift_id])
            return shift

    # ---- working life ----

    @guarded
    def set_working_life(self, person_id: int, start_day: date | None, end_day: date | None) -> RosterEntry:
        if start_day is not None and end_day is not None and end_day < start_day:
            raise InvalidInputError(f"The end date ({end_day}) is before the start date ({start_day}).")
        with self._tx():
            self.get_person(person_id)
            self._conn.execute(
                "UPDATE people SET start_day = ?, end_day = ? WHERE id = ?",
                [start_day.isoformat() if start_day else None, end_day.isoformat() if end_day else None, person_id],
            )
            entry = self.roster_entry(person_id)
            assert entry is not None
            return entry

    # ---- site mode: carried in the HR book ----

    def dated_book(self) -> dict:
        """History rows (people by UUID) and every person's start and end dates; called inside hr_book."""
        q = self._conn.execute
        return {
            "group_history": [
                dict(zip(("group_id", "until_day", *_GROUP_RULES.split(", ")), row, strict=True))
                for row in q(f"SELECT group_id, until_day, {_GROUP_RULES} FROM group_history ORDER BY id")
            ],
            "shift_history": [
                dict(zip(("shift_id", "until_day", *_SHIFT_RULES.split(", ")), row, strict=True))
                for row in q(f"SELECT shift_id, until_day, {_SHIFT_RULES} FROM shift_history ORDER BY id")
            ],
            "membership_history": [
                dict(zip(("person", "group_id", "until_day"), row, strict=True))
                for row in q(
                    "SELECT p.uuid, h.group_id, h.until_day FROM membership_history h"
                    " JOIN people p ON p.id = h.person_id ORDER BY h.id"
                )
            ],
            "working_life": [
                dict(zip(("person", "start_day", "end_day"), row, strict=True))
                for row in q(
                    "SELECT uuid, start_day, end_day FROM people"
                    " WHERE start_day IS NOT NULL OR end_day IS NOT NULL ORDER BY id"
                )
            ],
        }

    def clear_dated_book(self) -> None:
        """Inside apply_hr_book's transaction, before the groups go."""
        for table in HISTORY_TABLES:
            self._conn.execute(f"DELETE FROM {table}")

    def apply_dated_book(self, book: dict, people: dict[str, int]) -> int:
        """Inside apply_hr_book's transaction, after groups and shifts. Returns how many could not be applied."""
        missing = 0
        for g in book.get("group_history", []):
            self._conn.execute(
                f"INSERT INTO group_history (group_id, until_day, {_GROUP_RULES}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [g["group_id"], g["until_day"], *(g[c] for c in _GROUP_RULES.split(", "))],
            )
        for s in book.get("shift_history", []):
            columns = _SHIFT_RULES.split(", ")
            self._conn.execute(
                f"INSERT INTO shift_history (shift_id, until_day, {_SHIFT_RULES})"
                f" VALUES (?, ?, {', '.join('?' * len(columns))})",
                [s["shift_id"], s["until_day"], *(s[c] for c in columns)],
            )
        for m in book.get("membership_history", []):
            if m["person"] not in people:
                missing += 1
                continue
            self._conn.execute(
                "INSERT INTO membership_history (person_id, group_id, until_day) VALUES (?, ?, ?)",
                [people[m["person"]], m["group_id"], m["until_day"]],
            )
        self._conn.execute("UPDATE people SET start_day = NULL, end_day = NULL")
        for w in book.get("working_life", []):
            if w["person"] in people:
                self._conn.execute(
                    "UPDATE people SET start_day = ?, end_day = ? WHERE id = ?",
                    [w["start_day"], w["end_day"], people[w["person"]]],
                )
        return missing


def _group_as(group: Group, rules: list) -> Group:
    shift_id, start, end, grace, days, min_hours = rules
    schedule = Schedule(
        time.fromisoformat(start),
        time.fromisoformat(end),
        int(grace),
        frozenset(int(d) for d in days.split(",") if d),
        float(min_hours),
    )
    return Group(group.id, group.name, schedule, group.require_challenge, shift_id)


def _shift_schedule(rules: list) -> Schedule:
    return shift_from_row((0, "", *rules)).schedule
