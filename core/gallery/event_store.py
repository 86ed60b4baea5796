"""The store's attendance events and liveness challenges, and their retention. GalleryStore inherits these methods."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from core.base.errors import InvalidInputError
from core.base.records import (
    AttendanceEvent,
    ChallengeAttempt,
    ChallengeOutcome,
    EventKind,
)
from core.gallery.row_values import aware, new_uuid
from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded

_EVENT_SELECT = (
    "SELECT e.id, e.person_id, p.name AS person_name, e.kind, e.time, e.source, e.similarity,"
    " e.track_id FROM events e LEFT JOIN people p ON p.id = e.person_id"
)


def _kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...] | None:
    return (kinds,) if isinstance(kinds, str) else (tuple(kinds) if kinds is not None else None)


class EventTables(StoreState):
    """Attendance events (numbered for the site outbox), liveness challenges, and purging old ones."""

    @staticmethod
    def _event(row: dict) -> AttendanceEvent:
        return AttendanceEvent(
            row["id"],
            row["person_id"],
            row["person_name"],
            EventKind(row["kind"]),
            datetime.fromisoformat(row["time"]),
            row["source"],
            row["similarity"],
            row["track_id"],
            None,
        )

    @guarded
    def record_event(self, event: AttendanceEvent) -> AttendanceEvent:
        """Save an event; it is committed (durable) when this returns. The day is the time's own date."""
        try:
            kind = EventKind(event.kind)
        except ValueError:
            raise InvalidInputError(f"Unknown event kind {event.kind!r}.") from None
        if (event.person_id is None) != (kind is EventKind.UNKNOWN):
            raise InvalidInputError("Only 'unknown' events have no person, and they always have none.")
        moment = aware(event.time)
        with self._tx():
            name = self.get_person(event.person_id).name if event.person_id is not None else None
            event_id = (
                self._db.table("events")
                .insert(
                    dict(
                        uuid=new_uuid(),
                        seq=self._next_event_seq(),
                        person_id=event.person_id,
                        kind=kind.value,
                        time=moment.isoformat(),
                        ts=moment.timestamp(),
                        day=moment.date().isoformat(),
                        source=str(event.source),
                        similarity=float(event.similarity),
                        track_id=event.track_id,
                        snapshot_jpeg=event.snapshot_jpeg,
                    )
                )
                .last_pk
            )
        return replace(event, id=event_id, person_name=name, time=moment, kind=kind)

    @guarded
    def update_event_time(
        self,
        event_id: int,
        time: datetime,
        *,
        similarity: float | None = None,
        source: str | None = None,
        track_id: int | None = None,
        snapshot_jpeg: bytes | None = None,
    ) -> AttendanceEvent:
        """Move an event to a new time (e.g. a later check-out); other fields change only when given."""
        moment = aware(time)
        changes: dict[str, Any] = dict(time=moment.isoformat(), ts=moment.timestamp(), day=moment.date().isoformat())
        for column, value in (
            ("similarity", similarity),
            ("source", source),
            ("track_id", track_id),
            ("snapshot_jpeg", snapshot_jpeg),
        ):
            if value is not None:
                changes[column] = value
        with self._tx():  # a new sequence number: the outbox sends the moved event again
            changes.update(
                seq=self._next_event_seq(),
                revision=self._scalar("SELECT revision + 1 FROM events WHERE id = ?", [event_id]) or 0,
            )
            assignments = ", ".join(f"{column} = ?" for column in changes)
            cursor = self._conn.execute(f"UPDATE events SET {assignments} WHERE id = ?", [*changes.values(), event_id])
            if cursor.rowcount == 0:
                raise InvalidInputError(f"No attendance event with id {event_id}.")
            return self._event(next(self._db.query(f"{_EVENT_SELECT} WHERE e.id = ?", [event_id])))

    def _event_query(
        self, start: date | None, end: date | None, person_id: int | None, kinds: str | Iterable[str] | None, order: str
    ) -> tuple[str, list]:
        clauses: list[str] = []
        params: list[Any] = []

        def where(clause: str, *values: Any) -> None:
            clauses.append(clause)
            params.extend(values)

        if start is not None:
            where("e.day >= ?", start.isoformat())
        if end is not None:
            where("e.day <= ?", end.isoformat())
        if person_id is not None:
            where("e.person_id = ?", person_id)
        kinds = _kinds(kinds)
        if kinds is not None:
            where(f"e.kind IN ({', '.join('?' * len(kinds))})", *kinds)
        condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return f"{_EVENT_SELECT}{condition} ORDER BY e.ts {order}, e.id {order}", params

    @guarded
    def events(
        self,
        start: date | None = None,
        end: date | None = None,
        person_id: int | None = None,
        kinds: str | Iterable[str] | None = None,
    ) -> list[AttendanceEvent]:
        """Events from start to end (inclusive local days), oldest first, without snapshots."""
        sql, params = self._event_query(start, end, person_id, kinds, "ASC")
        return [self._event(r) for r in self._db.query(sql, params)]

    @guarded
    def last_event(
        self, person_id: int, day: date | None = None, kinds: str | Iterable[str] | None = None
    ) -> AttendanceEvent | None:
        sql, params = self._event_query(day, day, person_id, kinds, "DESC")
        for row in self._db.query(sql + " LIMIT 1", params):
            return self._event(row)
        return None

    @guarded
    def event_snapshot(self, event_id: int) -> bytes | None:
        snapshot = self._scalar("SELECT snapshot_jpeg FROM events WHERE id = ?", [event_id])
        return bytes(snapshot) if snapshot is not None else None

    # ---- liveness challenges ----

    @guarded
    def record_challenge(self, attempt: ChallengeAttempt) -> ChallengeAttempt:
        """Save a challenge's outcome (with its snapshot); it is never an attendance event."""
        moment = aware(attempt.time)
        with self._tx():
            attempt_id = (
                self._db.table("challenges")
                .insert(
                    dict(
                        person_id=attempt.person_id,
                        time=moment.isoformat(),
                        ts=moment.timestamp(),
                        day=moment.date().isoformat(),
                        source=str(attempt.source),
                        moves=",".join(attempt.moves),
                        outcome=ChallengeOutcome(attempt.outcome).value,
                        seconds=float(attempt.seconds),
                        track_id=attempt.track_id,
                        snapshot_jpeg=attempt.snapshot_jpeg,
                    )
                )
                .last_pk
            )
        return replace(attempt, id=attempt_id, time=moment)

    @guarded
    def challenges(
        self, day: date | None = None, person_id: int | None = None, outcomes: Iterable[ChallengeOutcome] | None = None
    ) -> list[ChallengeAttempt]:
        """Challenges (of a day, a person, with these outcomes), oldest first, without snapshots."""
        clauses, params = [], []
        for clause, value in (("day = ?", day.isoformat() if day else None), ("person_id = ?", person_id)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if outcomes is not None:
            wanted = [ChallengeOutcome(o).value for o in outcomes]
            clauses.append(f"outcome IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.query(
            "SELECT id, person_id, time, source, moves, outcome, seconds, track_id FROM challenges"
            f"{where} ORDER BY ts, id",
            params,
        )
        return [
            ChallengeAttempt(
                r["id"],
                r["person_id"],
                datetime.fromisoformat(r["time"]),
                r["source"],
                tuple(filter(None, r["moves"].split(","))),
                ChallengeOutcome(r["outcome"]),
                r["seconds"],
                r["track_id"],
            )
            for r in rows
        ]

    @guarded
    def challenge_snapshot(self, attempt_id: int) -> bytes | None:
        snapshot = self._scalar("SELECT snapshot_jpeg FROM challenges WHERE id = ?", [attempt_id])
        return bytes(snapshot) if snapshot is not None else None

    @guarded
    def purge(
        self, older_than: datetime, unknown_snapshots_only: bool = False, keep_seq_above: int | None = None
    ) -> int:
        """Retention: delete events older than a moment, or only drop unknown faces' snapshots.
        Either way the unknown faces kept for review (crops, embeddings) older than that go too, and so
        do the face crops of older confusions and kiosk-confirmed faces (the confusion itself is kept).

        keep_seq_above: events numbered above this (not yet on the site server) are never deleted."""
        cutoff = aware(older_than).timestamp()
        with self._tx():
            self._purge_unknown_faces(cutoff)
            self._purge_confusion_faces(datetime.fromtimestamp(cutoff, UTC))
            if unknown_snapshots_only:
                sql = (
                    "UPDATE events SET snapshot_jpeg = NULL"
                    " WHERE kind = 'unknown' AND ts < ? AND snapshot_jpeg IS NOT NULL"
                )
            else:
                sql = "DELETE FROM events WHERE ts < ?"
                self._conn.execute("DELETE FROM challenges WHERE ts < ?", [cutoff])
            if keep_seq_above is None:
                return self._conn.execute(sql, [cutoff]).rowcount
            return self._conn.execute(
                sql + " AND (seq <= ? OR station IS NOT NULL)", [cutoff, int(keep_seq_above)]
            ).rowcount

    # ---- sequence numbers: the site outbox resumes by them ----

    def _next_event_seq(self) -> int:
        """The next per-station event sequence number; never reused, even after deletions."""
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES ('event_seq', '1') ON CONFLICT (key)"
            " DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )
        return int(self._scalar("SELECT value FROM meta WHERE key = 'event_seq'"))
