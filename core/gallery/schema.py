"""The store's SQLite schema and its ordered migrations.

A database records its schema version in `PRAGMA user_version`; GalleryStore runs the migrations it
lacks, each in its own transaction. The table mixins' own migrations are listed here in their turn.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable

from core.gallery.chain_store import migrate_chain
from core.gallery.confusion_store import migrate_confusions
from core.gallery.dated_store import migrate_dated_tables
from core.gallery.derived_samples import migrate_derived_samples
from core.gallery.final_store import migrate_final_tables
from core.gallery.integration_queue import migrate_integration_outbox
from core.gallery.row_values import new_uuid
from core.gallery.shift_store import migrate_shifts
from core.gallery.timekeeping_store import migrate_group_challenge, migrate_timekeeping
from core.gallery.unknown_store import migrate_unknown_faces, migrate_unknown_faces_site

log = logging.getLogger(__name__)

_SCHEMA_1 = """
CREATE TABLE people (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL, external_id TEXT,
    created_at TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1);
CREATE INDEX people_name_key ON people(name_key);
CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    crop_jpeg BLOB NOT NULL, source TEXT NOT NULL, content_hash TEXT NOT NULL,
    det_prob REAL NOT NULL, face_px INTEGER NOT NULL, sharpness REAL NOT NULL,
    created_at TEXT NOT NULL, UNIQUE (person_id, content_hash));
CREATE INDEX samples_content_hash ON samples(content_hash);
CREATE TABLE models (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, base TEXT NOT NULL, parent_id TEXT,
    embedding_size INTEGER NOT NULL, weights_path TEXT NOT NULL, created_at TEXT NOT NULL,
    settings_json TEXT NOT NULL DEFAULT '{}', metrics_json TEXT NOT NULL DEFAULT '{}');
CREATE TABLE embeddings (
    sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
    model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    vector BLOB NOT NULL, PRIMARY KEY (sample_id, model_id));
CREATE INDEX embeddings_model ON embeddings(model_id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('check_in', 'check_out', 'unknown')),
    time TEXT NOT NULL, ts REAL NOT NULL, day TEXT NOT NULL, source TEXT NOT NULL,
    similarity REAL NOT NULL, track_id INTEGER, snapshot_jpeg BLOB);
