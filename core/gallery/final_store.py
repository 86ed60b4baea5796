"""The store's locked-month tables: each lock's snapshot of the month's computed days, and the sightings held
because they are dated inside a locked month. GalleryStore inherits these methods.

A held sighting is not an event: every reader of the events table (the rules, reports, the site outbox, the
integration queue's triggers) leaves it out by construction. Counting it inserts the event then, so it is
queued for integrations and sent to the site server only once it counts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from core.base.dated import HeldOrigin, HeldSighting, HeldState, SnapshotRow
from core.base.errors import InvalidInputError
from core.base.records import AttendanceEvent, EventKind
from core.base.timekeeping import AuditAction
from core.gallery.row_values import aware, new_uuid
from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded

FINAL_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS month_snapshots (
        month TEXT NOT NULL, person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        days_json TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (month, person_id))""",
    """CREATE TABLE IF NOT EXISTS held_sightings (
        id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL UNIQUE,
        person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('check_in', 'check_out', 'unknown')),
        time TEXT NOT NULL, ts REAL NOT NULL, month TEXT NOT NULL, source TEXT NOT NULL,
        similarity REAL NOT NULL, track_id INTEGER, snapshot_jpeg BLOB, station TEXT,
        revision INTEGER NOT NULL DEFAULT 0,
        origin TEXT NOT NULL CHECK (origin IN ('live', 'import', 'site')), held_at_utc TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'counted', 'dismissed')),
        event_id INTEGER REFERENCES events(id) ON DELETE SET NULL,
        resolved_by TEXT, resolved_at_utc TEXT, reason TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX IF NOT EXISTS held_sightings_state ON held_sightings(state, month)",
)
_HELD_COLUMNS = (
    "id, person_id, kind, time, month, source, similarity, origin, station, held_at_utc, state, event_id, uuid"
)
_KINDS = {kind.value: kind for kind in EventKind}


def migrate_final_tables(conn: sqlite3.Connection) -> None:
    for statement in FINAL_SCHEMA:
        conn.execute(statement)


def _held(row: tuple) -> HeldSighting:
    hid, pid, kind, moment, month, source, sim, origin, station, held_at, state, event_id, uuid = row
    return HeldSighting(
        hid,
        pid,
        _KINDS[kind],
        datetime.fromisoformat(moment),
        month,
        source,
        sim,
        HeldOrigin(origin),
        station,
        datetime.fromisoformat(held_at),
        HeldState(state),
        event_id,
        uuid,
    )


class FinalTables(StoreState):
    """Month snapshots and held sightings (uses the store's _lock, _tx, _conn)."""

    # ---- snapshots ----

    @guarded
    def save_snapshot(self, rows: Iterable[SnapshotRow]) -> None:
        with self._tx():
            for row in rows:
                self._conn.execute(
                    "INSERT OR REPLACE INTO month_snapshots (month, person_id, days_json, digest) VALUES (?, ?, ?, ?)",
                    [row.month, row.person_id, row.days_json, row.digest],
                )

    @guarded
    def snapshot(self, month: str) -> list[SnapshotRow]:
        rows = self._conn.execute(
            "SELECT month, person_id, days_json, digest FROM month_snapshots WHERE month = ? ORDER BY person_id",
            [month],
        )
        return [SnapshotRow(*row) for row in rows]

    @guarded
    def drop_snapshot(self, month: str) -> int:
        with self._tx():
            return self._conn.execute("DELETE FROM month_snapshots WHERE month = ?", [month]).rowcount

    # ---- held sightings ----

    @guarded
    def month_is_locked(self, month: str) -> bool:
        return self._conn.execute("SELECT 1 FROM month_locks WHERE month = ?", [month]).fetchone() is not None

    @guarded
    def hold_sighting(
        self,
        event: AttendanceEvent,
        month: str,
        origin: HeldOrigin,
        *,
        station: str | None = None,
        uuid: str | None = None,
        revision: int = 0,
    ) -> HeldSighting:
        """Keep a sighting dated in a locked month without counting it. A uuid held already is not held twice."""
        moment = aware(event.time)
        uuid = uuid or new_uuid()
        with self._tx():
            known = self._conn.execute(f"SELECT {_HELD_COLUMNS} FROM held_sightings WHERE uuid = ?", [uuid]).fetchone()
            if known is not None:
                return _held(known)
            cursor = self._conn.execute(
                "INSERT INTO held_sightings (uuid, person_id, kind, time, ts, month, source, similarity, track_id,"
                " snapshot_jpeg, station, revision, origin, held_at_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?)",
                [
                    uuid,
                    event.person_id,
                    EventKind(event.kind).value,
                    moment.isoformat(),
                    moment.timestamp(),
                    month,
                    str(event.source),
                    float(event.similarity),
                    event.track_id,
                    event.snapshot_jpeg,
                    station,
                    int(revision),
                    HeldOrigin(origin).value,
                    datetime.now(UTC).isoformat(),
                ],
            )
            return self.held_sighting(int(cursor.lastrowid or 0))

    @guarded
    def held_sighting(self, held_id: int) -> HeldSighting:
        row = self._conn.execute(f"SELECT {_HELD_COLUMNS} FROM held_sightings WHERE id = ?", [held_id]).fetchone()
        if row is None:
            raise InvalidInputError(f"No held sighting with id {held_id}.")
        return _held(row)

    @guarded
    def held_sightings(self, state: HeldState | None = HeldState.HELD, month: str | None = None) -> list[HeldSighting]:
        """Held sightings (in a state, of a month), oldest first."""
        clauses, params = [], []
        if state is not None:
            clauses.append("state = ?")
            params.append(HeldState(state).value)
        if month is not None:
            clauses.append("month = ?")
            params.append(month)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._conn.execute(f"SELECT {_HELD_COLUMNS} FROM held_sightings{where} ORDER BY ts, id", params)
        return [_held(row) for row in rows]

    @guarded
    def held_uuids(self, uuids: Iterable[str]) -> set[str]:
        wanted = list(uuids)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            rows = self._conn.execute(
                f"SELECT uuid FROM held_sightings WHERE uuid IN ({', '.join('?' * len(part))})", part
            )
            found.update(row[0] for row in rows)
        return found

    @guarded
    def count_held_sighting(self, held_id: int, by: str, reason: str) -> AttendanceEvent:
        """The held sighting becomes an event (this station's own: numbered for the site outbox; another
        station's: copied as a mirror would), queued for integrations by the events' triggers."""
        with self._tx():
            held = self.held_sighting(held_id)
            if held.state is not HeldState.HELD:
                raise InvalidInputError(f"Held sighting {held_id} was {held.state.value} already.")
            row = self._conn.execute(
                "SELECT ts, track_id, snapshot_jpeg, revision FROM held_sightings WHERE id = ?", [held_id]
            ).fetchone()
            values = {
                "uuid": held.uuid,
                "person_id": held.person_id,
                "kind": held.kind.value,
                "time": held.time.isoformat(),
                "ts": row[0],
                "day": held.time.date().isoformat(),
                "source": held.source,
                "similarity": held.similarity,
                "track_id": row[1],
                "snapshot_jpeg": row[2],
                "revision": row[3],
            }
            if held.origin is HeldOrigin.SITE:
                values["station"] = held.station
            else:
                values["seq"] = self._next_event_seq()
            columns = ", ".join(values)
            cursor = self._conn.execute(
                f"INSERT INTO events ({columns}) VALUES ({', '.join('?' * len(values))})", list(values.values())
            )
            event_id = int(cursor.lastrowid or 0)
            self._resolve_held(held_id, HeldState.COUNTED, by, reason, event_id)
        return AttendanceEvent(event_id, held.person_id, None, held.kind, held.time, held.source, held.similarity)

    @guarded
    def dismiss_held_sighting(self, held_id: int, by: str, reason: str) -> HeldSighting:
        with self._tx():
            held = self.held_sighting(held_id)
            if held.state is not HeldState.HELD:
                raise InvalidInputError(f"Held sighting {held_id} was {held.state.value} already.")
            self._resolve_held(held_id, HeldState.DISMISSED, by, reason, None)
            return self.held_sighting(held_id)

    def _resolve_held(self, held_id: int, state: HeldState, by: str, reason: str, event_id: int | None) -> None:
        self._conn.execute(
            "UPDATE held_sightings SET state = ?, resolved_by = ?, resolved_at_utc = ?, reason = ?, event_id = ?"
            " WHERE id = ?",
            [state.value, by, datetime.now(UTC).isoformat(), reason, event_id, held_id],
        )

    def hold_mirrored(self, rows: list[tuple[AttendanceEvent, str, str, int]], actor: str) -> int:
        """Inside mirror_events' transaction: other stations' events dated in a locked month (event, uuid,
        station, revision) are held, with one audit entry. Returns how many were held."""
        months: dict[str, int] = {}
        for event, uuid, station, revision in rows:
            month = f"{aware(event.time):%Y-%m}"
            self.hold_sighting(event, month, HeldOrigin.SITE, station=station, uuid=uuid, revision=revision)
            months[month] = months.get(month, 0) + 1
        if months:
            self.append_audit(
                actor,
                AuditAction.EVENTS_HELD,
                ", ".join(sorted(months)),
                "dated in a locked month",
                {"origin": HeldOrigin.SITE.value, "held": len(rows), "months": months},
            )
        return len(rows)
