"""The tamper-evident chain on a kiosk's SQLite (core.gallery.chain_store, core.app.trust_ops): each way of
editing the database behind Rollcall's back is named by `verify`, and an untouched database verifies clean."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from core.app.engine import Engine
from core.attendance.book import AttendanceBook
from core.base.settings import Settings
from core.gallery.chain_store import CHAINED, INSERT, link_hash, migrate_chain, row_hash
from core.gallery.schema import MIGRATIONS
from core.gallery.store import GalleryStore
from tests.kits.cli import run
from tests.kits.hr import DAY, at


@pytest.fixture
def recorded(hr, tmp_path):
    """A station's data folder with sightings, a manual punch, a void and a signed checkpoint; closed."""
    engine, (ada, _, bob) = hr
    book = AttendanceBook(engine.store, engine.settings.attendance)
    for person, hh, mm in ((ada, 8, 55), (bob, 9, 20), (ada, 17, 5), (bob, 17, 0)):
        book.observe(person.id, 0.9, "door", when=at(DAY, hh, mm))
    engine.punch(ada.id, at(DAY, 12, 0), "lunch badge", actor="hr")
    engine.void_event(engine.events_on(DAY)[-1].id, "double", actor="hr")
    engine.checkpoint()
    folder = engine.settings.data_path
    return folder


def verify_copy(folder, tmp_path, tamper) -> list[str]:
    """Copy the data folder, tamper with its database through sqlite3, and verify it as Rollcall would."""
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    conn = sqlite3.connect(copy / "rollcall.db")
    with conn:
        tamper(conn)
    conn.close()
    settings = Settings()
    settings.storage.data_dir = str(copy)
    engine = Engine(settings)
    try:
        report = engine.verify_chain()
        return [p.text() for p in report.problems] + [p.text() for p in report.checkpoint_problems]
    finally:
        engine.close()


def rehash(conn: sqlite3.Connection) -> None:
    """What someone without the key can do: rebuild the whole ledger so every row and link matches."""
    conn.execute("DELETE FROM ledger")
    order = []
    for table, columns in CHAINED.items():
        order += [(table, values) for values in conn.execute(f"SELECT {', '.join(columns)} FROM {table}")]
    previous = None
    for seq, (table, values) in enumerate(order, start=1):
        content = row_hash(*values)
        previous = link_hash(previous, seq, table, values[0], INSERT, content)
        conn.execute("INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?)", [seq, table, values[0], INSERT, content, previous])


def swap_rows(conn: sqlite3.Connection) -> None:
    for sql in (
        "UPDATE events SET id = -1 WHERE id = 1",
        "UPDATE events SET id = 1 WHERE id = 2",
        "UPDATE events SET id = 2 WHERE id = -1",
    ):
        conn.execute(sql)


def reorder_ledger(conn: sqlite3.Connection) -> None:
    for sql in (
        "UPDATE ledger SET seq = -seq WHERE seq IN (3, 4)",
        "UPDATE ledger SET seq = 4 WHERE seq = -3",
        "UPDATE ledger SET seq = 3 WHERE seq = -4",
    ):
        conn.execute(sql)


def rehash_and_repoint(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE events SET ts = ts - 1500 WHERE id = 2")
    rehash(conn)
    conn.execute("UPDATE checkpoints SET link = (SELECT link FROM ledger WHERE seq = checkpoints.seq)")


TAMPERS = {
    "untouched": (lambda c: None, []),
    "an event's time": (
        lambda c: c.execute("UPDATE events SET ts = ts - 1500 WHERE id = 2"),
        ["events row 2 was changed"],
    ),
    "a deleted row": (lambda c: c.execute("DELETE FROM events WHERE id = 3"), ["events row 3 was deleted"]),
    "an inserted row": (
        lambda c: c.execute(
            "INSERT INTO events (person_id, kind, time, ts, day, source, similarity) SELECT person_id, kind, time,"
            " ts + 60, day, source, similarity FROM events WHERE id = 1"
        ),
        ["events row 5 was inserted"],
    ),
    "two rows swapped": (swap_rows, ["events row 1 was changed", "events row 2 was changed"]),
    "a ledger entry reordered": (reorder_ledger, ["ledger entry 3): the ledger does not follow"]),
    "a chain rehashed without the key": (
        lambda c: c.execute("UPDATE events SET ts = ts - 1500 WHERE id = 2") and rehash(c),
        ["checkpoint 1 (ledger entry 1): the chain no longer has the head", "checkpoint 2 (ledger entry 12): the"],
    ),
    "a checkpoint re-pointed without the key": (
        rehash_and_repoint,
        ["checkpoint 1 (ledger entry 1): its signature fails", "checkpoint 2 (ledger entry 12): its signature fails"],
    ),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_verify_names_what_was_changed_behind_rollcalls_back(recorded, tmp_path, name):
    tamper, expected = TAMPERS[name]
    found = verify_copy(recorded, tmp_path, tamper)
    assert len(found) == len(expected), found
    for wanted, line in zip(expected, found, strict=True):
        assert wanted in line, found


def test_the_cli_exits_1_and_names_the_row(recorded, capsys):
    code, out, _ = run(capsys, "verify")
    assert code == 0 and "verified: every row matches" in out
    conn = sqlite3.connect(recorded / "rollcall.db")
    with conn:
        conn.execute("UPDATE corrections SET reason = 'changed' WHERE id = 1")
    conn.close()
    code, out, _ = run(capsys, "verify")
    assert code == 1 and "NOT verified: corrections row 1 was changed outside Rollcall" in out


def test_an_existing_database_is_chained_at_its_migration_and_the_audit_says_so(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    before_chain = MIGRATIONS.index(migrate_chain)  # the schema just before the chain (later ones run on open)
    for migration in MIGRATIONS[:before_chain]:
        migration(conn)
    conn.execute(f"PRAGMA user_version = {before_chain}")
    conn.execute("INSERT INTO people (name, name_key, created_at) VALUES ('Ada', 'ada', '2026-01-01T00:00:00+00:00')")
    conn.execute(
        "INSERT INTO events (person_id, kind, time, ts, day, source, similarity) VALUES"
        " (1, 'check_in', '2026-10-12T09:00:00+02:00', 1791788400, '2026-10-12', 'door', 0.9)"
    )
    conn.commit()
    conn.close()
    store = GalleryStore(path)
    walk = store.walk_chain()
    assert walk.problems == () and walk.entries == 2  # the event and the audit entry that starts the chain
    started = [e for e in store.audit_entries() if e.action.value == "chain_started"]
    assert len(started) == 1 and started[0].details["events"] == 1
    store.close()


def test_a_checkpoint_is_signed_when_due_and_never_twice_for_the_same_head(hr):
    engine, (ada, _, _) = hr
    signed = engine.checkpoint()
    assert engine.checkpoint_if_due() is None  # the head has not moved
    engine.punch(ada.id, at(DAY, 9, 0), "badge", actor="hr")  # within the hour: the next change waits
    assert engine.store.last_checkpoint().seq == signed
    engine.settings.storage.checkpoint_minutes = 0
    moved = engine.checkpoint_if_due()
    assert moved is not None and moved > signed and engine.verify_chain().clean
    engine.punch(ada.id, at(DAY, 17, 0), "badge", actor="hr")  # a change once due is signed as it publishes
    assert engine.store.last_checkpoint().seq == engine.store.chain_head()[0]