CREATE INDEX events_day ON events(day, ts);
CREATE INDEX events_person_day ON events(person_id, day, ts);
CREATE INDEX events_ts ON events(ts);
"""


def _migration_1(conn: sqlite3.Connection) -> None:
    for statement in filter(str.strip, _SCHEMA_1.split(";")):
        conn.execute(statement)


# Tables whose ids callers cache (thumbnails, attendance books): AUTOINCREMENT never reuses a deleted id.
_NEVER_REUSED_ID_TABLES = ("people", "samples", "events")
_PLAIN_ID_COLUMN = re.compile(r"\bid INTEGER PRIMARY KEY\b(?! AUTOINCREMENT)")
_EXTERNAL_ID_INDEX = "CREATE UNIQUE INDEX people_external_id ON people(external_id) WHERE external_id IS NOT NULL"


def _rebuild_with_autoincrement(conn: sqlite3.Connection, table: str) -> None:
    """SQLite's table-rebuild recipe (foreign keys are off meanwhile): same columns, rows and indexes."""
    create_sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone()[0]
    index_sqls = [
        row[0]
        for row in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [table]
        )
    ]
    rebuilt = f"{table}_rebuilt"
    conn.execute(
        _PLAIN_ID_COLUMN.sub(
            "id INTEGER PRIMARY KEY AUTOINCREMENT",
            create_sql.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {rebuilt} (", 1),
        )
    )
    conn.execute(f"INSERT INTO {rebuilt} SELECT * FROM {table}")
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE {rebuilt} RENAME TO {table}")
    for index_sql in index_sqls:
        conn.execute(index_sql)


def _set_aside_shared_external_ids(conn: sqlite3.Connection) -> list[str]:
    """Before external IDs become unique: the first enrolled holder keeps a shared ID, the others'
    copies move to external_id_conflicts (nothing is lost). Returns one line per ID set aside."""
    conn.execute(
        "CREATE TABLE external_id_conflicts (person_id INTEGER NOT NULL REFERENCES people(id)"
        " ON DELETE CASCADE, external_id TEXT NOT NULL, kept_by INTEGER NOT NULL)"
    )
    notes = []
    shared = conn.execute(
        "SELECT external_id, min(id) FROM people WHERE external_id IS NOT NULL GROUP BY external_id HAVING count(*) > 1"
    ).fetchall()
    for external_id, keeper_id in shared:
        keeper = conn.execute("SELECT name FROM people WHERE id = ?", [keeper_id]).fetchone()[0]
        others = conn.execute(
            "SELECT id, name FROM people WHERE external_id = ? AND id != ? ORDER BY id", [external_id, keeper_id]
        ).fetchall()
        conn.executemany(
            "INSERT INTO external_id_conflicts (person_id, external_id, kept_by) VALUES (?, ?, ?)",
            [(person_id, external_id, keeper_id) for person_id, _ in others],
        )
        conn.execute("UPDATE people SET external_id = NULL WHERE external_id = ? AND id != ?", [external_id, keeper_id])
        names = ", ".join(f"{name} (id {person_id})" for person_id, name in others)
        notes.append(
            f"External ID {external_id!r} was shared: {keeper} (id {keeper_id}) keeps it; it was removed "
            f"from {names}. Give them their own external ID."
        )
    return notes


def _migration_2(conn: sqlite3.Connection) -> None:
    for note in _set_aside_shared_external_ids(conn):
        log.warning(note)
    for table in _NEVER_REUSED_ID_TABLES:
        _rebuild_with_autoincrement(conn, table)
    conn.execute(_EXTERNAL_ID_INDEX)


def _migration_challenges(conn: sqlite3.Connection) -> None:
    """Liveness challenges (passed, failed, timed out), kept apart from attendance events."""
    conn.execute("""CREATE TABLE challenges (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        time TEXT NOT NULL, ts REAL NOT NULL, day TEXT NOT NULL, source TEXT NOT NULL,
        moves TEXT NOT NULL, outcome TEXT NOT NULL CHECK (outcome IN ('passed', 'failed', 'timed_out')),
        seconds REAL NOT NULL, track_id INTEGER, snapshot_jpeg BLOB)""")
    conn.execute("CREATE INDEX challenges_person_day ON challenges(person_id, day, ts)")


def _migration_site_ids(conn: sqlite3.Connection) -> None:
    """Site mode: people and samples get a site-wide UUID; events a UUID, a per-station sequence
    number (the outbox resumes by it) and a revision (a moved check-out is sent again)."""
    for table in ("people", "samples", "events"):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN uuid TEXT")
        for (row_id,) in conn.execute(f"SELECT id FROM {table} ORDER BY id").fetchall():
            conn.execute(f"UPDATE {table} SET uuid = ? WHERE id = ?", [new_uuid(), row_id])
        conn.execute(f"CREATE UNIQUE INDEX {table}_uuid ON {table}(uuid)")
    conn.execute("ALTER TABLE events ADD COLUMN seq INTEGER")
    conn.execute("ALTER TABLE events ADD COLUMN revision INTEGER NOT NULL DEFAULT 0")
    conn.execute("UPDATE events SET seq = id")
    conn.execute("CREATE UNIQUE INDEX events_seq ON events(seq)")
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('event_seq', (SELECT coalesce(max(seq), 0) FROM events))"
    )


def _migration_site_mirror(conn: sqlite3.Connection) -> None:
    """Site mode: other stations' events are copied here (station names them; NULL = recorded here).
    They have no sequence number, so the outbox never sends them back."""
    conn.execute("ALTER TABLE events ADD COLUMN station TEXT")


def migrate_locked_means_final(conn: sqlite3.Connection) -> None:
    """Effective-dated rules, start and end dates, month snapshots and held sightings (re-runnable;
    every event stays as it was)."""
    migrate_dated_tables(conn)
    migrate_final_tables(conn)


# Ordered schema migrations: MIGRATIONS[i] brings user_version i to i + 1. Append, never edit.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _migration_1,
    _migration_2,
    _migration_challenges,
    migrate_timekeeping,
    migrate_group_challenge,
    _migration_site_ids,
    _migration_site_mirror,
    migrate_unknown_faces,
    migrate_unknown_faces_site,
    migrate_confusions,
    migrate_shifts,
    migrate_integration_outbox,
    migrate_locked_means_final,
    migrate_chain,
    migrate_derived_samples,
]
