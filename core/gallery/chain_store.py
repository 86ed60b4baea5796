"""The tamper-evident ledger: a hash chain over this station's events, corrections (punches among them) and audit.

Every insert, change and delete of a chained row made through Rollcall appends one ledger entry, in the same
transaction: the sha256 of the row's canonical content (every column but the photo) and a link, the sha256 of
the previous entry's link with this entry. The entries are written by TEMP triggers that only Rollcall's own
connection has, so a row changed with sqlite3 or another program leaves no entry: `walk_chain` finds the row
whose content no longer matches its latest entry, a row no entry knows (inserted), an entry whose row is gone
(deleted), and an entry that does not follow from the one before (the ledger itself rewritten or reordered).
A ledger rewritten consistently (rehashed) is caught by the signed checkpoints (core.app.trust_ops).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded

# table -> the columns its content hash covers (the photo stays out: retention may drop it)
CHAINED: dict[str, tuple[str, ...]] = {
    "events": (
        "id", "person_id", "kind", "time", "ts", "day", "source", "similarity", "track_id", "uuid", "seq",
        "revision", "station",
    ),
    "corrections": ("id", "kind", "event_id", "person_id", "time_utc", "ts", "reason", "made_by", "made_at_utc"),
    "audit_log": ("id", "at_utc", "actor", "action", "subject", "reason", "details_json", "person_id"),
}  # fmt: skip
INSERT, UPDATE, DELETE = "insert", "update", "delete"
LEDGER_SCHEMA = """
CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, row_id INTEGER NOT NULL, op TEXT NOT NULL,
    content BLOB, link BLOB NOT NULL);
CREATE INDEX ledger_row ON ledger(tbl, row_id, seq);
CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, link BLOB NOT NULL, signed_at_utc TEXT NOT NULL,
    public_key BLOB NOT NULL, signature BLOB NOT NULL)
