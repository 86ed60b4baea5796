"""The store's time-and-attendance tables: groups and schedules, holidays, leave, corrections, the
audit log and month locks. GalleryStore inherits these methods; times are kept in UTC.

The audit log is append-only in the database itself: triggers refuse any UPDATE or DELETE of it.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from core.base.errors import InvalidInputError
from core.base.records import AttendanceEvent, EventKind
from core.base.timekeeping import (
    AuditAction,
    AuditEntry,
    Correction,
    CorrectionKind,
    Group,
    Holiday,
    Leave,
    Schedule,
)
from core.gallery.names import name_key  # the same name rule as people
from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded

MAX_GROUP_NAME_LEN = 100
_EVENT_KINDS = {kind.value: kind for kind in EventKind}  # a dict lookup: 60,000 Enum() calls are slow

TIMEKEEPING_SCHEMA = """
CREATE TABLE groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, name_key TEXT NOT NULL UNIQUE,
    start_time TEXT NOT NULL, end_time TEXT NOT NULL, grace_minutes INTEGER NOT NULL CHECK (grace_minutes >= 0),
    working_days TEXT NOT NULL, min_hours REAL NOT NULL CHECK (min_hours >= 0), created_at TEXT NOT NULL);
CREATE TABLE group_members (
    person_id INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE);
CREATE TABLE holidays (
    id INTEGER PRIMARY KEY AUTOINCREMENT, day TEXT NOT NULL, name TEXT NOT NULL,
    group_id INTEGER REFERENCES groups(id) ON DELETE CASCADE);
CREATE INDEX holidays_day ON holidays(day);
CREATE TABLE leave (
    id INTEGER PRIMARY KEY AUTOINCREMENT, person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    first_day TEXT NOT NULL, last_day TEXT NOT NULL, reason TEXT NOT NULL, CHECK (first_day <= last_day));
CREATE INDEX leave_days ON leave(first_day, last_day);
CREATE TABLE corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('punch', 'void', 'reassign')),
    event_id INTEGER REFERENCES events(id) ON DELETE CASCADE,
    person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
    time_utc TEXT, ts REAL,
    reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    made_by TEXT NOT NULL, made_at_utc TEXT NOT NULL);
CREATE INDEX corrections_ts ON corrections(ts);
CREATE INDEX corrections_event ON corrections(event_id);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at_utc TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    subject TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', details_json TEXT NOT NULL DEFAULT '{}',
    person_id INTEGER);
