"""The integration outbox: rows queued per target, delivered in order per person, at least once.

The gallery's triggers (core.gallery.integration_queue) queue a row per target in the transaction that
records an event or a correction; `enqueue` adds one by hand (day status changes). Each row's UUID is
its idempotency key: the event's own UUID, or one made for the correction, the same on every retry.
A row that a target refuses for good becomes a dead letter, with the target's answer, until retried.
A target that is down or answers 5xx is retried with backoff, without limit: nothing is dropped.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from core.base.timekeeping import CorrectionKind
from core.integrations.targets import MessageType

MAX_ERROR_LEN = 2000  # a target's answer kept with a failure


class OutboxState(enum.StrEnum):
    QUEUED = "queued"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard delivery tries: backoff doubles from first_retry_s up to max_backoff_s."""

    first_retry_s: float = 5.0
    max_backoff_s: float = 600.0
    timeout_s: float = 10.0  # one HTTP request
    batch: int = 200  # rows read at a time
    interval_s: float = 2.0  # background rounds: the most a sighting waits while targets are up
    keep_delivered_days: float = 30.0  # delivered rows are kept this long (status counts them), then dropped
    clock_skew_s: float = 60.0  # a receiver's clock (its Date header) further off than this: a 4xx is retried

    def backoff(self, attempts: int) -> float:
        return min(self.max_backoff_s, self.first_retry_s * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class OutboxItem:
    id: int
    target: str
    uuid: str
    type: MessageType
    event_id: int | None
    correction_id: int | None
    person_id: int | None
    attempts: int
    payload: dict | None


@dataclass(frozen=True)
class DaySpan:
    """The work day a sighting counted for, by Rollcall's rules: its first and last sighting (aware)."""

    day: date
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Message:
    """One record as a target receives it."""

    uuid: str  # the idempotency key
    type: MessageType
    person_id: int | None
    person_name: str | None
    external_id: str | None
    kind: str  # check_in / check_out; punch / void / reassign; a day status
    time: datetime  # aware, in the site's zone
    station: str
    details: dict  # a correction's reason and the event it corrects; a day status's record
    span: DaySpan | None = None  # the day it counted for (filled in at delivery for ERPNext and Odoo)

    def record(self) -> dict:
        return {
            "person": {"name": self.person_name, "external_id": self.external_id},
            "kind": self.kind,
            "time": self.time.isoformat(),
            "station": self.station,
            **self.details,
        }


@dataclass(frozen=True)
class TargetCounts:
    target: str
    queued: int
    delivered: int
    dead: int
    last_error: str | None
    last_delivered: datetime | None


@dataclass(frozen=True)
class DeadLetter:
    id: int
    target: str
    uuid: str
    type: MessageType
    person_name: str | None
    attempts: int
    error: str


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT on an autocommit connection (rolled back on any error)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def enqueue(
    conn: sqlite3.Connection,
    target: str,
    uuid: str,
    type: MessageType,
    *,
    now: float,
    event_id: int | None = None,
    correction_id: int | None = None,
    person_id: int | None = None,
    payload: dict | None = None,
) -> bool:
    """Queue one row (in the caller's transaction); False when the target already has this UUID."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO integration_outbox (target, uuid, type, event_id, correction_id, person_id,"
        " payload_json, queued_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            target,
            uuid,
            MessageType(type).value,
            event_id,
            correction_id,
            person_id,
            json.dumps(payload) if payload is not None else None,
            now,
        ],
    )
    return cursor.rowcount > 0


# When a row's record happened (julianday, UTC): the sighting, the punch (or the corrected sighting), the change.
_SIGHTED = (
    "julianday(coalesce((SELECT e.time FROM events e WHERE e.id = o.event_id),"
    " (SELECT coalesce(c.time_utc, e.time) FROM corrections c LEFT JOIN events e ON e.id = c.event_id"
    " WHERE c.id = o.correction_id), json_extract(o.payload_json, '$.changed_at')))"
)


def due(conn: sqlite3.Connection, target: str, now: float, limit: int) -> list[OutboxItem]:
    """Queued rows whose time has come, each its person's earliest queued row by when it happened (a log
    imported late goes before the later sightings already queued): order per person by sighting time."""
    rows = conn.execute(
        "WITH queued AS (SELECT o.*, " + _SIGHTED + " AS sighted FROM integration_outbox o"
        " WHERE o.target = ? AND o.state = 'queued'),"
        " ranked AS (SELECT *, row_number() OVER (PARTITION BY person_id ORDER BY sighted, id) AS turn FROM queued)"
        " SELECT id, target, uuid, type, event_id, correction_id, person_id, attempts, payload_json FROM ranked"
        " WHERE turn = 1 AND next_try_ts <= ? ORDER BY sighted, id LIMIT ?",
        [target, now, limit],
    )
    return [
        OutboxItem(i, t, u, MessageType(ty), e, c, p, a, json.loads(pl) if pl else None)
        for i, t, u, ty, e, c, p, a, pl in rows
    ]


def queued_since(conn: sqlite3.Connection, target: str) -> datetime | None:
    """When the target's earliest still-queued sighting or punch happened (UTC); None when none is queued."""
    value = conn.execute(
        "SELECT min(" + _SIGHTED + ") FROM integration_outbox o WHERE o.target = ? AND o.state = 'queued'"
        " AND o.type != 'day_status'",
        [target],
    ).fetchone()[0]
    return datetime.fromtimestamp((value - 2440587.5) * 86400.0, UTC) if value is not None else None


