"""A backfill: an existing period's sightings and corrections queued for one target (a new one, say), as the
triggers would have queued them had the target been there. Idempotent: a record already queued or delivered
for the target (its row still kept) is not queued again, so running it twice sends nothing twice. Rows are
queued in batches, each its own transaction, with progress and cancel between batches (what was queued stays
queued). Delivery then sends them, per person in sighting order."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass

from core.base.errors import Cancelled
from core.integrations.outbox import enqueue, transaction
from core.integrations.targets import TAKES, MessageType, Target


@dataclass(frozen=True)
class BackfillProgress:
    target: str
    done: int  # records looked at
    total: int
    queued: int


@dataclass(frozen=True)
class BackfillReport:
    target: str
    queued: int  # rows added to the target's queue
    already: int  # records the target already had a row for (queued or delivered)

    @property
    def total(self) -> int:
        return self.queued + self.already


def _records(conn: sqlite3.Connection, target: Target, opens: float, closes: float) -> list[tuple]:
    """(type, uuid, event id, correction id, person) of the period's records the target takes, oldest first."""
    rows: list[tuple] = []
    if MessageType.EVENT in TAKES[target.kind]:
        rows += conn.execute(
            "SELECT ts, 'event', uuid, id, NULL, person_id FROM events WHERE person_id IS NOT NULL"
            " AND kind != 'unknown' AND ts >= ? AND ts < ?",
            [opens, closes],
        ).fetchall()
    if MessageType.CORRECTION in TAKES[target.kind]:
        rows += conn.execute(
            "SELECT coalesce(c.ts, e.ts), 'correction', NULL, NULL, c.id, coalesce(c.person_id, e.person_id)"
            " FROM corrections c LEFT JOIN events e ON e.id = c.event_id"
            " WHERE coalesce(c.ts, e.ts) >= ? AND coalesce(c.ts, e.ts) < ?",
            [opens, closes],
        ).fetchall()
    return [row[1:] for row in sorted(rows, key=lambda row: (row[0], row[1]))]


def backfill(
    conn: sqlite3.Connection,
    target: Target,
    opens: float,
    closes: float,
    now: float,
    batch: int,
    cancel: Callable[[], bool] | None = None,
) -> Generator[BackfillProgress, None, BackfillReport]:
    """Queue the records of [opens, closes) (Unix seconds) for the target; see the module's note."""
    records = _records(conn, target, opens, closes)
    queued = already = 0
    for start in range(0, len(records), batch):
        if cancel is not None and cancel():
            raise Cancelled(f"Backfill cancelled; {queued} rows queued so far stay queued.")
        with transaction(conn):
            for kind, event_uuid, event_id, correction_id, person_id in records[start : start + batch]:
                column, record_id = ("event_id", event_id) if kind == "event" else ("correction_id", correction_id)
                known = conn.execute(
                    f"SELECT 1 FROM integration_outbox WHERE target = ? AND {column} = ?", [target.name, record_id]
                ).fetchone()
                if known is not None:
                    already += 1
                    continue
                added = enqueue(
                    conn,
                    target.name,
                    event_uuid or str(uuid.uuid4()),
                    MessageType(kind),
                    now=now,
                    event_id=event_id,
                    correction_id=correction_id,
                    person_id=person_id,
                )
                queued += added
                already += not added
        yield BackfillProgress(target.name, min(start + batch, len(records)), len(records), queued)
    return BackfillReport(target.name, queued, already)
