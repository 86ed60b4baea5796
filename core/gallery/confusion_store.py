"""The store's confusion tables (issue 16): faces shown as the wrong person, and faces a person
confirmed at the kiosk. GalleryStore inherits these methods.

A confusion keeps the face crop (the event's snapshot: the same 160x160 FaceNet crop a sample
stores), so any model, also one trained later, can embed it; vectors are kept per model once made.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np

from core.base.errors import InvalidInputError
from core.base.records import ConfirmedSample, Confusion, ConfusionSource
from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded

_VECTOR_DTYPE = np.dtype("<f4")


def migrate_confusions(conn: sqlite3.Connection) -> None:
    conn.execute("""CREATE TABLE confusions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id INTEGER REFERENCES events(id) ON DELETE SET NULL,
        shown_person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        true_person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
        source TEXT NOT NULL CHECK (source IN ('correction', 'uncertain_no')),
        similarity REAL NOT NULL, crop_jpeg BLOB, created_at TEXT NOT NULL)""")
    conn.execute("CREATE INDEX confusions_shown ON confusions(shown_person_id)")
    conn.execute("CREATE INDEX confusions_true ON confusions(true_person_id)")
    conn.execute("""CREATE TABLE confusion_embeddings (
        confusion_id INTEGER NOT NULL REFERENCES confusions(id) ON DELETE CASCADE,
        model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        vector BLOB NOT NULL, PRIMARY KEY (confusion_id, model_id))""")
    conn.execute("""CREATE TABLE confirmed_samples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id INTEGER REFERENCES events(id) ON DELETE SET NULL,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        similarity REAL NOT NULL, crop_jpeg BLOB NOT NULL, created_at TEXT NOT NULL)""")
    conn.execute("CREATE INDEX confirmed_samples_person ON confirmed_samples(person_id)")


_guarded = guarded


_CONFUSION_SELECT = (
    "SELECT c.id, c.event_id, c.shown_person_id, s.name, c.true_person_id, t.name, c.source, c.similarity,"
    " c.created_at, c.crop_jpeg IS NOT NULL FROM confusions c JOIN people s ON s.id = c.shown_person_id"
    " LEFT JOIN people t ON t.id = c.true_person_id"
)


def _confusion(row: tuple) -> Confusion:
    cid, event_id, shown, shown_name, true, true_name, source, similarity, created, has_crop = row
    return Confusion(
        cid,
        event_id,
        shown,
        shown_name,
        true,
        true_name,
        ConfusionSource(source),
        float(similarity),
        datetime.fromisoformat(created),
        bool(has_crop),
    )


class ConfusionTables(StoreState):
    """Methods GalleryStore gains for confusions and confirmed samples (uses its _lock, _tx, _conn, _error)."""

    @_guarded
    def add_confusion(
        self,
        shown_person_id: int,
        true_person_id: int | None,
        source: ConfusionSource,
        similarity: float,
        crop_jpeg: bytes | None,
        event_id: int | None = None,
    ) -> Confusion:
        if true_person_id is not None and int(true_person_id) == int(shown_person_id):
            raise InvalidInputError("A confusion needs two different people (or a stranger).")
        with self._tx():
            cursor = self._conn.execute(
                "INSERT INTO confusions (event_id, shown_person_id, true_person_id, source, similarity, crop_jpeg,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    event_id,
                    int(shown_person_id),
                    true_person_id,
                    ConfusionSource(source).value,
                    float(similarity),
                    crop_jpeg,
                    datetime.now(UTC).isoformat(),
                ],
            )
            return self.get_confusion(cursor.lastrowid)

    @_guarded
    def get_confusion(self, confusion_id: int) -> Confusion:
        row = self._conn.execute(_CONFUSION_SELECT + " WHERE c.id = ?", [int(confusion_id)]).fetchone()
        if row is None:
            raise InvalidInputError(f"No confusion with id {confusion_id}.")
        return _confusion(row)

    @_guarded
    def confusions(self, person_id: int | None = None) -> list[Confusion]:
        """Oldest first; with person_id, those where the person was shown or was the true one."""
        if person_id is None:
            rows = self._conn.execute(_CONFUSION_SELECT + " ORDER BY c.id").fetchall()
        else:
            rows = self._conn.execute(
                _CONFUSION_SELECT + " WHERE c.shown_person_id = ? OR c.true_person_id = ? ORDER BY c.id",
                [int(person_id), int(person_id)],
            ).fetchall()
        return [_confusion(row) for row in rows]

    @_guarded
    def confusion_crop(self, confusion_id: int) -> bytes | None:
        row = self._conn.execute("SELECT crop_jpeg FROM confusions WHERE id = ?", [int(confusion_id)]).fetchone()
        return row[0] if row else None

    @_guarded
    def put_confusion_vectors(self, model_id: str, items: Iterable[tuple[int, np.ndarray]]) -> int:
        with self._tx():
            model = self.get_model(model_id)
            rows = [(int(cid), model_id, self._vector_blob(vector, model)) for cid, vector in items]
            self._conn.executemany(
                "INSERT INTO confusion_embeddings (confusion_id, model_id, vector) VALUES (?, ?, ?)"
                " ON CONFLICT (confusion_id, model_id) DO UPDATE SET vector = excluded.vector",
                rows,
            )
            return len(rows)

    @_guarded
    def confusion_vectors(self, model_id: str) -> dict[int, np.ndarray]:
        rows = self._conn.execute(
            "SELECT confusion_id, vector FROM confusion_embeddings WHERE model_id = ?", [model_id]
        ).fetchall()
        return {int(cid): np.frombuffer(blob, _VECTOR_DTYPE).astype(np.float32) for cid, blob in rows}

    @_guarded
    def confusions_without_vector(self, model_id: str) -> list[int]:
        rows = self._conn.execute(
            "SELECT id FROM confusions WHERE crop_jpeg IS NOT NULL AND id NOT IN"
            " (SELECT confusion_id FROM confusion_embeddings WHERE model_id = ?) ORDER BY id",
            [model_id],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def move_confusions(self, keep_id: int, merge_id: int) -> None:
        """A merge: merge_id's confusions and confirmed faces go to keep_id; a confusion between the two
        (now one person) is dropped. Runs inside the merge's transaction."""
        self._conn.execute(
            "DELETE FROM confusions WHERE (shown_person_id = ? AND true_person_id = ?)"
            " OR (shown_person_id = ? AND true_person_id = ?)",
            [keep_id, merge_id, merge_id, keep_id],
        )
        for column in ("shown_person_id", "true_person_id"):
            self._conn.execute(f"UPDATE confusions SET {column} = ? WHERE {column} = ?", [keep_id, merge_id])
        self._conn.execute("UPDATE confirmed_samples SET person_id = ? WHERE person_id = ?", [keep_id, merge_id])

    @_guarded
    def add_confirmed_sample(
        self, person_id: int, similarity: float, crop_jpeg: bytes, event_id: int | None = None
    ) -> ConfirmedSample:
        with self._tx():
            self.get_person(person_id)
            created = datetime.now(UTC)
            cursor = self._conn.execute(
                "INSERT INTO confirmed_samples (event_id, person_id, similarity, crop_jpeg, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [event_id, int(person_id), float(similarity), crop_jpeg, created.isoformat()],
            )
            return ConfirmedSample(int(cursor.lastrowid or 0), event_id, int(person_id), float(similarity), created)

    @_guarded
    def confirmed_samples(self, person_id: int | None = None) -> list[ConfirmedSample]:
        sql = "SELECT id, event_id, person_id, similarity, created_at FROM confirmed_samples"
        where = " WHERE person_id = ? ORDER BY id" if person_id is not None else " ORDER BY id"
        rows = self._conn.execute(sql + where, [int(person_id)] if person_id is not None else []).fetchall()
        return [ConfirmedSample(r[0], r[1], r[2], float(r[3]), datetime.fromisoformat(r[4])) for r in rows]

    @_guarded
    def confirmed_crop(self, confirmed_id: int) -> bytes:
        row = self._conn.execute("SELECT crop_jpeg FROM confirmed_samples WHERE id = ?", [int(confirmed_id)]).fetchone()
        if row is None:
            raise InvalidInputError(f"No confirmed sample with id {confirmed_id}.")
        return row[0]

    def _purge_confusion_faces(self, cutoff: datetime) -> None:
        """Retention (inside GalleryStore.purge's transaction): faces recorded before the cutoff go; the
        confusions stay, without a face, so they are still listed but no longer trained on."""
        moment = cutoff.astimezone(UTC).isoformat()
        self._conn.execute(
            "DELETE FROM confusion_embeddings WHERE confusion_id IN (SELECT id FROM confusions WHERE created_at < ?)",
            [moment],
        )
        self._conn.execute(
            "UPDATE confusions SET crop_jpeg = NULL WHERE created_at < ? AND crop_jpeg IS NOT NULL", [moment]
        )
        self._conn.execute("DELETE FROM confirmed_samples WHERE created_at < ?", [moment])

    # ---- site mode: a corrected event's face comes from the station that saw it ----

    @_guarded
    def corrected_event_faces(self, after_correction_id: int) -> tuple[list[tuple[str, bytes]], int]:
        """(event UUID, face) of this station's own events voided or reassigned by corrections numbered above
        `after_correction_id` (those with a face kept), and the highest correction id seen."""
        rows = self._conn.execute(
            "SELECT c.id, e.uuid, e.snapshot_jpeg FROM corrections c JOIN events e ON e.id = c.event_id"
            " WHERE c.id > ? AND c.kind IN ('void', 'reassign') AND e.station IS NULL AND e.person_id IS NOT NULL"
            " ORDER BY c.id",
            [int(after_correction_id)],
        ).fetchall()
        newest = max((r[0] for r in rows), default=int(after_correction_id))
        return [(r[1], bytes(r[2])) for r in rows if r[2]], newest

    @_guarded
    def fill_confusion_faces(self, faces: Iterable[tuple[str, bytes]]) -> int:
        """Give face-less confusions of copied events (by event UUID) the face their station sent."""
        filled = 0
        with self._tx():
            for event_uuid, crop in faces:
                filled += self._conn.execute(
                    "UPDATE confusions SET crop_jpeg = ? WHERE crop_jpeg IS NULL AND event_id ="
                    " (SELECT id FROM events WHERE uuid = ?)",
                    [bytes(crop), event_uuid],
                ).rowcount
        return filled