"""


def row_hash(*values: object) -> bytes:
    """The sha256 of a row's content: its chained columns' values, in order, as compact JSON."""
    return hashlib.sha256(json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()).digest()


def link_hash(previous: bytes | None, seq: int, table: str, row_id: int, op: str, content: bytes | None) -> bytes:
    head = f"{seq}|{table}|{row_id}|{op}|".encode()
    return hashlib.sha256((previous or b"") + head + (content or b"")).digest()


def _next_entry(table: str, row: str, op: str, content: str) -> str:
    """SQL for one ledger entry (inside a trigger body); `row` is NEW or OLD."""
    previous = "(SELECT link FROM ledger ORDER BY seq DESC LIMIT 1)"
    seq = "(SELECT coalesce(max(seq), 0) + 1 FROM ledger)"
    return (
        f"INSERT INTO ledger (tbl, row_id, op, content, link) VALUES ('{table}', {row}.id, '{op}', {content}, "
        f"rollcall_link({previous}, {seq}, '{table}', {row}.id, '{op}', {content}));"
    )


def install_chain(conn: sqlite3.Connection) -> None:
    """The hash functions and the TEMP triggers on this connection (call after every open, once migrated)."""
    conn.create_function("rollcall_row_hash", -1, row_hash, deterministic=True)
    conn.create_function("rollcall_link", 6, link_hash, deterministic=True)
    for table, columns in CHAINED.items():
        content = f"rollcall_row_hash({', '.join('NEW.' + c for c in columns)})"
        changed = ", ".join(columns)
        conn.execute(
            f"CREATE TEMP TRIGGER IF NOT EXISTS chain_{table}_insert AFTER INSERT ON main.{table} "
            f"BEGIN {_next_entry(table, 'NEW', INSERT, content)} END"
        )
        conn.execute(
            f"CREATE TEMP TRIGGER IF NOT EXISTS chain_{table}_update AFTER UPDATE OF {changed} ON main.{table} "
            f"BEGIN {_next_entry(table, 'NEW', UPDATE, content)} END"
        )
        conn.execute(
            f"CREATE TEMP TRIGGER IF NOT EXISTS chain_{table}_delete AFTER DELETE ON main.{table} "
            f"BEGIN {_next_entry(table, 'OLD', DELETE, 'NULL')} END"
        )


def append_entry(conn: sqlite3.Connection, table: str, row_id: int, op: str, content: bytes | None) -> None:
    previous = conn.execute("SELECT seq, link FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
    seq = (previous[0] if previous else 0) + 1
    link = link_hash(previous[1] if previous else None, seq, table, row_id, op, content)
    conn.execute(
        "INSERT INTO ledger (seq, tbl, row_id, op, content, link) VALUES (?, ?, ?, ?, ?, ?)",
        [seq, table, row_id, op, content, link],
    )


def migrate_chain(conn: sqlite3.Connection) -> None:
    """Schema migration: the ledger starts by chaining every row there is now, and the audit log says so (an
    existing database; a new one has nothing to chain).
    Re-runnable: a database that has its ledger keeps it."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger'").fetchone():
        return
    for statement in filter(str.strip, LEDGER_SCHEMA.split(";\n")):
        conn.execute(statement)
    counts = {}
    for table, columns in CHAINED.items():
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id").fetchall()
        for values in rows:
            append_entry(conn, table, values[0], INSERT, row_hash(*values))
        counts[table] = len(rows)
    if not any(counts.values()):
        return  # a new database: its chain starts with its first row
    cursor = conn.execute(
        "INSERT INTO audit_log (at_utc, actor, action, subject, reason, details_json) VALUES "
        "(strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), 'rollcall', 'chain_started', 'ledger', "
        "'the tamper-evident chain starts here: the rows before it are chained as they were found', ?)",
        [json.dumps(counts)],
    )
    columns = CHAINED["audit_log"]
    values = conn.execute(f"SELECT {', '.join(columns)} FROM audit_log WHERE id = ?", [cursor.lastrowid]).fetchone()
    append_entry(conn, "audit_log", values[0], INSERT, row_hash(*values))


@dataclass(frozen=True)
class ChainProblem:
    """The first place where the record and its chain disagree."""

    table: str
    row_id: int | None
    seq: int | None  # the ledger entry involved
    what: str  # changed, deleted, inserted, rewritten

    def text(self) -> str:
        row = f"{self.table} row {self.row_id}" if self.row_id is not None else "the ledger"
        entry = f" (ledger entry {self.seq})" if self.seq is not None else ""
        return {
            "changed": f"{row} was changed outside Rollcall after it was recorded{entry}",
            "deleted": f"{row} was deleted outside Rollcall{entry}",
            "inserted": f"{row} was inserted outside Rollcall: no ledger entry records it",
            "rewritten": f"{row}{entry}: the ledger does not follow from the entry before it (rewritten, "
            "reordered or cut)",
        }[self.what]


@dataclass(frozen=True)
class ChainWalk:
    entries: int
    rows: int
    head_seq: int
    head_link: bytes | None
    links: dict[int, bytes]  # seq -> link, for the checkpoints
    problems: tuple[ChainProblem, ...]


def _ledger(conn: sqlite3.Connection) -> Iterator[tuple[int, str, int, str, bytes | None, bytes]]:
    cursor = conn.execute("SELECT seq, tbl, row_id, op, content, link FROM ledger ORDER BY seq")
    while batch := cursor.fetchmany(10_000):
        yield from batch


