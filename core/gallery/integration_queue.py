"""The integration outbox's tables: what waits to reach ERPNext, Odoo and webhooks (core.integrations).

Triggers queue a row for every configured target in the same transaction that records a person's event
or a correction, so nothing is recorded without being queued. Rows hold ids only, never names: erasing a
person (or the event) removes their queued rows with them; merging two people moves them to the one kept.
"""

from __future__ import annotations

import sqlite3

# A UUID (version 4 layout) made in SQL: the idempotency key of a correction, the same on every retry.
_SQL_UUID = (
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)"
    " || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-'"
    " || hex(randomblob(6)))"
)

_SQL_NOW = "((julianday('now') - 2440587.5) * 86400.0)"  # Unix seconds with fractions

INTEGRATION_SCHEMA = (
    """CREATE TABLE integration_targets (
        name TEXT PRIMARY KEY, kind TEXT NOT NULL, config_json TEXT NOT NULL DEFAULT '{}',
        takes TEXT NOT NULL DEFAULT 'event,correction', added_at TEXT NOT NULL)""",
    """CREATE TABLE integration_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT NOT NULL REFERENCES integration_targets(name) ON DELETE CASCADE,
        uuid TEXT NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('event', 'correction', 'day_status')),
        event_id INTEGER REFERENCES events(id) ON DELETE CASCADE,
        correction_id INTEGER REFERENCES corrections(id) ON DELETE CASCADE,
        person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
        payload_json TEXT,
        queued_ts REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0, next_try_ts REAL NOT NULL DEFAULT 0,
        last_error TEXT, delivered_ts REAL, note TEXT,
        UNIQUE (target, uuid))""",
    "CREATE INDEX integration_outbox_due ON integration_outbox(target, state, person_id, id)",
    "CREATE INDEX integration_outbox_event ON integration_outbox(event_id)",
    "CREATE INDEX integration_outbox_correction ON integration_outbox(correction_id)",
    """CREATE TABLE integration_day_status (
        target TEXT NOT NULL REFERENCES integration_targets(name) ON DELETE CASCADE,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        day TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (target, person_id, day))""",
    f"""CREATE TRIGGER integration_queue_event AFTER INSERT ON events WHEN NEW.person_id IS NOT NULL
    BEGIN
        INSERT OR IGNORE INTO integration_outbox (target, uuid, type, event_id, person_id, queued_ts)
        SELECT name, NEW.uuid, 'event', NEW.id, NEW.person_id, {_SQL_NOW} FROM integration_targets
        WHERE instr(',' || takes || ',', ',event,') > 0;
    END""",
    """CREATE TRIGGER integration_queue_person AFTER UPDATE OF person_id ON events WHEN NEW.person_id IS NOT NULL
    BEGIN
        UPDATE integration_outbox SET person_id = NEW.person_id WHERE event_id = NEW.id;
    END""",
    f"""CREATE TRIGGER integration_queue_correction AFTER INSERT ON corrections
    BEGIN
        INSERT OR IGNORE INTO integration_outbox (target, uuid, type, correction_id, person_id, queued_ts)
        SELECT name, {_SQL_UUID}, 'correction', NEW.id,
               coalesce(NEW.person_id, (SELECT person_id FROM events WHERE id = NEW.event_id)), {_SQL_NOW}
        FROM integration_targets WHERE instr(',' || takes || ',', ',correction,') > 0;
    END""",
)


def migrate_integration_outbox(conn: sqlite3.Connection) -> None:
    """Integration targets (their secrets stay in a 0600 file), the outbox and the triggers that fill it."""
    for statement in INTEGRATION_SCHEMA:
        conn.execute(statement)