def more_queued(conn: sqlite3.Connection, target: str, person_id: int) -> bool:
    """Whether more than one of the person's rows is still queued for the target."""
    return (
        conn.execute(
            "SELECT count(*) FROM integration_outbox WHERE target = ? AND state = 'queued' AND person_id = ?",
            [target, person_id],
        ).fetchone()[0]
        > 1
    )


def mark_delivered(conn: sqlite3.Connection, item_id: int, now: float, note: str | None = None) -> None:
    conn.execute(
        "UPDATE integration_outbox SET state = 'delivered', attempts = attempts + 1, delivered_ts = ?,"
        " note = ?, last_error = NULL WHERE id = ?",
        [now, note, item_id],
    )


def mark_retry(conn: sqlite3.Connection, item: OutboxItem, error: str, now: float, policy: DeliveryPolicy) -> None:
    conn.execute(
        "UPDATE integration_outbox SET attempts = attempts + 1, next_try_ts = ?, last_error = ? WHERE id = ?",
        [now + policy.backoff(item.attempts + 1), error[:MAX_ERROR_LEN], item.id],
    )


def mark_dead(conn: sqlite3.Connection, item_id: int, error: str) -> None:
    conn.execute(
        "UPDATE integration_outbox SET state = 'dead', attempts = attempts + 1, last_error = ? WHERE id = ?",
        [error[:MAX_ERROR_LEN], item_id],
    )


def purge_delivered(conn: sqlite3.Connection, before_ts: float) -> int:
    """Delivered rows older than before_ts dropped (their records stay in the events and corrections)."""
    return conn.execute(
        "DELETE FROM integration_outbox WHERE state = 'delivered' AND delivered_ts < ?", [before_ts]
    ).rowcount


def retry_dead(conn: sqlite3.Connection, target: str | None = None) -> int:
    """Dead letters queued again, due now; returns how many."""
    return conn.execute(
        "UPDATE integration_outbox SET state = 'queued', next_try_ts = 0 WHERE state = 'dead'"
        " AND (? IS NULL OR target = ?)",
        [target, target],
    ).rowcount


def counts(conn: sqlite3.Connection) -> list[TargetCounts]:
    """Per target: queued, delivered and dead rows, the newest failure's answer, the last delivery."""
    result = []
    for (name,) in conn.execute("SELECT name FROM integration_targets ORDER BY name").fetchall():
        by_state = dict(
            conn.execute(
                "SELECT state, count(*) FROM integration_outbox WHERE target = ? GROUP BY state", [name]
            ).fetchall()
        )
        error = conn.execute(
            "SELECT last_error FROM integration_outbox WHERE target = ? AND state != 'delivered'"
            " AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
            [name],
        ).fetchone()
        delivered = conn.execute(
            "SELECT max(delivered_ts) FROM integration_outbox WHERE target = ?", [name]
        ).fetchone()[0]
        result.append(
            TargetCounts(
                name,
                by_state.get("queued", 0),
                by_state.get("delivered", 0),
                by_state.get("dead", 0),
                error[0] if error else None,
                datetime.fromtimestamp(delivered).astimezone() if delivered else None,
            )
        )
    return result


