"""What GalleryStore holds, declared once for its table mixins (core.gallery.*_store), which share it.

GalleryStore sets these in its __init__; the methods below are defined by GalleryStore or by one mixin
and used by another, and are declared here for the type checker only.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlite_utils import Database

from core.base.records import AttendanceEvent, ModelRecord, Person
from core.base.timekeeping import AuditAction, AuditEntry, Group


class StoreState:
    """The store's connection and lock; every table mixin derives from it."""

    path: Path | str  # ":memory:" for a database in memory
    _conn: sqlite3.Connection
    _db: Database
    _lock: threading.RLock
    _tx_depth: int

    if TYPE_CHECKING:
        # GalleryStore's
        def _tx(self) -> AbstractContextManager[None]: ...

        def _scalar(self, sql: str, params: Sequence = ()) -> Any: ...

        def erase_freed_space(self) -> None: ...

        # PeopleTables'
        def get_person(self, person_id: int) -> Person: ...

        def merge_people(self, keep_id: int, merge_id: int) -> dict[str, int]: ...

        # ModelTables'
        def register_model(self, model: ModelRecord) -> ModelRecord: ...

        def get_model(self, model_id: str) -> ModelRecord: ...

        def list_models(self) -> list[ModelRecord]: ...

        def _vector_blob(self, vector: np.ndarray, model: ModelRecord) -> bytes: ...

        # SiteTables'
        def event_ids_by_uuid(self, uuids: Iterable[str]) -> dict[str, int]: ...

        def person_ids_by_uuid(self) -> dict[str, int]: ...

        # TimekeepingTables'
        def get_group(self, group_id: int) -> Group: ...

        def append_audit(
            self,
            actor: str,
            action: AuditAction,
            subject: str,
            reason: str = "",
            details: dict | None = None,
            person_id: int | None = None,
        ) -> AuditEntry: ...

        def locked_months(self) -> list[str]: ...

        # EventTables'
        def _next_event_seq(self) -> int: ...

        # FinalTables'
        def held_uuids(self, uuids: Iterable[str]) -> set[str]: ...

        def hold_mirrored(self, rows: list[tuple[AttendanceEvent, str, str, int]], actor: str) -> int: ...

        def month_is_locked(self, month: str) -> bool: ...

        # UnknownFaceTables' and ConfusionTables'
        def _purge_unknown_faces(self, cutoff_ts: float) -> int: ...

        def move_confusions(self, keep_id: int, merge_id: int) -> None: ...

        def _purge_confusion_faces(self, cutoff: datetime) -> None: ...