CREATE INDEX audit_log_person ON audit_log(person_id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE month_locks (month TEXT PRIMARY KEY, locked_by TEXT NOT NULL, locked_at_utc TEXT NOT NULL)
"""


def migrate_timekeeping(conn: sqlite3.Connection) -> None:
    """Schema migration: the time-and-attendance tables."""
    for statement in filter(str.strip, TIMEKEEPING_SCHEMA.split(";\n")):
        conn.execute(statement)


def migrate_group_challenge(conn: sqlite3.Connection) -> None:
    """Schema migration: a group can require the liveness challenge of its people."""
    conn.execute("ALTER TABLE groups ADD COLUMN require_challenge INTEGER NOT NULL DEFAULT 0")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.astimezone()  # naive = this machine's local time
    return moment.astimezone(UTC)


def _utc_now() -> datetime:
    return datetime.now(UTC)


_guarded = guarded


def _group(row: sqlite3.Row | tuple) -> Group:
    gid, name, start, end, grace, days, min_hours, require_challenge, shift_id = row
    schedule = Schedule(
        time.fromisoformat(start),
        time.fromisoformat(end),
        int(grace),
        frozenset(int(d) for d in days.split(",") if d),
        float(min_hours),
    )
    return Group(gid, name, schedule, bool(require_challenge), shift_id)


_GROUP_COLUMNS = "id, name, start_time, end_time, grace_minutes, working_days, min_hours, require_challenge, shift_id"
_CORRECTION_COLUMNS = "c.id, c.kind, c.reason, c.made_by, c.made_at_utc, c.event_id, c.person_id, c.time_utc"


def _correction(row: tuple) -> Correction:
    cid, kind, reason, made_by, made_at, event_id, person_id, moment = row
    return Correction(
        cid,
        CorrectionKind(kind),
        reason,
        made_by,
        datetime.fromisoformat(made_at),
        event_id,
        person_id,
        datetime.fromisoformat(moment) if moment else None,
    )


class TimekeepingTables(StoreState):
    """Methods GalleryStore gains for the time-and-attendance tables (uses its _lock, _tx, _conn, _error)."""

    if TYPE_CHECKING:  # ShiftTables': the HR book carries the shifts

        def shift_book(self) -> dict: ...

        def clear_shift_book(self) -> None: ...

        def apply_shifts(self, book: dict) -> None: ...

        def apply_shift_book(self, book: dict, people: dict[str, int]) -> int: ...

        # DatedTables': the HR book carries the dated history and working lives

        def dated_book(self) -> dict: ...

        def clear_dated_book(self) -> None: ...

        def apply_dated_book(self, book: dict, people: dict[str, int]) -> int: ...

    # ---- groups ----

    @_guarded
    def add_group(self, name: str, schedule: Schedule) -> Group:
        name = " ".join(str(name).split())
        if not name or len(name) > MAX_GROUP_NAME_LEN:
            raise InvalidInputError(f"A group needs a name of 1 to {MAX_GROUP_NAME_LEN} characters.")
        with self._tx():
            if self._conn.execute("SELECT 1 FROM groups WHERE name_key = ?", [name_key(name)]).fetchone():
                raise InvalidInputError(f"There is already a group named {name!r}; choose another name.")
            cursor = self._conn.execute(
                "INSERT INTO groups (name, name_key, start_time, end_time, grace_minutes, working_days, min_hours,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    name,
                    name_key(name),
                    schedule.start.isoformat("minutes"),
                    schedule.end.isoformat("minutes"),
                    schedule.grace_minutes,
                    ",".join(str(d) for d in sorted(schedule.working_days)),
                    schedule.min_hours,
                    _utc_now().isoformat(),
                ],
            )
            return self.get_group(cursor.lastrowid)

    @_guarded
    def get_group(self, group_id: int) -> Group:
        row = self._conn.execute(f"SELECT {_GROUP_COLUMNS} FROM groups WHERE id = ?", [group_id]).fetchone()
        if row is None:
            raise InvalidInputError(f"No group with id {group_id}.")
        return _group(row)

    @_guarded
    def find_group(self, name: str) -> Group:
        row = self._conn.execute(f"SELECT {_GROUP_COLUMNS} FROM groups WHERE name_key = ?", [name_key(name)]).fetchone()
        if row is None:
            known = ", ".join(g.name for g in self.list_groups()) or "none yet; add one with `rollcall group add`"
            raise InvalidInputError(f"No group named {name!r} (groups: {known}).")
        return _group(row)

    @_guarded
    def list_groups(self) -> list[Group]:
        return [_group(r) for r in self._conn.execute(f"SELECT {_GROUP_COLUMNS} FROM groups ORDER BY name_key")]

    @_guarded
    def set_group_challenge(self, group_id: int, required: bool) -> Group:
        with self._tx():
            self.get_group(group_id)
            self._conn.execute("UPDATE groups SET require_challenge = ? WHERE id = ?", [int(required), group_id])
        return self.get_group(group_id)

    @_guarded
    def people_requiring_challenge(self) -> frozenset[int]:
        """People whose group requires the liveness challenge."""
        return frozenset(
            row[0]
            for row in self._conn.execute(
                "SELECT m.person_id FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.require_challenge"
            )
        )

    @_guarded
    def set_person_group(self, person_id: int, group_id: int | None) -> None:
        with self._tx():
            self.get_person(person_id)
            if group_id is None:
                self._conn.execute("DELETE FROM group_members WHERE person_id = ?", [person_id])
                return
            self.get_group(group_id)
            self._conn.execute(
                "INSERT INTO group_members (person_id, group_id) VALUES (?, ?)"
                " ON CONFLICT (person_id) DO UPDATE SET group_id = excluded.group_id",
                [person_id, group_id],
            )

    # ---- holidays and leave ----

    @_guarded
    def add_holiday(self, day: date, name: str, group_id: int | None = None) -> Holiday:
        name = " ".join(str(name or "Holiday").split()) or "Holiday"
        with self._tx():
            if group_id is not None:
                self.get_group(group_id)
            if self._conn.execute(
                "SELECT 1 FROM holidays WHERE day = ? AND group_id IS ?", [day.isoformat(), group_id]
            ).fetchone():
                raise InvalidInputError(
                    f"{day.isoformat()} is already a holiday{' for that group' if group_id is not None else ''}."
                )
            cursor = self._conn.execute(
                "INSERT INTO holidays (day, name, group_id) VALUES (?, ?, ?)", [day.isoformat(), name, group_id]
            )
            return Holiday(int(cursor.lastrowid or 0), day, name, group_id)

    @_guarded
    def holidays(self, start: date, end: date) -> list[Holiday]:
        rows = self._conn.execute(
            "SELECT id, day, name, group_id FROM holidays WHERE day BETWEEN ? AND ? ORDER BY day, id",
            [start.isoformat(), end.isoformat()],
        )
        return [Holiday(hid, date.fromisoformat(day), name, gid) for hid, day, name, gid in rows]

    @_guarded
    def add_leave(self, person_id: int, first_day: date, last_day: date, reason: str) -> Leave:
        if last_day < first_day:
            raise InvalidInputError(f"The leave ends ({last_day}) before it starts ({first_day}).")
        with self._tx():
            self.get_person(person_id)
            cursor = self._conn.execute(
                "INSERT INTO leave (person_id, first_day, last_day, reason) VALUES (?, ?, ?, ?)",
                [person_id, first_day.isoformat(), last_day.isoformat(), reason],
            )
            return Leave(int(cursor.lastrowid or 0), person_id, first_day, last_day, reason)

    @_guarded
    def leave(self, start: date, end: date) -> list[Leave]:
        rows = self._conn.execute(
            "SELECT id, person_id, first_day, last_day, reason FROM leave"
            " WHERE first_day <= ? AND last_day >= ? ORDER BY first_day, id",
            [end.isoformat(), start.isoformat()],
        )
        return [Leave(lid, pid, date.fromisoformat(a), date.fromisoformat(b), r) for lid, pid, a, b, r in rows]

    # ---- raw events by real time ----

    @_guarded
    def events_between(self, start: datetime, end: datetime) -> list[AttendanceEvent]:
        """Events with start <= time < end (any kiosk's offset), oldest first, without snapshots or names."""
        rows = self._conn.execute(
            "SELECT id, person_id, kind, time, source, similarity, track_id FROM events"
            " WHERE ts >= ? AND ts < ? ORDER BY ts, id",
            [_utc(start).timestamp(), _utc(end).timestamp()],
        )
        kinds = _EVENT_KINDS
        parse = datetime.fromisoformat
        return [
            AttendanceEvent(eid, pid, None, kinds[kind], parse(moment), source, sim, track)
            for eid, pid, kind, moment, source, sim, track in rows
        ]

    @_guarded
    def get_event(self, event_id: int) -> AttendanceEvent:
        row = self._conn.execute(
            "SELECT e.id, e.person_id, p.name, e.kind, e.time, e.source, e.similarity, e.track_id FROM events e"
            " LEFT JOIN people p ON p.id = e.person_id WHERE e.id = ?",
            [int(event_id)],
        ).fetchone()
        if row is None:
            raise InvalidInputError(f"No attendance event with id {event_id}.")
        eid, pid, name, kind, moment, source, sim, track = row
        return AttendanceEvent(eid, pid, name, EventKind(kind), datetime.fromisoformat(moment), source, sim, track)

    # ---- corrections ----

    @_guarded
    def add_correction(
        self,
        kind: CorrectionKind,
        reason: str,
        made_by: str,
        *,
        event_id: int | None = None,
        person_id: int | None = None,
        moment: datetime | None = None,
    ) -> Correction:
        moment_utc = _utc(moment) if moment is not None else None
        made_at = _utc_now()
        with self._tx():
            cursor = self._conn.execute(
                "INSERT INTO corrections (kind, event_id, person_id, time_utc, ts, reason, made_by, made_at_utc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    CorrectionKind(kind).value,
                    event_id,
                    person_id,
                    moment_utc.isoformat() if moment_utc else None,
                    moment_utc.timestamp() if moment_utc else None,
                    reason,
                    made_by,
                    made_at.isoformat(),
                ],
            )
            return Correction(
                int(cursor.lastrowid or 0),
                CorrectionKind(kind),
                reason,
                made_by,
                made_at,
                event_id,
                person_id,
                moment_utc,
            )

    @_guarded
    def corrections_between(self, start: datetime, end: datetime) -> list[Correction]:
        """Corrections whose punch, or whose corrected event, lies in start <= time < end."""
        a, b = _utc(start).timestamp(), _utc(end).timestamp()
        rows = self._conn.execute(
            f"SELECT {_CORRECTION_COLUMNS} FROM corrections c LEFT JOIN events e ON e.id = c.event_id"
            " WHERE (c.ts >= ? AND c.ts < ?) OR (e.ts >= ? AND e.ts < ?) ORDER BY c.id",
            [a, b, a, b],
        )
        return [_correction(r) for r in rows]

    # ---- audit log ----

    @_guarded
    def append_audit(
        self,
        actor: str,
        action: AuditAction,
        subject: str,
        reason: str = "",
        details: dict | None = None,
        person_id: int | None = None,
    ) -> AuditEntry:
        at = _utc_now()
        with self._tx():
            cursor = self._conn.execute(
                "INSERT INTO audit_log (at_utc, actor, action, subject, reason, details_json, person_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    at.isoformat(),
                    actor,
                    AuditAction(action).value,
                    subject,
                    reason,
                    json.dumps(details or {}, sort_keys=True, default=str),
                    person_id,
                ],
            )
            return AuditEntry(
                int(cursor.lastrowid or 0), at, actor, AuditAction(action), subject, reason, details or {}, person_id
            )

    @_guarded
    def audit_entries(self, limit: int | None = None) -> list[AuditEntry]:
        """The audit log, newest first."""
        sql = (
            "SELECT id, at_utc, actor, action, subject, reason, details_json, person_id FROM audit_log ORDER BY id DESC"
        )
        rows = self._conn.execute(sql + (" LIMIT ?" if limit else ""), [limit] if limit else [])
        return [
            AuditEntry(
                aid, datetime.fromisoformat(at), actor, AuditAction(action), subject, reason, json.loads(details), pid
            )
            for aid, at, actor, action, subject, reason, details, pid in rows
        ]

    # ---- month locks ----

    @_guarded
    def locked_months(self) -> list[str]:
        return [row[0] for row in self._conn.execute("SELECT month FROM month_locks ORDER BY month")]

    @_guarded
    def lock_month(self, month: str, by: str) -> bool:
        """Lock a month (YYYY-MM); False if it was locked already."""
        with self._tx():
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO month_locks (month, locked_by, locked_at_utc) VALUES (?, ?, ?)",
                [month, by, _utc_now().isoformat()],
            )
            return cursor.rowcount > 0

    @_guarded
    def unlock_month(self, month: str) -> bool:
        with self._tx():
            return self._conn.execute("DELETE FROM month_locks WHERE month = ?", [month]).rowcount > 0

    # ---- site mode: the HR book every station applies ----

    @_guarded
    def hr_book(self) -> dict:
        """Groups, shifts, assignments and rotations, memberships, holidays, leave, corrections and month locks,
        people and events by UUID (JSON-ready): what the admin station publishes so every kiosk applies the same
        rules to the same facts."""
        q = self._conn.execute
        return {
            **self.shift_book(),
            **self.dated_book(),
            "groups": [
                dict(
                    zip(
                        (
                            "id",
                            "name",
                            "name_key",
                            "start",
                            "end",
                            "grace_minutes",
                            "days",
                            "min_hours",
                            "require_challenge",
                            "created_at",
                        ),
                        row,
                        strict=False,
                    )
                )
                for row in q(
                    "SELECT id, name, name_key, start_time, end_time, grace_minutes, working_days, min_hours,"
                    " require_challenge, created_at FROM groups ORDER BY id"
                )
            ],
            "members": [
                dict(zip(("person", "group_id"), row, strict=False))
                for row in q(
                    "SELECT p.uuid, m.group_id FROM group_members m JOIN people p ON p.id = m.person_id ORDER BY p.uuid"
                )
            ],
            "holidays": [
                dict(zip(("id", "day", "name", "group_id"), row, strict=False))
                for row in q("SELECT id, day, name, group_id FROM holidays ORDER BY id")
            ],
            "leave": [
                dict(zip(("id", "person", "first_day", "last_day", "reason"), row, strict=False))
                for row in q(
                    "SELECT l.id, p.uuid, l.first_day, l.last_day, l.reason FROM leave l"
                    " JOIN people p ON p.id = l.person_id"
                    " ORDER BY l.id"
                )
            ],
            "corrections": [
                dict(
                    zip(
                        ("id", "kind", "event", "person", "time_utc", "ts", "reason", "made_by", "made_at_utc"),
                        row,
                        strict=False,
                    )
                )
                for row in q(
                    "SELECT c.id, c.kind, e.uuid, p.uuid, c.time_utc, c.ts, c.reason, c.made_by, c.made_at_utc"
                    " FROM corrections c LEFT JOIN events e ON e.id = c.event_id"
                    " LEFT JOIN people p ON p.id = c.person_id"
                    " ORDER BY c.id"
                )
            ],
            "month_locks": [
                dict(zip(("month", "locked_by", "locked_at_utc"), row, strict=False))
                for row in q("SELECT month, locked_by, locked_at_utc FROM month_locks ORDER BY month")
            ],
        }

    @_guarded
    def apply_hr_book(self, book: dict) -> int:
        """Replace this station's HR tables with the site's book in one transaction (ids as on the admin
        station). Returns how many entries could not be applied yet (their event or person is not here)."""
        people = self.person_ids_by_uuid()
        events = self.event_ids_by_uuid(c["event"] for c in book.get("corrections", []) if c.get("event"))
        missing = 0
        with self._tx():
            self.clear_dated_book()
            for table in ("corrections", "leave", "holidays", "group_members", "groups", "month_locks"):
                self._conn.execute(f"DELETE FROM {table}")
            self.clear_shift_book()
            self.apply_shifts(book)
            for g in book.get("groups", []):
                self._conn.execute(
                    "INSERT INTO groups (id, name, name_key, start_time, end_time, grace_minutes, working_days,"
                    " min_hours, require_challenge, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        g["id"],
                        g["name"],
                        g["name_key"],
                        g["start"],
                        g["end"],
                        g["grace_minutes"],
                        g["days"],
                        g["min_hours"],
                        g["require_challenge"],
                        g["created_at"],
                    ],
                )
            for m in book.get("members", []):
                if m["person"] in people:
                    self._conn.execute(
                        "INSERT INTO group_members (person_id, group_id) VALUES (?, ?)",
                        [people[m["person"]], m["group_id"]],
                    )
                else:
                    missing += 1
            missing += self.apply_shift_book(book, people)
            missing += self.apply_dated_book(book, people)
            for h in book.get("holidays", []):
                self._conn.execute(
                    "INSERT INTO holidays (id, day, name, group_id) VALUES (?, ?, ?, ?)",
                    [h["id"], h["day"], h["name"], h["group_id"]],
                )
            for item in book.get("leave", []):
                if item["person"] in people:
                    self._conn.execute(
                        "INSERT INTO leave (id, person_id, first_day, last_day, reason) VALUES (?, ?, ?, ?, ?)",
                        [item["id"], people[item["person"]], item["first_day"], item["last_day"], item["reason"]],
                    )
                else:
                    missing += 1
            for c in book.get("corrections", []):
                event_id = events.get(c["event"]) if c.get("event") else None
                person_id = people.get(c["person"]) if c.get("person") else None
                if (c.get("event") and event_id is None) or (c.get("person") and person_id is None):
                    missing += 1
                    continue
                self._conn.execute(
                    "INSERT INTO corrections (id, kind, event_id, person_id, time_utc, ts, reason, made_by,"
                    " made_at_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        c["id"],
                        c["kind"],
                        event_id,
                        person_id,
                        c["time_utc"],
                        c["ts"],
                        c["reason"],
                        c["made_by"],
                        c["made_at_utc"],
                    ],
                )
            for lock in book.get("month_locks", []):
                self._conn.execute(
                    "INSERT INTO month_locks (month, locked_by, locked_at_utc) VALUES (?, ?, ?)",
                    [lock["month"], lock["locked_by"], lock["locked_at_utc"]],
                )
        return missing
