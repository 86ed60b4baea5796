"""The store's registered models and the embeddings each makes of the samples. GalleryStore inherits these methods."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import numpy as np

from core.base.errors import (
    InvalidInputError,
    ModelNotFoundError,
    StoreError,
    StoreProblem,
)
from core.base.records import GalleryMatrix, ModelRecord
from core.gallery.row_values import aware
from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded

_VECTOR_DTYPE = np.dtype("<f4")  # little-endian float32 on disk, whatever the machine


def _json(value: dict) -> str:
    # numpy scalars and paths sneak into metrics; store them as plain values
    return json.dumps(value, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item") else str(o))


class ModelTables(StoreState):
    """Model records, the active model, and embeddings per (sample, model), read back as one matrix."""

    @staticmethod
    def _model(row: dict) -> ModelRecord:
        return ModelRecord(
            row["id"],
            row["name"],
            row["base"],
            row["parent_id"],
            row["embedding_size"],
            row["weights_path"],
            datetime.fromisoformat(row["created_at"]),
            json.loads(row["settings_json"]),
            json.loads(row["metrics_json"]),
        )

    @guarded
    def register_model(self, model: ModelRecord) -> ModelRecord:
        """Insert or update a model record."""
        if not model.id or int(model.embedding_size) <= 0:
            raise InvalidInputError("A model needs an id and a positive embedding size.")
        with self._tx():
            self._db.table("models").upsert(
                dict(
                    id=model.id,
                    name=model.name,
                    base=model.base,
                    parent_id=model.parent_id,
                    embedding_size=int(model.embedding_size),
                    weights_path=str(model.weights_path),
                    created_at=aware(model.created_at).isoformat(),
                    settings_json=_json(model.settings),
                    metrics_json=_json(model.metrics),
                ),
                pk="id",
            )
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
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES ('active_model', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [model_id],
            )

    @guarded
    def update_model_metrics(self, model_id: str, metrics: dict) -> ModelRecord:
        """Merge new metrics into the model's existing ones."""
        with self._tx():
            merged = {**self.get_model(model_id).metrics, **metrics}
            self._db.table("models").update(model_id, dict(metrics_json=_json(merged)))
            return self.get_model(model_id)

    # ---- embeddings ----

    def _vector_blob(self, vector: np.ndarray, model: ModelRecord) -> bytes:
        flat = np.asarray(vector, dtype=_VECTOR_DTYPE).reshape(-1)
        if flat.size != model.embedding_size:
            raise InvalidInputError(
                f"An embedding has {flat.size} values but model {model.id!r} makes {model.embedding_size}."
            )
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
                " ON CONFLICT (sample_id, model_id) DO UPDATE SET vector = excluded.vector",
                rows,
            )
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
            " WHERE e.sample_id = s.id AND e.model_id = ?) ORDER BY id",
            [model_id],
        )
        return [row[0] for row in rows]

    @guarded
    def gallery(self, model_id: str, include_inactive: bool = False) -> GalleryMatrix:
        """All of a model's embeddings as one matrix (active people only by default)."""
        model = self.get_model(model_id)
        active_only = "" if include_inactive else " AND p.active = 1"
        rows = self._conn.execute(
            "SELECT e.sample_id, s.person_id, e.vector, coalesce(s.derived, '') FROM embeddings e"
            " JOIN samples s ON s.id = e.sample_id JOIN people p ON p.id = s.person_id"
            f" WHERE e.model_id = ?{active_only} ORDER BY e.sample_id",
            [model_id],
        ).fetchall()
        buffer = bytearray().join(row[2] for row in rows)  # one writable copy
        if len(buffer) != len(rows) * model.embedding_size * _VECTOR_DTYPE.itemsize:
            raise StoreError(
                f"Embeddings of model {model_id!r} in {self.path} have the wrong size; re-embed them.",
                StoreProblem.DAMAGED,
            )
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
            derived=np.array([row[3] for row in rows], dtype=object),
        )
