"""The database's backup files: find the latest, restore one, and erase a person from all of them.

GalleryStore makes them (backup_to, auto_backup: one a day, `rollcall-<date>.db`).
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime
from pathlib import Path

from core.base.errors import RollcallError, StoreError, StoreProblem
from core.base.records import FileProblem
from core.gallery.store import PRIVATE_FILE_MODE, GalleryStore

log = logging.getLogger(__name__)


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