def walk_chain(conn: sqlite3.Connection, wanted_seqs: set[int] | None = None) -> ChainWalk:
    """Check every ledger link and every chained row; problems come ordered by where they lie in the ledger."""
    problems: list[ChainProblem] = []
    latest: dict[tuple[str, int], tuple[int, str, bytes | None]] = {}
    previous: bytes | None = None
    expected, entries, links = 1, 0, {}
    for seq, table, row_id, op, content, link in _ledger(conn):
        entries += 1
        if seq != expected or link != link_hash(previous, seq, table, row_id, op, content):
            if not any(p.what == "rewritten" for p in problems):
                problems.append(ChainProblem(table, row_id, seq, "rewritten"))
        if wanted_seqs is not None and seq in wanted_seqs:
            links[seq] = link
        previous, expected = link, seq + 1
        latest[(table, row_id)] = (seq, op, content)
    rows = 0
    for table, columns in CHAINED.items():
        cursor = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
        while batch := cursor.fetchmany(10_000):
            for values in batch:
                rows += 1
                known = latest.pop((table, values[0]), None)
                if known is None or known[1] == DELETE:
                    problems.append(ChainProblem(table, values[0], None if known is None else known[0], "inserted"))
                elif known[2] != row_hash(*values):
                    problems.append(ChainProblem(table, values[0], known[0], "changed"))
    for (table, row_id), (seq, op, _) in latest.items():
        if op != DELETE:
            problems.append(ChainProblem(table, row_id, seq, "deleted"))
    problems.sort(key=lambda p: (p.what != "rewritten", p.seq if p.seq is not None else 1 << 62, p.row_id or 0))
    return ChainWalk(entries, rows, expected - 1, previous, links, tuple(problems))


@dataclass(frozen=True)
class Checkpoint:
    id: int
    seq: int
    link: bytes
    signed_at_utc: str
    public_key: bytes
    signature: bytes


def checkpoint_message(station: str, seq: int, link: bytes, signed_at_utc: str) -> bytes:
    """What a checkpoint's signature covers."""
    return f"rollcall-checkpoint|{station}|{seq}|{link.hex()}|{signed_at_utc}".encode()


def chain_head(conn: sqlite3.Connection) -> tuple[int, bytes | None]:
    row = conn.execute("SELECT seq, link FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else (0, None)


def checkpoints(conn: sqlite3.Connection) -> list[Checkpoint]:
    rows = conn.execute("SELECT id, seq, link, signed_at_utc, public_key, signature FROM checkpoints ORDER BY id")
    return [Checkpoint(*row) for row in rows]


def add_checkpoint(conn: sqlite3.Connection, seq: int, link: bytes, signed_at_utc: str, public: bytes,
                   signature: bytes) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO checkpoints (seq, link, signed_at_utc, public_key, signature) VALUES (?, ?, ?, ?, ?)",
        [seq, link, signed_at_utc, public, signature],
    )


class ChainTables(StoreState):
    """GalleryStore's ledger and checkpoints, and the evidence photos' own retention."""

    @guarded
    def walk_chain(self) -> ChainWalk:
        wanted = {c.seq for c in checkpoints(self._conn)}
        return walk_chain(self._conn, wanted)

    @guarded
    def chain_head(self) -> tuple[int, bytes | None]:
        return chain_head(self._conn)

    @guarded
    def checkpoints(self) -> list[Checkpoint]:
        return checkpoints(self._conn)

    @guarded
    def last_checkpoint(self) -> Checkpoint | None:
        row = self._conn.execute(
            "SELECT id, seq, link, signed_at_utc, public_key, signature FROM checkpoints ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return Checkpoint(*row) if row else None

    @guarded
    def add_checkpoint(self, seq: int, link: bytes, signed_at_utc: str, public: bytes, signature: bytes) -> None:
        with self._tx():
            add_checkpoint(self._conn, seq, link, signed_at_utc, public, signature)

    @guarded
    def purge_evidence(self, older_than: datetime) -> int:
        """Drop marked events' face photos older than a moment (the events stay; their photos are not chained)."""
        with self._tx():
            cursor = self._conn.execute(
                "UPDATE events SET snapshot_jpeg = NULL"
                " WHERE kind != 'unknown' AND ts < ? AND snapshot_jpeg IS NOT NULL",
                [older_than.timestamp()],
            )
            return cursor.rowcount
