"""GalleryStore: the one owner of Rollcall's SQLite database.

People, their face samples, embeddings per model, registered models and attendance events.
One connection shared by the GUI's worker threads and the recognize loop, guarded by a
re-entrant lock. Every write runs in a transaction: a failing write changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import stat
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sqlite_utils import Database

from core.base.errors import (
    DuplicateExternalIdError,
    DuplicateNameError,
    EnrollmentError,
    InvalidInputError,
    ModelNotFoundError,
    PersonNotFoundError,
    RefusalReason,
    RollcallError,
    StoreError,
    StoreProblem,
)
from core.base.records import (
    AttendanceEvent,
    ChallengeAttempt,
    ChallengeOutcome,
    EventKind,
    FileProblem,
    GalleryMatrix,
    MirroredEvent,
    ModelRecord,
    OutboxEvent,
    Person,
    PersonDeleted,
    PersonOverview,
    Sample,
    SiteEmbedding,
    SiteGallery,
    SitePerson,
    SiteSample,
)
from core.gallery.confusion_store import ConfusionTables, migrate_confusions
from core.gallery.table_guard import guarded
from core.gallery.timekeeping_store import TimekeepingTables, migrate_group_challenge, migrate_timekeeping
from core.gallery.unknown_store import UnknownFaceTables, migrate_unknown_faces, migrate_unknown_faces_site

log = logging.getLogger(__name__)

MAX_NAME_LEN = 200
BUSY_TIMEOUT_S = 5.0
PRIVATE_FILE_MODE = 0o600  # faces are biometric data: the database is the owner's only
PRIVATE_FOLDER_MODE = 0o700
_VECTOR_DTYPE = np.dtype("<f4")  # little-endian float32 on disk, whatever the machine
_SAMPLE_COLUMNS = "id, person_id, source, content_hash, det_prob, face_px, sharpness, created_at"
_EVENT_SELECT = (
    "SELECT e.id, e.person_id, p.name AS person_name, e.kind, e.time, e.source, e.similarity,"
    " e.track_id FROM events e LEFT JOIN people p ON p.id = e.person_id"
)

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
_EXTERNAL_ID_INDEX = ("CREATE UNIQUE INDEX people_external_id ON people(external_id)"
                      " WHERE external_id IS NOT NULL")


def _rebuild_with_autoincrement(conn: sqlite3.Connection, table: str) -> None:
    """SQLite's table-rebuild recipe (foreign keys are off meanwhile): same columns, rows and indexes."""
    create_sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone()[0]
    index_sqls = [row[0] for row in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [table])]
    rebuilt = f"{table}_rebuilt"
    conn.execute(_PLAIN_ID_COLUMN.sub("id INTEGER PRIMARY KEY AUTOINCREMENT",
                                      create_sql.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {rebuilt} (", 1)))
    conn.execute(f"INSERT INTO {rebuilt} SELECT * FROM {table}")
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE {rebuilt} RENAME TO {table}")
    for index_sql in index_sqls:
        conn.execute(index_sql)


def _set_aside_shared_external_ids(conn: sqlite3.Connection) -> list[str]:
    """Before external IDs become unique: the first enrolled holder keeps a shared ID, the others'
    copies move to external_id_conflicts (nothing is lost). Returns one line per ID set aside."""
    conn.execute("CREATE TABLE external_id_conflicts (person_id INTEGER NOT NULL REFERENCES people(id)"
                 " ON DELETE CASCADE, external_id TEXT NOT NULL, kept_by INTEGER NOT NULL)")
    notes = []
    shared = conn.execute("SELECT external_id, min(id) FROM people WHERE external_id IS NOT NULL"
                          " GROUP BY external_id HAVING count(*) > 1").fetchall()
    for external_id, keeper_id in shared:
        keeper = conn.execute("SELECT name FROM people WHERE id = ?", [keeper_id]).fetchone()[0]
        others = conn.execute("SELECT id, name FROM people WHERE external_id = ? AND id != ? ORDER BY id",
                              [external_id, keeper_id]).fetchall()
        conn.executemany("INSERT INTO external_id_conflicts (person_id, external_id, kept_by) VALUES (?, ?, ?)",
                         [(person_id, external_id, keeper_id) for person_id, _ in others])
        conn.execute("UPDATE people SET external_id = NULL WHERE external_id = ? AND id != ?", [external_id, keeper_id])
        names = ", ".join(f"{name} (id {person_id})" for person_id, name in others)
        notes.append(f"External ID {external_id!r} was shared: {keeper} (id {keeper_id}) keeps it; it was removed "
                     f"from {names}. Give them their own external ID.")
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


def _new_uuid() -> str:
    return str(uuid.uuid4())


def _migration_site_ids(conn: sqlite3.Connection) -> None:
    """Site mode: people and samples get a site-wide UUID; events a UUID, a per-station sequence
    number (the outbox resumes by it) and a revision (a moved check-out is sent again)."""
    for table in ("people", "samples", "events"):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN uuid TEXT")
        for (row_id,) in conn.execute(f"SELECT id FROM {table} ORDER BY id").fetchall():
            conn.execute(f"UPDATE {table} SET uuid = ? WHERE id = ?", [_new_uuid(), row_id])
        conn.execute(f"CREATE UNIQUE INDEX {table}_uuid ON {table}(uuid)")
    conn.execute("ALTER TABLE events ADD COLUMN seq INTEGER")
    conn.execute("ALTER TABLE events ADD COLUMN revision INTEGER NOT NULL DEFAULT 0")
    conn.execute("UPDATE events SET seq = id")
    conn.execute("CREATE UNIQUE INDEX events_seq ON events(seq)")
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('event_seq', (SELECT coalesce(max(seq), 0) FROM events))")


def _migration_site_mirror(conn: sqlite3.Connection) -> None:
    """Site mode: other stations' events are copied here (station names them; NULL = recorded here).
    They have no sequence number, so the outbox never sends them back."""
    conn.execute("ALTER TABLE events ADD COLUMN station TEXT")


# Ordered schema migrations: MIGRATIONS[i] brings user_version i to i + 1. Append, never edit.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1, _migration_2, _migration_challenges,
                                                          migrate_timekeeping, migrate_group_challenge,
                                                          _migration_site_ids, _migration_site_mirror,
                                                          migrate_unknown_faces, migrate_unknown_faces_site,
                                                          migrate_confusions]


def _now() -> datetime:
    return datetime.now().astimezone()


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are taken as local time."""
    return moment if moment.tzinfo is not None else moment.astimezone()


def name_key(name: str) -> str:
    """What two names must share to count as the same: case, spacing and Unicode form ignored."""
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def clean_name(name: str) -> str:
    if not isinstance(name, str):
        raise InvalidInputError("A name must be text.")
    name = name.strip()
    if not name:
        raise InvalidInputError("Please type a name; it cannot be empty or only spaces.")
    if len(name) > MAX_NAME_LEN:
        raise InvalidInputError(f"That name has {len(name)} characters; the limit is {MAX_NAME_LEN}.")
    return name


def _clean_external_id(external_id: str | None) -> str | None:
    if external_id is None:
        return None
    external_id = str(external_id).strip()
    if len(external_id) > MAX_NAME_LEN:
        raise InvalidInputError(f"An external id can have at most {MAX_NAME_LEN} characters.")
    return external_id or None


def _json(value: dict) -> str:
    # numpy scalars and paths sneak into metrics; store them as plain values
    return json.dumps(value, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item") else str(o))


def _kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...] | None:
    return (kinds,) if isinstance(kinds, str) else (tuple(kinds) if kinds is not None else None)


class GalleryStore(TimekeepingTables, UnknownFaceTables, ConfusionTables):
    """The one owner of the SQLite database. Thread-safe; usable as a context manager.
    Groups, holidays, leave, corrections, the audit log and month locks: TimekeepingTables.
    Unknown faces kept for review: UnknownFaceTables. Confusions and kiosk-confirmed faces: ConfusionTables."""

    def __init__(self, path: Path | str):
        self.path = str(path) if str(path) == ":memory:" else Path(path).expanduser()
        self._lock = threading.RLock()
        self._tx_depth = 0
        if self.path != ":memory:":
            self._create_private_file(self.path)
        try:
            self._conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the database {self.path}: {exc}.", StoreProblem.CANNOT_OPEN) from exc
        try:
            self._configure()
            self._db = Database(self._conn, recursive_triggers=False, execute_plugins=False)
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def memory(cls) -> "GalleryStore":
        return cls(":memory:")

    # ---- connection, schema, transactions ----

    @staticmethod
    def _create_private_file(path: Path) -> None:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, mode=PRIVATE_FOLDER_MODE)
            os.chmod(path.parent, PRIVATE_FOLDER_MODE)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE_MODE))
        try:
            os.chmod(path, PRIVATE_FILE_MODE)  # faces are biometric data: owner only
        except OSError as exc:
            log.warning("Cannot make %s owner-only: %s", path, exc)  # not_owner_only() reports it

    def not_owner_only(self) -> list[FileProblem]:
        """The database file or its folder where others may read them (a chmod failed or was undone)."""
        if self.path == ":memory:" or os.name != "posix":
            return []
        problems = []
        for path, wanted in ((self.path, PRIVATE_FILE_MODE), (self.path.parent, PRIVATE_FOLDER_MODE)):
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
            except OSError as exc:
                problems.append(FileProblem(path, f"its permissions cannot be read: {exc}"))
                continue
            if mode & ~wanted:
                problems.append(FileProblem(path, f"mode {mode:o}, expected {wanted:o}"))
        return problems

    def _configure(self) -> None:
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA secure_delete = ON")  # deleted faces are overwritten, not just unlinked
            problems = [row[0] for row in self._conn.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path} is not a Rollcall database or is damaged ({exc}). "
                "Move it aside or restore a backup.", StoreProblem.DAMAGED
            ) from exc
        if problems != ["ok"]:
            raise StoreError(f"The database {self.path} is damaged: {'; '.join(problems[:5])}. Restore a backup.",
                             StoreProblem.DAMAGED)

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"The database {self.path} was written by a newer Rollcall (schema {version}; this "
                f"version knows up to {len(MIGRATIONS)}). Update Rollcall to open it.", StoreProblem.NEWER_SCHEMA
            )
        if version == 0 and self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise StoreError(f"{self.path} is an SQLite database, but not one of Rollcall's.", StoreProblem.NOT_ROLLCALL)
        if version == len(MIGRATIONS):
            return
        self._conn.execute("PRAGMA foreign_keys = OFF")  # a rebuilt table's DROP must not cascade
        try:
            for number in range(version + 1, len(MIGRATIONS) + 1):
                with self._tx():
                    MIGRATIONS[number - 1](self._conn)
                    broken = self._conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(f"Upgrading {self.path} to schema {number} broke {len(broken)} links; "
                                         "nothing was changed.", StoreProblem.WRITE_FAILED)
                    self._conn.execute(f"PRAGMA user_version = {number}")
        finally:
            self._conn.execute("PRAGMA foreign_keys = ON")

    def _error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        lowered = text.lower()
        if "full" in lowered:
            return StoreError(f"The disk holding {self.path} is full; nothing was saved. Free some space.",
                              StoreProblem.DISK_FULL)
        if "locked" in lowered or "busy" in lowered:
            return StoreError(f"The database {self.path} is busy in another program; nothing was saved. Try again.",
                              StoreProblem.LOCKED)
        if "readonly" in lowered or "read-only" in lowered:
            return StoreError(f"The database {self.path} is read-only; nothing was saved.", StoreProblem.READ_ONLY)
        if "foreign key" in lowered:
            text = "it refers to a person, sample or model that does not exist"
        return StoreError(f"Database {self.path}: the change failed ({text}); nothing was changed.")

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; nested use joins the outer transaction via a savepoint."""
        with self._lock:
            outer = self._tx_depth == 0
            savepoint = f"sp{self._tx_depth}"
            try:
                self._conn.execute("BEGIN IMMEDIATE" if outer else f"SAVEPOINT {savepoint}")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            self._tx_depth += 1
            try:
                yield
                self._conn.execute("COMMIT" if outer else f"RELEASE {savepoint}")
            except BaseException as exc:
                if self._conn.in_transaction:  # an error may already have ended it
                    try:
                        if outer:
                            self._conn.execute("ROLLBACK")
                        else:
                            self._conn.execute(f"ROLLBACK TO {savepoint}")
                            self._conn.execute(f"RELEASE {savepoint}")
                    except sqlite3.Error:
                        pass
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from exc
                raise
            finally:
                self._tx_depth -= 1

    @contextmanager
    def transaction(self) -> Iterator["GalleryStore"]:
        """Group several store calls into one all-or-nothing write (blocks other threads meanwhile)."""
        with self._tx():
            yield self

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "GalleryStore":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GalleryStore({str(self.path)!r})"

    def _scalar(self, sql: str, params: Sequence = ()) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return row[0] if row else None

    # ---- people ----

    @staticmethod
    def _person(row: dict) -> Person:
        return Person(row["id"], row["name"], row["external_id"], datetime.fromisoformat(row["created_at"]),
                      bool(row["active"]))

    def _refuse_duplicate(self, name: str, except_id: int | None = None) -> None:
        for row in self._db.query("SELECT id, name FROM people WHERE name_key = ? AND active = 1 AND id IS NOT ?",
                                  [name_key(name), except_id]):
            raise DuplicateNameError(
                f"{row['name']!r} is already enrolled (id {row['id']}). Choose another name, "
                "or add them anyway as a different person.", existing_id=row["id"])

    def _refuse_taken_external_id(self, external_id: str | None, except_id: int | None = None) -> None:
        if external_id is None:
            return
        for row in self._db.query("SELECT id, name, active FROM people WHERE external_id = ? AND id IS NOT ?",
                                  [external_id, except_id]):
            state = "" if row["active"] else ", inactive"
            raise DuplicateExternalIdError(
                f"External ID {external_id!r} already belongs to {row['name']} (id {row['id']}{state}). "
                "Each person needs their own external ID.", external_id=external_id, existing_id=row["id"])

    @guarded
    def add_person(self, name: str, external_id: str | None = None, allow_duplicate: bool = False) -> Person:
        name, external_id = clean_name(name), _clean_external_id(external_id)
        with self._tx():
            if not allow_duplicate:
                self._refuse_duplicate(name)
            self._refuse_taken_external_id(external_id)
            person_id = self._db["people"].insert(dict(
                uuid=_new_uuid(), name=name, name_key=name_key(name), external_id=external_id,
                created_at=_now().isoformat(), active=1)).last_pk
            return self.get_person(person_id)

    @guarded
    def get_person(self, person_id: int) -> Person:
        for row in self._db.query("SELECT * FROM people WHERE id = ?", [int(person_id)]):
            return self._person(row)
        raise PersonNotFoundError(f"No person with id {person_id} is enrolled.")

    @guarded
    def find_person(self, name_or_id: str) -> Person:
        """An id (digits) or an exact name, case-insensitive. Active people win over inactive ones."""
        text = str(name_or_id).strip()
        if text.isascii() and text.isdigit():
            try:
                return self.get_person(int(text))
            except PersonNotFoundError:
                pass  # maybe someone is named with digits
        matches = [self._person(r) for r in self._db.query(
            "SELECT * FROM people WHERE name_key = ? ORDER BY active DESC, id", [name_key(text)])]
        candidates = [p for p in matches if p.active] or matches
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise PersonNotFoundError(f"No one named {text!r} is enrolled.")
        ids = ", ".join(str(p.id) for p in candidates)
        raise PersonNotFoundError(f"Several people are named {text!r} (ids {ids}); use the id instead.")

    @staticmethod
    def _people_filter(search: str | None, include_inactive: bool) -> tuple[str, list]:
        sql, params = " WHERE 1 = 1", []
        if not include_inactive:
            sql += " AND p.active = 1"
        if search and search.strip():
            sql += " AND (instr(p.name_key, ?) > 0 OR instr(lower(coalesce(p.external_id, '')), ?) > 0)"
            params += [name_key(search), search.strip().lower()]
        return sql, params

    @guarded
    def list_people(self, search: str | None = None, include_inactive: bool = False) -> list[Person]:
        where, params = self._people_filter(search, include_inactive)
        return [self._person(r) for r in self._db.query(
            f"SELECT p.* FROM people p{where} ORDER BY p.name_key, p.id", params)]

    @guarded
    def people_overview(self, search: str | None = None, include_inactive: bool = False) -> list[PersonOverview]:
        """People with their sample count and first sample, in one query."""
        where, params = self._people_filter(search, include_inactive)
        sql = (f"SELECT p.*, count(s.id) AS sample_count, min(s.id) AS first_sample_id FROM people p"
               f" LEFT JOIN samples s ON s.person_id = p.id{where} GROUP BY p.id ORDER BY p.name_key, p.id")
        return [PersonOverview(self._person(r), r["sample_count"], r["first_sample_id"])
                for r in self._db.query(sql, params)]

    @guarded
    def rename_person(self, person_id: int, new_name: str, allow_duplicate: bool = False) -> Person:
        new_name = clean_name(new_name)
        with self._tx():
            self.get_person(person_id)
            if not allow_duplicate:
                self._refuse_duplicate(new_name, except_id=person_id)
            self._db["people"].update(person_id, dict(name=new_name, name_key=name_key(new_name)))
            return self.get_person(person_id)

    @guarded
    def set_external_id(self, person_id: int, external_id: str | None) -> Person:
        with self._tx():
            self.get_person(person_id)
            external_id = _clean_external_id(external_id)
            self._refuse_taken_external_id(external_id, except_id=person_id)
            self._db["people"].update(person_id, dict(external_id=external_id))
            return self.get_person(person_id)

    @guarded
    def set_active(self, person_id: int, active: bool) -> Person:
        """Inactive people keep their data but are left out of the gallery and of lists."""
        with self._tx():
            self.get_person(person_id)
            self._db["people"].update(person_id, dict(active=int(bool(active))))
            return self.get_person(person_id)

    @guarded
    def delete_person(self, person_id: int) -> PersonDeleted:
        """Delete a person and everything about them; says how many rows of each kind went."""
        with self._tx():
            self.get_person(person_id)
            deleted = PersonDeleted(
                person_id=person_id,
                samples=self._scalar("SELECT count(*) FROM samples WHERE person_id = ?", [person_id]),
                embeddings=self._scalar("SELECT count(*) FROM embeddings e JOIN samples s ON s.id = e.sample_id"
                                        " WHERE s.person_id = ?", [person_id]),
                events=self._scalar("SELECT count(*) FROM events WHERE person_id = ?", [person_id]),
            )
            self._conn.execute("DELETE FROM people WHERE id = ?", [person_id])  # cascades
        self.erase_freed_space()
        return deleted

    @guarded
    def erase_freed_space(self) -> None:
        """Make deleted rows unrecoverable: fold the WAL into the file, rebuild it, empty the WAL."""
        if self.path == ":memory:" or self._tx_depth:
            return
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.execute("VACUUM")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @guarded
    def merge_people(self, keep_id: int, merge_id: int) -> dict[str, int]:
        """Move merge_id's samples and events to keep_id, then delete merge_id."""
        if int(keep_id) == int(merge_id):
            raise InvalidInputError("Pick two different people to merge.")
        with self._tx():
            self.get_person(keep_id)
            self.get_person(merge_id)
            # a photo both already have stays with keep_id only
            dropped = self._conn.execute(
                "DELETE FROM samples WHERE person_id = ? AND content_hash IN"
                " (SELECT content_hash FROM samples WHERE person_id = ?)", [merge_id, keep_id]).rowcount
            samples = self._conn.execute("UPDATE samples SET person_id = ? WHERE person_id = ?",
                                         [keep_id, merge_id]).rowcount
            events = self._conn.execute("UPDATE events SET person_id = ? WHERE person_id = ?",
                                        [keep_id, merge_id]).rowcount
            self.move_confusions(keep_id, merge_id)
            self._conn.execute("DELETE FROM people WHERE id = ?", [merge_id])
            return {"samples": samples, "events": events, "duplicate_samples_dropped": dropped}

    # ---- samples ----

    @staticmethod
    def _sample(row: dict) -> Sample:
        return Sample(row["id"], row["person_id"], row["source"], row["content_hash"], row["det_prob"],
                      row["face_px"], row["sharpness"], datetime.fromisoformat(row["created_at"]))

    def _samples_where(self, where: str, params: Sequence) -> list[Sample]:
        sql = f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE {where} ORDER BY id"
        return [self._sample(r) for r in self._db.query(sql, params)]

    @guarded
    def add_sample(self, person_id: int, crop_jpeg: bytes, source: str, content_hash: str,
                   det_prob: float, face_px: int, sharpness: float) -> Sample:
        if not crop_jpeg:
            raise InvalidInputError("A face sample needs the crop's JPEG bytes.")
        with self._tx():
            person = self.get_person(person_id)
            if self.has_sample(person_id, content_hash):
                raise EnrollmentError(f"This photo is already enrolled for {person.name}.", reason=RefusalReason.DUPLICATE)
            sample_id = self._db["samples"].insert(dict(
                uuid=_new_uuid(), person_id=person_id, crop_jpeg=bytes(crop_jpeg), source=str(source), content_hash=content_hash,
                det_prob=float(det_prob), face_px=int(face_px), sharpness=float(sharpness),
                created_at=_now().isoformat())).last_pk
            return self._samples_where("id = ?", [sample_id])[0]

    @guarded
    def has_sample(self, person_id: int, content_hash: str) -> bool:
        return self._scalar("SELECT 1 FROM samples WHERE person_id = ? AND content_hash = ?",
                            [person_id, content_hash]) is not None

    @guarded
    def find_sample_by_hash(self, content_hash: str) -> Sample | None:
        found = self._samples_where("content_hash = ?", [content_hash])
        return found[0] if found else None

    @guarded
    def list_samples(self, person_id: int) -> list[Sample]:
        return self._samples_where("person_id = ?", [person_id])

    @guarded
    def sample_crop(self, sample_id: int) -> bytes:
        crop = self._scalar("SELECT crop_jpeg FROM samples WHERE id = ?", [sample_id])
        if crop is None:
            raise InvalidInputError(f"No face sample with id {sample_id}.")
        return bytes(crop)

    @guarded
    def delete_sample(self, sample_id: int) -> bool:
        with self._tx():
            return self._conn.execute("DELETE FROM samples WHERE id = ?", [sample_id]).rowcount > 0

    @guarded
    def count_samples(self, person_id: int | None = None) -> int:
        if person_id is None:
            return self._scalar("SELECT count(*) FROM samples")
        return self._scalar("SELECT count(*) FROM samples WHERE person_id = ?", [person_id])

    # ---- embeddings ----

    def _vector_blob(self, vector: np.ndarray, model: ModelRecord) -> bytes:
        flat = np.asarray(vector, dtype=_VECTOR_DTYPE).reshape(-1)
        if flat.size != model.embedding_size:
            raise InvalidInputError(
                f"An embedding has {flat.size} values but model {model.id!r} makes {model.embedding_size}.")
        if not np.isfinite(flat).all():
            raise InvalidInputError("An embedding contains NaN or infinite values.")
        return flat.tobytes()

    @guarded
    def put_embeddings(self, model_id: str, items: Iterable[tuple[int, np.ndarray]]) -> int:
        """Insert or overwrite (sample_id, vector) pairs for a model; returns how many."""
        with self._tx():
            model = self.get_model(model_id)
            rows = [(int(sample_id), model_id, self._vector_blob(vector, model)) for sample_id, vector in items]
            self._conn.executemany(
                "INSERT INTO embeddings (sample_id, model_id, vector) VALUES (?, ?, ?)"
                " ON CONFLICT (sample_id, model_id) DO UPDATE SET vector = excluded.vector", rows)
            return len(rows)

    @guarded
    def replace_embeddings(self, model_id: str, items: Iterable[tuple[int, np.ndarray]]) -> int:
        """Swap all of a model's embeddings for new ones in one step (re-embedding)."""
        with self._tx():
            self._conn.execute("DELETE FROM embeddings WHERE model_id = ?", [model_id])
            return self.put_embeddings(model_id, items)

    @guarded
    def samples_without_embedding(self, model_id: str) -> list[int]:
        rows = self._conn.execute(
            "SELECT id FROM samples s WHERE NOT EXISTS (SELECT 1 FROM embeddings e"
            " WHERE e.sample_id = s.id AND e.model_id = ?) ORDER BY id", [model_id])
        return [row[0] for row in rows]

    @guarded
    def gallery(self, model_id: str, include_inactive: bool = False) -> GalleryMatrix:
        """All of a model's embeddings as one matrix (active people only by default)."""
        model = self.get_model(model_id)
        active_only = "" if include_inactive else " AND p.active = 1"
        rows = self._conn.execute(
            "SELECT e.sample_id, s.person_id, e.vector FROM embeddings e"
            " JOIN samples s ON s.id = e.sample_id JOIN people p ON p.id = s.person_id"
            f" WHERE e.model_id = ?{active_only} ORDER BY e.sample_id", [model_id]).fetchall()
        buffer = bytearray().join(row[2] for row in rows)  # one writable copy
        if len(buffer) != len(rows) * model.embedding_size * _VECTOR_DTYPE.itemsize:
            raise StoreError(f"Embeddings of model {model_id!r} in {self.path} have the wrong size; re-embed them.",
                             StoreProblem.DAMAGED)
        vectors = np.frombuffer(buffer, dtype=_VECTOR_DTYPE).reshape(len(rows), model.embedding_size)
        person_ids = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
        wanted = set(person_ids.tolist())
        names = {pid: name for pid, name in self._conn.execute("SELECT id, name FROM people") if pid in wanted}
        return GalleryMatrix(
            model_id=model_id,
            vectors=vectors.astype(np.float32, copy=False),
            sample_ids=np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
            person_ids=person_ids,
            names=names,
        )

    # ---- models ----

    @staticmethod
    def _model(row: dict) -> ModelRecord:
        return ModelRecord(row["id"], row["name"], row["base"], row["parent_id"], row["embedding_size"],
                           row["weights_path"], datetime.fromisoformat(row["created_at"]),
                           json.loads(row["settings_json"]), json.loads(row["metrics_json"]))

    @guarded
    def register_model(self, model: ModelRecord) -> ModelRecord:
        """Insert or update a model record."""
        if not model.id or int(model.embedding_size) <= 0:
            raise InvalidInputError("A model needs an id and a positive embedding size.")
        with self._tx():
            self._db["models"].upsert(dict(
                id=model.id, name=model.name, base=model.base, parent_id=model.parent_id,
                embedding_size=int(model.embedding_size), weights_path=str(model.weights_path),
                created_at=_aware(model.created_at).isoformat(),
                settings_json=_json(model.settings), metrics_json=_json(model.metrics)), pk="id")
            return self.get_model(model.id)

    @guarded
    def refuse_taken_model_id(self, model_id: str) -> None:
        if self._scalar("SELECT 1 FROM models WHERE id = ?", [model_id]):
            raise InvalidInputError(f"A model named {model_id!r} is already registered; choose another name.")

    @guarded
    def add_model(self, model: ModelRecord) -> ModelRecord:
        """Register a new model version; a name already in use is refused, never overwritten."""
        with self._tx():
            self.refuse_taken_model_id(model.id)
            return self.register_model(model)

    @guarded
    def get_model(self, model_id: str) -> ModelRecord:
        for row in self._db.query("SELECT * FROM models WHERE id = ?", [model_id]):
            return self._model(row)
        raise ModelNotFoundError(f"No model with id {model_id!r} is registered.")

    @guarded
    def list_models(self) -> list[ModelRecord]:
        return [self._model(r) for r in self._db.query("SELECT * FROM models ORDER BY created_at, id")]

    @guarded
    def active_model_id(self) -> str | None:
        return self._scalar("SELECT value FROM meta WHERE key = 'active_model'")

    @guarded
    def set_active_model(self, model_id: str) -> None:
        with self._tx():
            self.get_model(model_id)
            self._conn.execute("INSERT INTO meta (key, value) VALUES ('active_model', ?)"
                               " ON CONFLICT (key) DO UPDATE SET value = excluded.value", [model_id])

    @guarded
    def update_model_metrics(self, model_id: str, metrics: dict) -> ModelRecord:
        """Merge new metrics into the model's existing ones."""
        with self._tx():
            merged = {**self.get_model(model_id).metrics, **metrics}
            self._db["models"].update(model_id, dict(metrics_json=_json(merged)))
            return self.get_model(model_id)

    # ---- attendance events ----

    @staticmethod
    def _event(row: dict) -> AttendanceEvent:
        return AttendanceEvent(row["id"], row["person_id"], row["person_name"], EventKind(row["kind"]),
                               datetime.fromisoformat(row["time"]), row["source"], row["similarity"],
                               row["track_id"], None)

    @guarded
    def record_event(self, event: AttendanceEvent) -> AttendanceEvent:
        """Save an event; it is committed (durable) when this returns. The day is the time's own date."""
        try:
            kind = EventKind(event.kind)
        except ValueError:
            raise InvalidInputError(f"Unknown event kind {event.kind!r}.") from None
        if (event.person_id is None) != (kind is EventKind.UNKNOWN):
            raise InvalidInputError("Only 'unknown' events have no person, and they always have none.")
        moment = _aware(event.time)
        with self._tx():
            name = self.get_person(event.person_id).name if event.person_id is not None else None
            event_id = self._db["events"].insert(dict(
                uuid=_new_uuid(), seq=self._next_event_seq(), person_id=event.person_id, kind=kind.value, time=moment.isoformat(), ts=moment.timestamp(),
                day=moment.date().isoformat(), source=str(event.source), similarity=float(event.similarity),
                track_id=event.track_id, snapshot_jpeg=event.snapshot_jpeg)).last_pk
        return replace(event, id=event_id, person_name=name, time=moment, kind=kind)

    @guarded
    def update_event_time(self, event_id: int, time: datetime, *, similarity: float | None = None,
                          source: str | None = None, track_id: int | None = None,
                          snapshot_jpeg: bytes | None = None) -> AttendanceEvent:
        """Move an event to a new time (e.g. a later check-out); other fields change only when given."""
        moment = _aware(time)
        changes: dict[str, Any] = dict(time=moment.isoformat(), ts=moment.timestamp(), day=moment.date().isoformat())
        for column, value in (("similarity", similarity), ("source", source), ("track_id", track_id),
                              ("snapshot_jpeg", snapshot_jpeg)):
            if value is not None:
                changes[column] = value
        with self._tx():  # a new sequence number: the outbox sends the moved event again
            changes.update(seq=self._next_event_seq(), revision=self._scalar(
                "SELECT revision + 1 FROM events WHERE id = ?", [event_id]) or 0)
            assignments = ", ".join(f"{column} = ?" for column in changes)
            cursor = self._conn.execute(f"UPDATE events SET {assignments} WHERE id = ?", [*changes.values(), event_id])
            if cursor.rowcount == 0:
                raise InvalidInputError(f"No attendance event with id {event_id}.")
            return self._event(next(self._db.query(f"{_EVENT_SELECT} WHERE e.id = ?", [event_id])))

    def _event_query(self, start: date | None, end: date | None, person_id: int | None,
                     kinds: str | Iterable[str] | None, order: str) -> tuple[str, list]:
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
    def events(self, start: date | None = None, end: date | None = None, person_id: int | None = None,
               kinds: str | Iterable[str] | None = None) -> list[AttendanceEvent]:
        """Events from start to end (inclusive local days), oldest first, without snapshots."""
        sql, params = self._event_query(start, end, person_id, kinds, "ASC")
        return [self._event(r) for r in self._db.query(sql, params)]

    @guarded
    def last_event(self, person_id: int, day: date | None = None,
                   kinds: str | Iterable[str] | None = None) -> AttendanceEvent | None:
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
        moment = _aware(attempt.time)
        with self._tx():
            attempt_id = self._db["challenges"].insert(dict(
                person_id=attempt.person_id, time=moment.isoformat(), ts=moment.timestamp(),
                day=moment.date().isoformat(), source=str(attempt.source), moves=",".join(attempt.moves),
                outcome=ChallengeOutcome(attempt.outcome).value, seconds=float(attempt.seconds),
                track_id=attempt.track_id, snapshot_jpeg=attempt.snapshot_jpeg)).last_pk
        return replace(attempt, id=attempt_id, time=moment)

    @guarded
    def challenges(self, day: date | None = None, person_id: int | None = None,
                   outcomes: Iterable[ChallengeOutcome] | None = None) -> list[ChallengeAttempt]:
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
        rows = self._db.query("SELECT id, person_id, time, source, moves, outcome, seconds, track_id FROM challenges"
                              f"{where} ORDER BY ts, id", params)
        return [ChallengeAttempt(r["id"], r["person_id"], datetime.fromisoformat(r["time"]), r["source"],
                                 tuple(filter(None, r["moves"].split(","))), ChallengeOutcome(r["outcome"]),
                                 r["seconds"], r["track_id"]) for r in rows]

    @guarded
    def challenge_snapshot(self, attempt_id: int) -> bytes | None:
        snapshot = self._scalar("SELECT snapshot_jpeg FROM challenges WHERE id = ?", [attempt_id])
        return bytes(snapshot) if snapshot is not None else None

    @guarded
    def purge(self, older_than: datetime, unknown_snapshots_only: bool = False,
              keep_seq_above: int | None = None) -> int:
        """Retention: delete events older than a moment, or only drop unknown faces' snapshots.
        Either way the unknown faces kept for review (crops, embeddings) older than that go too, and so
        do the face crops of older confusions and kiosk-confirmed faces (the confusion itself is kept).

        keep_seq_above: events numbered above this (not yet on the site server) are never deleted."""
        cutoff = _aware(older_than).timestamp()
        with self._tx():
            self._purge_unknown_faces(cutoff)
            self._purge_confusion_faces(datetime.fromtimestamp(cutoff, timezone.utc))
            if unknown_snapshots_only:
                sql = ("UPDATE events SET snapshot_jpeg = NULL"
                       " WHERE kind = 'unknown' AND ts < ? AND snapshot_jpeg IS NOT NULL")
            else:
                sql = "DELETE FROM events WHERE ts < ?"
                self._conn.execute("DELETE FROM challenges WHERE ts < ?", [cutoff])
            if keep_seq_above is None:
                return self._conn.execute(sql, [cutoff]).rowcount
            return self._conn.execute(sql + " AND (seq <= ? OR station IS NOT NULL)",
                                      [cutoff, int(keep_seq_above)]).rowcount

    # ---- site mode (core.site): sequence numbers, the outbox, the gallery by UUID ----

    def _next_event_seq(self) -> int:
        """The next per-station event sequence number; never reused, even after deletions."""
        self._conn.execute("INSERT INTO meta (key, value) VALUES ('event_seq', '1') ON CONFLICT (key)"
                           " DO UPDATE SET value = CAST(value AS INTEGER) + 1")
        return int(self._scalar("SELECT value FROM meta WHERE key = 'event_seq'"))

    @guarded
    def raise_event_seq(self, at_least: int) -> None:
        """Continue numbering after `at_least` (a station re-joining a site under its old name)."""
        with self._tx():
            self._conn.execute("INSERT INTO meta (key, value) VALUES ('event_seq', ?) ON CONFLICT (key)"
                               " DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                               [str(int(at_least))])

    @guarded
    def meta_value(self, key: str) -> str | None:
        return self._scalar("SELECT value FROM meta WHERE key = ?", [key])

    @guarded
    def set_meta_values(self, values: dict[str, str | None]) -> None:
        """Set (None: remove) several meta keys in one transaction."""
        with self._tx():
            for key, value in values.items():
                if value is None:
                    self._conn.execute("DELETE FROM meta WHERE key = ?", [key])
                else:
                    self._conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)"
                                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, str(value)])

    @guarded
    def outbox(self, after_seq: int, limit: int) -> list[OutboxEvent]:
        """Events with a sequence number above `after_seq`, lowest first."""
        rows = self._conn.execute(
            "SELECT e.uuid, e.seq, e.revision, p.uuid, e.kind, e.time, e.source, e.similarity, e.track_id"
            " FROM events e LEFT JOIN people p ON p.id = e.person_id WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
            [int(after_seq), int(limit)]).fetchall()
        return [OutboxEvent(r[0], r[1], r[2], r[3], EventKind(r[4]), datetime.fromisoformat(r[5]), r[6], r[7], r[8])
                for r in rows]

    @guarded
    def outbox_length(self, after_seq: int) -> int:
        return self._scalar("SELECT count(*) FROM events WHERE seq > ?", [int(after_seq)])

    @guarded
    def mirror_events(self, events: Iterable[MirroredEvent]) -> tuple[int, int]:
        """Copy other stations' events (by UUID; a newer revision or a merged person updates the copy).
        Events of people this station does not have (erased meanwhile) are skipped. Returns (new, updated)."""
        people = self.person_ids_by_uuid()
        added = updated = 0
        with self._tx():
            for event in events:
                person_id = people.get(event.person_uuid) if event.person_uuid else None
                if (person_id is None) != (event.kind is EventKind.UNKNOWN):
                    continue
                moment = _aware(event.time)
                row = self._conn.execute("SELECT id, revision, person_id, station FROM events WHERE uuid = ?",
                                         [event.uuid]).fetchone()
                values = [person_id, event.kind.value, moment.isoformat(), moment.timestamp(),
                          moment.date().isoformat(), event.source, float(event.similarity), event.track_id,
                          int(event.revision)]
                if row is None:
                    self._conn.execute(
                        "INSERT INTO events (person_id, kind, time, ts, day, source, similarity, track_id, revision,"
                        " uuid, station) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values + [event.uuid, event.station])
                    added += 1
                elif row[3] is not None and (event.revision > row[1] or person_id != row[2]):
                    self._conn.execute(
                        "UPDATE events SET person_id = ?, kind = ?, time = ?, ts = ?, day = ?, source = ?,"
                        " similarity = ?, track_id = ?, revision = ? WHERE id = ?", values + [row[0]])
                    updated += 1
        return added, updated

    @guarded
    def event_ids_by_uuid(self, uuids: Iterable[str]) -> dict[str, int]:
        wanted = list(uuids)
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            found.update(self._conn.execute(
                f"SELECT uuid, id FROM events WHERE uuid IN ({', '.join('?' * len(chunk))})", chunk).fetchall())
        return found

    @guarded
    def person_ids_by_uuid(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self._conn.execute("SELECT uuid, id FROM people")}

    @guarded
    def person_uuid(self, person_id: int) -> str:
        found = self._scalar("SELECT uuid FROM people WHERE id = ?", [int(person_id)])
        if found is None:
            raise PersonNotFoundError(f"No person with id {person_id} is enrolled.")
        return found

    @guarded
    def sample_uuids(self, sample_ids: Iterable[int]) -> list[str]:
        ids = [int(i) for i in sample_ids]
        return [r[0] for r in self._conn.execute(
            f"SELECT uuid FROM samples WHERE id IN ({', '.join('?' * len(ids))})", ids)] if ids else []

    @guarded
    def site_gallery(self, person_ids: Iterable[int] | None = None, model_ids: Iterable[str] | None = None,
                     with_samples: bool = True) -> SiteGallery:
        """People (all, or these), their samples and their embeddings (all models, or these), by UUID."""
        people_where, params = "", []
        if person_ids is not None:
            ids = [int(i) for i in person_ids]
            people_where, params = f" WHERE p.id IN ({', '.join('?' * len(ids)) or 'NULL'})", ids
        people = [SitePerson(r[0], r[1], r[2], datetime.fromisoformat(r[3]), bool(r[4])) for r in self._conn.execute(
            f"SELECT p.uuid, p.name, p.external_id, p.created_at, p.active FROM people p{people_where}", params)]
        samples = [SiteSample(r[0], r[1], bytes(r[2]), r[3], r[4], r[5], r[6], r[7], datetime.fromisoformat(r[8]))
                   for r in self._conn.execute(
            "SELECT s.uuid, p.uuid, s.crop_jpeg, s.source, s.content_hash, s.det_prob, s.face_px, s.sharpness,"
            f" s.created_at FROM samples s JOIN people p ON p.id = s.person_id{people_where}", params)
                   ] if with_samples else []
        model_where, model_params = "", []
        if model_ids is not None:
            models = [str(m) for m in model_ids]
            model_where = f" {'AND' if people_where else 'WHERE'} e.model_id IN ({', '.join('?' * len(models)) or 'NULL'})"
            model_params = models
        embeddings = [SiteEmbedding(r[0], r[1], bytes(r[2])) for r in self._conn.execute(
            "SELECT s.uuid, e.model_id, e.vector FROM embeddings e JOIN samples s ON s.id = e.sample_id"
            f" JOIN people p ON p.id = s.person_id{people_where}{model_where}", params + model_params)]
        return SiteGallery(people, samples, embeddings, self.list_models())

    @guarded
    def apply_site_gallery(self, changes: SiteGallery) -> dict[str, int]:
        """Bring the local copy up to the server's changes in one transaction (upserts by UUID, erasures)."""
        with self._tx():
            for model in changes.models:
                if self._scalar("SELECT 1 FROM models WHERE id = ?", [model.id]) is None:
                    self.register_model(model)
            erased_samples = sum(self._conn.execute("DELETE FROM samples WHERE uuid = ?", [u]).rowcount
                                 for u in changes.erased_samples)
            erased_people = sum(self._conn.execute("DELETE FROM people WHERE uuid = ?", [u]).rowcount
                                for u in changes.erased_people)
            # external IDs are unique: one that moved between people in this batch is freed first
            self._conn.executemany("UPDATE people SET external_id = NULL WHERE uuid = ?",
                                   [(p.uuid,) for p in changes.people])
            self._conn.executemany(
                "INSERT INTO people (uuid, name, name_key, external_id, created_at, active)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (uuid) DO UPDATE SET name = excluded.name,"
                " name_key = excluded.name_key, external_id = excluded.external_id, active = excluded.active",
                [(p.uuid, p.name, name_key(p.name), p.external_id, _aware(p.created_at).isoformat(), int(p.active))
                 for p in changes.people])
            person_ids = self.person_ids_by_uuid()
            known = {row[0] for row in self._conn.execute("SELECT uuid FROM samples")}
            self._conn.executemany(  # a sample moved to another person (a merge)
                "UPDATE OR IGNORE samples SET person_id = ? WHERE uuid = ?",
                [(person_ids[s.person_uuid], s.uuid) for s in changes.samples if s.uuid in known])
            self._conn.executemany(  # the same photo of the same person under an older UUID takes the new one
                "INSERT INTO samples (uuid, person_id, crop_jpeg, source, content_hash, det_prob, face_px, sharpness,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (person_id, content_hash) DO UPDATE SET uuid = excluded.uuid",
                [(s.uuid, person_ids[s.person_uuid], s.crop_jpeg, s.source, s.content_hash, s.det_prob, s.face_px,
                  s.sharpness, _aware(s.created_at).isoformat()) for s in changes.samples if s.uuid not in known])
            sample_ids = dict(self._conn.execute("SELECT uuid, id FROM samples").fetchall())
            self._conn.executemany(
                "INSERT INTO embeddings (sample_id, model_id, vector) VALUES (?, ?, ?)"
                " ON CONFLICT (sample_id, model_id) DO UPDATE SET vector = excluded.vector",
                [(sample_ids[e.sample_uuid], e.model_id, e.vector) for e in changes.embeddings
                 if e.sample_uuid in sample_ids])
            for merged_uuid, kept_uuid in changes.merged_people.items():
                merged, kept = person_ids.get(merged_uuid), person_ids.get(kept_uuid)
                if merged is not None and kept is not None:
                    self.merge_people(kept, merged)  # their local events move to the person kept
        if erased_people or erased_samples:
            self.erase_freed_space()
        return {"people": len(changes.people), "samples": len(changes.samples), "merged": len(changes.merged_people),
                "embeddings": len(changes.embeddings), "erased_people": erased_people,
                "erased_samples": erased_samples}

    # ---- backups ----

    @guarded
    def backup_to(self, destination: Path | str) -> Path:
        """A consistent copy made with SQLite's online backup API (safe while the app runs)."""
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = destination.with_name(destination.name + ".tmp")
        tmp.unlink(missing_ok=True)
        self._create_private_file(tmp)
        target = sqlite3.connect(str(tmp))
        try:
            self._conn.backup(target)
            target.execute("PRAGMA journal_mode = DELETE")
        except sqlite3.Error as exc:
            target.close()
            tmp.unlink(missing_ok=True)
            raise self._error(exc) from exc
        target.close()
        os.replace(tmp, destination)
        return destination

    def auto_backup(self, folder: Path | str, keep: int = 7, today: date | None = None) -> Path | None:
        """One backup a day in `folder`, keeping the newest `keep`. Returns the new file, if one was made."""
        folder = Path(folder)
        today = today or date.today()
        target = folder / f"rollcall-{today.isoformat()}.db"
        made = None if target.exists() else self.backup_to(target)
        for old in sorted(folder.glob("rollcall-*.db"))[:-keep]:
            old.unlink(missing_ok=True)
        return made

    # ---- health ----

    @guarded
    def stats(self) -> dict[str, int]:
        """Counts for the status bar; 'people' counts active people only."""
        return {
            "people": self._scalar("SELECT count(*) FROM people WHERE active = 1"),
            "samples": self._scalar("SELECT count(*) FROM samples"),
            "events": self._scalar("SELECT count(*) FROM events"),
            "models": self._scalar("SELECT count(*) FROM models"),
        }

    @guarded
    def integrity_check(self) -> list[str]:
        """Problems found in the database file and its links; an empty list means all is well."""
        problems = [row[0] for row in self._conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
        for table, rowid, parent, _ in self._conn.execute("PRAGMA foreign_key_check"):
            problems.append(f"{table} row {rowid} refers to a missing {parent} row")
        for model_id, count in self._conn.execute(
                "SELECT e.model_id, count(*) FROM embeddings e JOIN models m ON m.id = e.model_id"
                " WHERE length(e.vector) != 4 * m.embedding_size GROUP BY e.model_id"):
            problems.append(f"{count} embeddings of model {model_id} have the wrong size; re-embed them")
        return problems


def erase_person_from_backups(folder: Path, person_id: int) -> tuple[tuple[Path, ...], tuple[FileProblem, ...]]:
    """Delete a person from every backup in `folder` that holds them: (backups scrubbed, backups that failed)."""
    scrubbed, failed = [], []
    for backup in sorted(Path(folder).glob("rollcall-*.db")):
        try:
            with GalleryStore(backup) as old:
                if any(p.id == person_id for p in old.list_people(include_inactive=True)):
                    old.delete_person(person_id)
                    scrubbed.append(backup)
        except (RollcallError, OSError) as exc:
            log.warning("Could not erase person %s from backup %s: %s", person_id, backup, exc)
            failed.append(FileProblem(backup, str(exc)))
    return tuple(scrubbed), tuple(failed)


def latest_backup(folder: Path | str) -> Path | None:
    backups = sorted(Path(folder).glob("rollcall-*.db"))
    return backups[-1] if backups else None


def restore_backup(backup: Path | str, database: Path | str) -> Path:
    """Put a backup in place of the database. The current file is kept beside it, renamed, never deleted."""
    backup, database = Path(backup), Path(database)
    with GalleryStore(backup) as check:  # refuses a damaged backup
        problems = check.integrity_check()
    if problems:
        raise StoreError(f"The backup {backup} is damaged too: {problems[0]}", StoreProblem.DAMAGED)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    kept = database.with_name(f"{database.name}.damaged-{stamp}")
    if database.exists():
        os.replace(database, kept)
    for suffix in ("-wal", "-shm"):
        side = database.with_name(database.name + suffix)
        if side.exists():
            os.replace(side, kept.with_name(kept.name + suffix))
    tmp = database.with_name(database.name + ".restore")
    shutil.copyfile(backup, tmp)
    os.chmod(tmp, PRIVATE_FILE_MODE)
    os.replace(tmp, database)
    return kept
