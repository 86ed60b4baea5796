"""The store's table of unknown faces: the best crop and embedding of each unknown track, kept for
review (grouped by core.gallery.unknowns, enrolled or dismissed through the engine). GalleryStore
inherits these methods.

A row belongs to its unknown event (deleted with it) and, once enrolled or assigned, to that
person (erased with them). Retention drops the rows with the events' snapshots (GalleryStore.purge).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np

from core.base.errors import InvalidInputError
from core.base.records import ReviewState, SiteUnknownFace, UnknownFace
from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded

_VECTOR_DTYPE = np.dtype("<f4")
_COLUMNS = "id, event_id, time, source, model_id, det_prob, face_px, sharpness, state, person_id, review_group, vector"


def migrate_unknown_faces(conn: sqlite3.Connection) -> None:
    """Schema migration: unknown faces keep their best crop and embedding for review."""
    conn.execute("""CREATE TABLE unknown_faces (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id INTEGER UNIQUE REFERENCES events(id) ON DELETE CASCADE,
        time TEXT NOT NULL, ts REAL NOT NULL, source TEXT NOT NULL,
        model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        vector BLOB NOT NULL, crop_jpeg BLOB NOT NULL,
        det_prob REAL NOT NULL, face_px INTEGER NOT NULL, sharpness REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'enrolled', 'assigned', 'dismissed')),
        person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
        review_group INTEGER, reviewed_at TEXT)""")
    conn.execute("CREATE INDEX unknown_faces_state_ts ON unknown_faces(state, ts)")


def migrate_unknown_faces_site(conn: sqlite3.Connection) -> None:
    """Schema migration: site mode sends each kept face to the server (again after a better look)."""
    conn.execute("ALTER TABLE unknown_faces ADD COLUMN site_sent INTEGER NOT NULL DEFAULT 0")


_guarded = guarded


def _face(row: tuple) -> UnknownFace:
    fid, event_id, moment, source, model_id, prob, px, sharp, state, person_id, group, blob = row
    vector = np.frombuffer(bytes(blob), dtype=_VECTOR_DTYPE).astype(np.float32) if blob is not None else None
    return UnknownFace(
        fid,
        event_id,
        datetime.fromisoformat(moment),
        source,
        model_id,
        float(prob),
        int(px),
        float(sharp),
        ReviewState(state),
        person_id,
        group,
        vector,
    )


class UnknownFaceTables(StoreState):
    """Methods GalleryStore gains for unknown faces (uses its _lock, _tx, _conn, _error, get_model, _vector_blob)."""

    @_guarded
    def add_unknown_face(
        self,
        event_id: int,
        model_id: str,
        vector: np.ndarray,
        crop_jpeg: bytes,
        det_prob: float,
        face_px: int,
        sharpness: float,
    ) -> UnknownFace:
        """Keep an unknown event's face: its crop (JPEG), its embedding by `model_id` and its quality."""
        if not crop_jpeg:
            raise InvalidInputError("An unknown face needs the crop's JPEG bytes.")
        with self._tx():
            event = self._conn.execute("SELECT time, source, kind FROM events WHERE id = ?", [int(event_id)]).fetchone()
            if event is None or event[2] != "unknown":
                raise InvalidInputError(f"No unknown-face event with id {event_id}.")
            blob = self._vector_blob(vector, self.get_model(model_id))
            moment = datetime.fromisoformat(event[0])
            face_id = self._conn.execute(
                "INSERT INTO unknown_faces (event_id, time, ts, source, model_id, vector, crop_jpeg, det_prob, face_px,"
                " sharpness) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    int(event_id),
                    event[0],
                    moment.timestamp(),
                    event[1],
                    model_id,
                    blob,
                    bytes(crop_jpeg),
                    float(det_prob),
                    int(face_px),
                    float(sharpness),
                ],
            ).lastrowid
            return self.unknown_faces_by_id([face_id])[0]

    @_guarded
    def update_unknown_face(
        self,
        face_id: int,
        model_id: str,
        vector: np.ndarray,
        crop_jpeg: bytes,
        det_prob: float,
        face_px: int,
        sharpness: float,
    ) -> bool:
        """A better face of the same track replaces the kept one (only while it is open)."""
        with self._tx():
            blob = self._vector_blob(vector, self.get_model(model_id))
            return (
                self._conn.execute(
                    "UPDATE unknown_faces SET model_id = ?, vector = ?, crop_jpeg = ?, det_prob = ?, face_px = ?,"
                    " sharpness = ?, site_sent = 0 WHERE id = ? AND state = 'open'",
                    [model_id, blob, bytes(crop_jpeg), float(det_prob), int(face_px), float(sharpness), int(face_id)],
                ).rowcount
                > 0
            )

    @_guarded
    def unknown_faces(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        states: Iterable[ReviewState] = (ReviewState.OPEN,),
    ) -> list[UnknownFace]:
        """Unknown faces seen from `start` (inclusive) to `end` (exclusive), oldest first, with their vectors."""
        clauses: list[str] = []
        params: list[float | str] = []
        if start is not None:
            clauses.append("ts >= ?")
            params.append(_ts(start))
        if end is not None:
            clauses.append("ts < ?")
            params.append(_ts(end))
        wanted = [ReviewState(s).value for s in states]
        clauses.append(f"state IN ({', '.join('?' * len(wanted)) or 'NULL'})")
        params += wanted
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM unknown_faces WHERE {' AND '.join(clauses)} ORDER BY ts, id", params
        ).fetchall()
        return [_face(r) for r in rows]

    @_guarded
    def unknown_faces_by_id(self, face_ids: Iterable[int]) -> list[UnknownFace]:
        ids = [int(i) for i in face_ids]
        rows = (
            self._conn.execute(
                f"SELECT {_COLUMNS} FROM unknown_faces WHERE id IN ({', '.join('?' * len(ids))}) ORDER BY ts, id", ids
            ).fetchall()
            if ids
            else []
        )
        return [_face(r) for r in rows]

    @_guarded
    def unknown_face_crop(self, face_id: int) -> bytes:
        crop = self._conn.execute("SELECT crop_jpeg FROM unknown_faces WHERE id = ?", [int(face_id)]).fetchone()
        if crop is None:
            raise InvalidInputError(f"No unknown face with id {face_id}.")
        return bytes(crop[0])

    @_guarded
    def set_unknown_review(
        self, face_ids: Iterable[int], state: ReviewState, person_id: int | None = None, review_group: int | None = None
    ) -> int:
        """Mark open faces as reviewed; returns how many changed (faces reviewed meanwhile are left as they are)."""
        ids = [int(i) for i in face_ids]
        if not ids:
            return 0
        with self._tx():
            return self._conn.execute(
                f"UPDATE unknown_faces SET state = ?, person_id = ?, review_group = ?, reviewed_at = ?"
                f" WHERE state = 'open' AND id IN ({', '.join('?' * len(ids))})",
                [ReviewState(state).value, person_id, review_group, datetime.now(UTC).isoformat(), *ids],
            ).rowcount

    @_guarded
    def reviewed_unknown_faces(self, review_group: int, state: ReviewState) -> list[UnknownFace]:
        """The faces reviewed together as `review_group` that are still in `state`, oldest first."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM unknown_faces WHERE review_group = ? AND state = ? ORDER BY ts, id",
            [int(review_group), ReviewState(state).value],
        ).fetchall()
        return [_face(r) for r in rows]

    @_guarded
    def reopen_unknown_faces(self, face_ids: Iterable[int], state: ReviewState) -> int:
        """Faces reviewed as `state` go back to review (open, nobody's); returns how many did."""
        ids = [int(i) for i in face_ids]
        if not ids:
            return 0
        with self._tx():
            return self._conn.execute(
                f"UPDATE unknown_faces SET state = 'open', person_id = NULL, review_group = NULL, reviewed_at = NULL"
                f" WHERE state = ? AND id IN ({', '.join('?' * len(ids))})",
                [ReviewState(state).value, *ids],
            ).rowcount

    @_guarded
    def unknown_review_details(self, action: str, review_group: int) -> dict:
        """The details of the newest audit entry `action` for the unknown group (empty when there is none)."""
        row = self._conn.execute(
            "SELECT details_json FROM audit_log WHERE action = ? AND json_extract(details_json, '$.unknown_group') = ?"
            " ORDER BY id DESC LIMIT 1",
            [action, int(review_group)],
        ).fetchone()
        return json.loads(row[0]) if row else {}

    # ---- site mode: faces travel with their events, so a stranger seen at two doors is one group ----

    @_guarded
    def unsent_unknown_faces(self, up_to_seq: int, limit: int) -> list[SiteUnknownFace]:
        """This station's kept faces whose event is on the server (seq <= up_to_seq) and not yet sent."""
        rows = self._conn.execute(
            "SELECT f.id, e.uuid, f.model_id, f.vector, f.crop_jpeg, f.det_prob, f.face_px, f.sharpness"
            " FROM unknown_faces f JOIN events e ON e.id = f.event_id"
            " WHERE f.site_sent = 0 AND e.station IS NULL AND e.seq <= ? ORDER BY f.id LIMIT ?",
            [int(up_to_seq), int(limit)],
        ).fetchall()
        return [
            SiteUnknownFace(r[0], r[1], r[2], bytes(r[3]), bytes(r[4]), float(r[5]), int(r[6]), float(r[7]))
            for r in rows
        ]

    @_guarded
    def mark_unknown_faces_sent(self, face_ids: Iterable[int]) -> None:
        ids = [int(i) for i in face_ids]
        if ids:
            with self._tx():
                self._conn.execute(
                    f"UPDATE unknown_faces SET site_sent = 1 WHERE id IN ({', '.join('?' * len(ids))})", ids
                )

    @_guarded
    def mirror_unknown_faces(self, faces: Iterable[SiteUnknownFace]) -> int:
        """Other stations' kept faces, attached to their copied events; a reviewed face is left as it is.
        Faces of events or models this station does not have are skipped. Returns how many were written."""
        written = 0
        with self._tx():
            for face in faces:
                event = self._conn.execute(
                    "SELECT id, time, ts, source FROM events WHERE uuid = ? AND kind = 'unknown'"
                    " AND station IS NOT NULL",
                    [face.event_uuid],
                ).fetchone()
                if (
                    event is None
                    or self._conn.execute("SELECT 1 FROM models WHERE id = ?", [face.model_id]).fetchone() is None
                ):
                    continue
                written += self._conn.execute(
                    "INSERT INTO unknown_faces (event_id, time, ts, source, model_id, vector, crop_jpeg, det_prob,"
                    " face_px, sharpness, site_sent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
                    " ON CONFLICT (event_id) DO UPDATE SET model_id = excluded.model_id, vector = excluded.vector,"
                    " crop_jpeg = excluded.crop_jpeg, det_prob = excluded.det_prob, face_px = excluded.face_px,"
                    " sharpness = excluded.sharpness WHERE unknown_faces.state = 'open'",
                    [
                        event[0],
                        event[1],
                        event[2],
                        event[3],
                        face.model_id,
                        face.vector,
                        face.crop_jpeg,
                        face.det_prob,
                        face.face_px,
                        face.sharpness,
                    ],
                ).rowcount
        return written

    def _purge_unknown_faces(self, cutoff_ts: float) -> int:
        """Retention (inside GalleryStore.purge's transaction): crops and embeddings of strangers seen before the
        cutoff go, whether or not their event is still waiting for the site server (they never go there)."""
        return self._conn.execute("DELETE FROM unknown_faces WHERE ts < ?", [cutoff_ts]).rowcount


def _ts(moment: datetime) -> float:
    return (moment if moment.tzinfo is not None else moment.astimezone()).timestamp()
