"""GalleryStore: the one owner of Rollcall's SQLite database.

People, their face samples, embeddings per model, registered models and attendance events.
One connection shared by the GUI's worker threads and the recognize loop, guarded by a
re-entrant lock. Every write runs in a transaction: a failing write changes nothing.

This module holds the connection, transactions, migrations, backups and health; the tables' methods
come from the mixins (people_store, model_store, event_store, site_store, timekeeping_store,
unknown_store, confusion_store), the schema from schema.py, backup files from backups.py.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from core.base.errors import StoreError, StoreProblem
from core.base.records import FileProblem
from core.gallery.chain_store import ChainTables, install_chain
from core.gallery.confusion_store import ConfusionTables
from core.gallery.dated_store import DatedTables
from core.gallery.event_store import EventTables
from core.gallery.final_store import FinalTables
from core.gallery.hr_edit_store import HrEditTables
from core.gallery.model_store import ModelTables
from core.gallery.people_store import PeopleTables
from core.gallery.schema import MIGRATIONS
from core.gallery.shift_store import ShiftTables
from core.gallery.site_store import SiteTables
from core.gallery.table_guard import guarded
from core.gallery.timekeeping_store import TimekeepingTables
from core.gallery.unknown_store import UnknownFaceTables

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 5.0
PRIVATE_FILE_MODE = 0o600  # faces are biometric data: the database is the owner's only
PRIVATE_FOLDER_MODE = 0o700


class GalleryStore(
    DatedTables,
    PeopleTables,
    ModelTables,
    EventTables,
    SiteTables,
    TimekeepingTables,
    UnknownFaceTables,
    ConfusionTables,
    ShiftTables,
    HrEditTables,
    FinalTables,
    ChainTables,
):
    """The one owner of the SQLite database. Thread-safe; usable as a context manager.
    People and samples: PeopleTables. Models and embeddings: ModelTables. Events and challenges: EventTables.
    Site-mode bookkeeping: SiteTables.
    Groups, holidays, leave, corrections, the audit log and month locks: TimekeepingTables.
    Unknown faces kept for review: UnknownFaceTables. Confusions and kiosk-confirmed faces: ConfusionTables."""

    def __init__(self, path: Path | str):
        self.path = str(path) if str(path) == ":memory:" else Path(path).expanduser()
        self._lock = threading.RLock()
        self._tx_depth = 0
        if self.path != ":memory:":
            self._create_private_file(Path(self.path))
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
            install_chain(self._conn)  # every chained row's change is recorded in the ledger (chain_store)
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def memory(cls) -> GalleryStore:
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
        database = Path(self.path)
        problems = []
        for path, wanted in ((database, PRIVATE_FILE_MODE), (database.parent, PRIVATE_FOLDER_MODE)):
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
                f"{self.path} is not a Rollcall database or is damaged ({exc}). Move it aside or restore a backup.",
                StoreProblem.DAMAGED,
            ) from exc
        if problems != ["ok"]:
            raise StoreError(
                f"The database {self.path} is damaged: {'; '.join(problems[:5])}. Restore a backup.",
                StoreProblem.DAMAGED,
            )

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"The database {self.path} was written by a newer Rollcall (schema {version}; this "
                f"version knows up to {len(MIGRATIONS)}). Update Rollcall to open it.",
                StoreProblem.NEWER_SCHEMA,
            )
        if version == 0 and self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise StoreError(
                f"{self.path} is an SQLite database, but not one of Rollcall's.", StoreProblem.NOT_ROLLCALL
            )
        if version == len(MIGRATIONS):
            return
        self._conn.execute("PRAGMA foreign_keys = OFF")  # a rebuilt table's DROP must not cascade
        try:
            for number in range(version + 1, len(MIGRATIONS) + 1):
                with self._tx():
                    MIGRATIONS[number - 1](self._conn)
                    broken = self._conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(
                            f"Upgrading {self.path} to schema {number} broke {len(broken)} links; nothing was changed.",
                            StoreProblem.WRITE_FAILED,
                        )
                    self._conn.execute(f"PRAGMA user_version = {number}")
        finally:
            self._conn.execute("PRAGMA foreign_keys = ON")

    def _error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        lowered = text.lower()
        if "full" in lowered:
            return StoreError(
                f"The disk holding {self.path} is full; nothing was saved. Free some space.", StoreProblem.DISK_FULL
            )
        if "locked" in lowered or "busy" in lowered:
            return StoreError(
                f"The database {self.path} is busy in another program; nothing was saved. Try again.",
                StoreProblem.LOCKED,
            )
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
    def transaction(self) -> Iterator[GalleryStore]:
        """Group several store calls into one all-or-nothing write (blocks other threads meanwhile)."""
        with self._tx():
            yield self

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> GalleryStore:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GalleryStore({str(self.path)!r})"

    def _scalar(self, sql: str, params: Sequence = ()) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return row[0] if row else None

    @guarded
    def erase_freed_space(self) -> None:
        """Make deleted rows unrecoverable: fold the WAL into the file, rebuild it, empty the WAL."""
        if self.path == ":memory:" or self._tx_depth:
            return
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.execute("VACUUM")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
            "samples": self._scalar("SELECT count(*) FROM samples WHERE derived IS NULL"),
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
            " WHERE length(e.vector) != 4 * m.embedding_size GROUP BY e.model_id"
        ):
            problems.append(f"{count} embeddings of model {model_id} have the wrong size; re-embed them")
        return problems