def dead_letters(conn: sqlite3.Connection, target: str | None = None) -> list[DeadLetter]:
    rows = conn.execute(
        "SELECT o.id, o.target, o.uuid, o.type, p.name, o.attempts, o.last_error FROM integration_outbox o"
        " LEFT JOIN people p ON p.id = o.person_id WHERE o.state = 'dead' AND (? IS NULL OR o.target = ?)"
        " ORDER BY o.id",
        [target, target],
    )
    return [DeadLetter(i, t, u, MessageType(ty), n, a, e or "") for i, t, u, ty, n, a, e in rows]


# ---- what a row says ----


def _person(conn: sqlite3.Connection, person_id: int | None) -> tuple[str | None, str | None]:
    row = conn.execute("SELECT name, external_id FROM people WHERE id = ?", [person_id]).fetchone()
    return (row[0], row[1]) if row else (None, None)


def message(conn: sqlite3.Connection, item: OutboxItem, zone: tzinfo, here: str) -> Message | None:
    """The record a row stands for, times in the site's zone; None when its event or correction is gone.
    `here` names this station (events recorded here have no station of their own)."""
    if item.type is MessageType.DAY_STATUS:
        payload = item.payload or {}
        name, external_id = _person(conn, item.person_id)
        moment = datetime.fromisoformat(payload["changed_at"]).astimezone(zone)
        return Message(
            item.uuid,
            item.type,
            item.person_id,
            name,
            external_id,
            payload["status"],
            moment,
            here,
            {"day": payload["day"], "status": payload["record"]},
        )
    if item.type is MessageType.EVENT:
        row = conn.execute(
            "SELECT person_id, kind, time, coalesce(station, ?) FROM events WHERE id = ?", [here, item.event_id]
        ).fetchone()
        if row is None:
            return None
        name, external_id = _person(conn, row[0])
        return Message(
            item.uuid,
            item.type,
            row[0],
            name,
            external_id,
            row[1],
            datetime.fromisoformat(row[2]).astimezone(zone),
            row[3],
            _chained("events", item.event_id, conn),
        )
    row = conn.execute(
        "SELECT c.kind, c.person_id, c.time_utc, c.reason, e.uuid, e.person_id, e.time, coalesce(e.station, ?)"
        " FROM corrections c LEFT JOIN events e ON e.id = c.event_id WHERE c.id = ?",
        [here, item.correction_id],
    ).fetchone()
    if row is None:
        return None
    kind, person_id, punch_time, reason, event_uuid, event_person, event_time, station = row
    moment = datetime.fromisoformat(punch_time or event_time).astimezone(zone)
    details: dict = {"reason": reason, **_chained("corrections", item.correction_id, conn)}
    if event_uuid is not None:
        details["event_id"] = event_uuid
    if CorrectionKind(kind) is CorrectionKind.REASSIGN:
        from_name, from_external = _person(conn, event_person)
        details["from_person"] = {"name": from_name, "external_id": from_external}
    counted_for = person_id if person_id is not None else event_person
    name, external_id = _person(conn, counted_for)
    return Message(
        item.uuid,
        item.type,
        counted_for,
        name,
        external_id,
        kind,
        moment,
        station if event_uuid is not None else here,
        details,
    )


def _chained(table: str, row_id: int | None, conn: sqlite3.Connection) -> dict:
    """The row's content hash in this station's tamper-evident chain (core.gallery.chain_store), for the
    receiving system to keep: {"sha256": hex}, or nothing for a row recorded before the chain."""
    found = conn.execute(
        "SELECT content FROM ledger WHERE tbl = ? AND row_id = ? ORDER BY seq DESC LIMIT 1", [table, row_id]
    ).fetchone()
    return {"sha256": bytes(found[0]).hex()} if found and found[0] is not None else {}


def last_day_status(conn: sqlite3.Connection, target: str, person_id: int, day: date) -> str | None:
    row = conn.execute(
        "SELECT status FROM integration_day_status WHERE target = ? AND person_id = ? AND day = ?",
        [target, person_id, day.isoformat()],
    ).fetchone()
    return row[0] if row else None


def remember_day_status(conn: sqlite3.Connection, target: str, person_id: int, day: date, status: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO integration_day_status (target, person_id, day, status) VALUES (?, ?, ?, ?)",
        [target, person_id, day.isoformat(), status],
    )
