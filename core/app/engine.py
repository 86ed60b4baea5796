"""The one facade the GUI and the CLI hold: settings, the store, the models and the matcher.

Heavy parts (MTCNN, the embedder) load lazily on first use. The matcher is rebuilt whenever the
gallery changes; switching the active model builds the new gallery completely before the swap,
so recognition never sees a half-re-embedded gallery.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from core.app import fusion_setup
from core.vision.detect import FaceDetector
from core.vision.embed import (Embedder, EmbedderInfo, OnnxEmbedder, choose_backend, choose_device, configure_threads,
                    describe_device, export_onnx, onnx_path_for)
from core.base.errors import Cancelled, ModelNotFoundError, StoreError
from core.gallery.enroll import Enroller, QualityGates
from core.gallery.match import GalleryMatcher
from core.gallery.parts import PipelineParts
from core.attendance.book import AttendanceBook, AttendanceRules
from core.live.recognize import FrameResult, RecognizeOptions, Recognizer, recognize_source
from core.live.sources import FrameSource
from core.vision.models import BUILTIN_MODELS, DEFAULT_MODEL, ModelRegistry
from core.base.records import ModelRecord
from core.base.settings import Settings
from core.gallery.store import GalleryStore, latest_backup, restore_backup

log = logging.getLogger(__name__)

CancelCheck = Callable[[], bool]

# Loaded networks shared by every Engine in the process, keyed by model, weights file and checksum.
_NETWORKS: dict[tuple[str, str, str], object] = {}
_NETWORKS_LOCK = threading.Lock()


@dataclass(frozen=True)
class RestoreRecord:
    backup: Path  # the backup now in use
    previous_kept_as: Path | None  # the replaced (perhaps damaged) database, renamed


@dataclass(frozen=True)
class ReembedProgress:
    done: int
    total: int
    model_id: str


class Engine:
    def __init__(self, settings: Settings | None = None, store: GalleryStore | None = None,
                 registry: ModelRegistry | None = None):
        self.settings = settings or Settings.load()
        self.store = store or GalleryStore(self.settings.database_path)
        # No network at run time: weights are fetched only by an explicit `rollcall models fetch`.
        self.registry = registry or ModelRegistry(allow_network=False)
        self.device = choose_device(self.settings.device)
        if self.device == "cpu":
            configure_threads(self.settings.torch_threads)
        self._lock = threading.RLock()
        self._detector: FaceDetector | None = None
        self._embedders: dict[str, Embedder | OnnxEmbedder] = {}
        self._matcher: GalleryMatcher | None = None
        self._active_model_id: str | None = None
        self.fusion = fusion_setup.FusionState()
        self.housekeeping()

    # ---- lifecycle ----

    @classmethod
    def open(cls, home: Path | None = None, settings: Settings | None = None) -> "Engine":
        settings = settings or Settings.load()
        if home is not None:
            settings.data_dir = str(home)
        return cls(settings)

    def close(self) -> None:
        self.store.close()

    # ---- recovery (works while the database cannot be opened) ----

    @staticmethod
    def newest_backup(settings: Settings) -> Path | None:
        """The newest backup in the settings' backups folder, or None."""
        try:
            return latest_backup(settings.backups_path)
        except OSError:
            return None

    @staticmethod
    def restore(settings: Settings, backup: Path | None = None) -> RestoreRecord:
        """Replace the database with `backup` (default: the newest); the replaced file is kept."""
        backup = backup or Engine.newest_backup(settings)
        if backup is None:
            raise StoreError(f"No backup found in {settings.backups_path}.")
        kept = restore_backup(backup, settings.database_path)
        return RestoreRecord(backup=Path(backup), previous_kept_as=kept)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def housekeeping(self) -> None:
        """Once a day: a backup of the database, and the retention purge. Never blocks the app."""
        from datetime import timedelta

        try:
            if self.settings.backups_kept > 0:
                self.store.auto_backup(self.settings.backups_path, keep=self.settings.backups_kept)
            if self.settings.retention_days > 0:
                cutoff = datetime.now(timezone.utc) - timedelta(days=self.settings.retention_days)
                self.store.purge(cutoff)
        except Exception as exc:  # noqa: BLE001 - housekeeping must never stop attendance
            log.warning("Daily backup/retention failed: %s", exc)

    @property
    def device_description(self) -> str:
        return describe_device(self.device)

    # ---- models ----

    def active_model_id(self) -> str:
        with self._lock:
            if self._active_model_id is None:
                stored = self.store.active_model_id()
                model_id = stored or self.settings.active_model or DEFAULT_MODEL
                self.ensure_model_record(model_id)
                if stored is None:
                    self.store.set_active_model(model_id)
                self._active_model_id = model_id
            return self._active_model_id

    def ensure_model_record(self, model_id: str) -> ModelRecord:
        """The store's record for a model; built-in models are registered on first use."""
        try:
            return self.store.get_model(model_id)
        except ModelNotFoundError:
            if model_id not in BUILTIN_MODELS:
                return fusion_setup.ensure_fused_record(self, model_id) or self.store.get_model(model_id)
        spec = BUILTIN_MODELS[model_id]
        record = ModelRecord(
            id=spec.name, name=spec.title, base=spec.name, parent_id=None,
            embedding_size=spec.embedding_size, weights_path=str(self.registry.cached_path(spec.name)),
            created_at=datetime.now(timezone.utc),
            settings={"preprocessing": spec.preprocessing, "crop_margin": spec.crop_margin}, metrics={},
        )
        return self.store.register_model(record)

    def model_info(self, model_id: str) -> tuple[ModelRecord, EmbedderInfo]:
        record = self.ensure_model_record(model_id)
        base = BUILTIN_MODELS.get(record.base) or BUILTIN_MODELS[DEFAULT_MODEL]
        info = EmbedderInfo(
            model_id=record.id, embedding_size=record.embedding_size,
            preprocessing=record.settings.get("preprocessing", base.preprocessing),
            crop_margin=int(record.settings.get("crop_margin", base.crop_margin)), device=self.device,
        )
        return record, info

    def load_network(self, model_id: str):
        """A fresh copy of the model's InceptionResnetV1 with checked weights (CPU, eval mode)."""
        record, info = self.model_info(fusion_setup.facenet_of(model_id))
        if record.id in BUILTIN_MODELS:
            path = self.registry.ensure_weights(record.id)
            return self.registry.load_into_network(path, info.embedding_size)
        return self.registry.load_into_network(Path(record.weights_path), info.embedding_size,
                                               trusted_sha256=record.settings.get("sha256"))

    def _shared_network(self, model_id: str):
        record, _ = self.model_info(model_id)
        key = (record.id, record.weights_path, str(record.settings.get("sha256", "")))
        with _NETWORKS_LOCK:
            if key not in _NETWORKS:
                _NETWORKS[key] = self.load_network(model_id)
            return _NETWORKS[key]

    def embedder(self, model_id: str | None = None) -> Embedder | OnnxEmbedder:
        """The inference embedder for a model (loaded once per process; never trained in place).

        On the CPU this is an ONNX Runtime session when onnxruntime is installed (faster at batch 1),
        else torch; settings.extra["embed_backend"] or ROLLCALL_EMBED_BACKEND ("torch") override it.
        """
        model_id = model_id or self.active_model_id()
        with self._lock:
            if model_id not in self._embedders:
                special = fusion_setup.build_embedder(self, model_id)  # SFace, or a fused model
                if special is not None:
                    self._embedders[model_id] = special
                    return special
                _, info = self.model_info(model_id)
                embedder = None
                if choose_backend(self.device, str(self.settings.extra.get("embed_backend", "auto"))) == "onnx":
                    try:
                        embedder = OnnxEmbedder(self._onnx_file(model_id), info)
                    except Exception as exc:  # noqa: BLE001 - any export/runtime failure falls back to torch
                        log.warning("ONNX Runtime embedder unavailable for %s (%s: %s); using torch.",
                                    model_id, type(exc).__name__, exc)
                self._embedders[model_id] = embedder or Embedder(self._shared_network(model_id), info)
            return self._embedders[model_id]

    def _onnx_file(self, model_id: str) -> Path:
        """The cached ONNX export of a model's checked weights, exported on first use."""
        import json
        import os

        from core.vision.models import verify_weights

        record, _ = self.model_info(model_id)
        if record.id in BUILTIN_MODELS:
            weights = self.registry.ensure_weights(record.id)  # checks the sidecar's checksum
            sha256 = json.loads(weights.with_name(weights.name + ".json").read_text())["sha256"]
        else:
            weights = Path(record.weights_path)
            sha256 = verify_weights(weights, record.settings.get("sha256"))
        beside = onnx_path_for(weights, sha256)
        in_cache = Path(self.registry.cache_dir) / beside.name  # bundled weights sit in a read-only folder
        for path in (beside, in_cache):
            if path.exists():
                return path
        path = beside if os.access(weights.parent, os.W_OK) else in_cache
        log.info("Exporting %s to ONNX at %s (once per weights file).", model_id, path)
        export_onnx(self.load_network(model_id), path)
        return path

    @property
    def detector(self) -> FaceDetector:
        with self._lock:
            if self._detector is None:
                _, info = self.model_info(self.active_model_id())
                self._detector = FaceDetector(device=self.device, margin=info.crop_margin)
            return self._detector

    # ---- pipeline stages ----

    @property
    def parts(self) -> PipelineParts:
        return PipelineParts(store=self.store, detector=lambda: self.detector, embedder=lambda: self.embedder(),
                             matcher=self.matcher, gallery_changed=self.gallery_changed)

    def enroller(self) -> Enroller:
        return Enroller(self.parts, QualityGates.from_settings(self.settings))

    def recognizer(self, options: RecognizeOptions | None = None, source_name: str = "") -> Recognizer:
        options = options or RecognizeOptions.from_settings(self.settings)
        book = AttendanceBook(self.store, AttendanceRules.from_settings(self.settings))
        return Recognizer(self.parts, options, book, source_name=source_name)

    def recognize(self, source: FrameSource, options: RecognizeOptions | None = None,
                  cancel: CancelCheck | None = None, threaded: bool = True) -> Iterator[FrameResult]:
        """Recognise a source until it ends or `cancel()` is true; one result per frame."""
        yield from recognize_source(self.recognizer(options, source.name), source, cancel, threaded)

    # ---- gallery ----

    def matcher(self) -> GalleryMatcher:
        """The cached matcher for the active model (rebuilt after gallery changes)."""
        with self._lock:
            if self._matcher is None:
                self._matcher = fusion_setup.build_matcher(self, self.active_model_id())
            return self._matcher

    def delete_person(self, person_id: int) -> dict[str, int]:
        """Erase a person everywhere: the database (overwritten, vacuumed) and every backup file."""
        from core.gallery.store import GalleryStore, latest_backup, restore_backup

        removed = self.store.delete_person(person_id)
        self.gallery_changed()
        for backup in sorted(self.settings.backups_path.glob("rollcall-*.db")):
            try:
                with GalleryStore(backup) as old:
                    if any(p.id == person_id for p in old.list_people(include_inactive=True)):
                        old.delete_person(person_id)
            except Exception as exc:  # noqa: BLE001 - report, but the live database is already clean
                log.warning("Could not erase person %s from backup %s: %s", person_id, backup, exc)
        return removed

    def gallery_changed(self) -> None:
        with self._lock:
            self._matcher = None

    def reembed(self, model_id: str, batch_size: int = 32, cancel: CancelCheck | None = None,
                force: bool = False) -> Iterator[ReembedProgress]:
        """Embed every stored crop that has no vector for `model_id` yet (all of them with force)."""
        from core.vision.images import decode_jpeg

        if fusion_setup.fused_members(model_id):  # each member under its own id
            yield from fusion_setup.reembed_members(self, model_id, batch_size, cancel, force)
            if model_id == self.active_model_id():
                self.gallery_changed()
            return
        embedder = self.embedder(model_id)
        if force:
            sample_ids = [s.id for p in self.store.list_people(include_inactive=True)
                          for s in self.store.list_samples(p.id)]
        else:
            sample_ids = self.store.samples_without_embedding(model_id)
        total = len(sample_ids)
        yield ReembedProgress(0, total, model_id)
        for start in range(0, total, batch_size):
            if cancel and cancel():
                raise Cancelled("Re-embedding was cancelled; the active model is unchanged.")
            chunk = sample_ids[start:start + batch_size]
            crops = [decode_jpeg(self.store.sample_crop(sid)) for sid in chunk]
            vectors = embedder.embed(crops)
            self.store.put_embeddings(model_id, list(zip(chunk, vectors)))
            yield ReembedProgress(min(start + batch_size, total), total, model_id)
        if model_id == self.active_model_id():
            self.gallery_changed()

    def activate_model(self, model_id: str, cancel: CancelCheck | None = None,
                       progress: Callable[[ReembedProgress], None] | None = None) -> None:
        """Re-embed the gallery with `model_id`, then switch to it in one step."""
        self.ensure_model_record(model_id)
        for step in self.reembed(model_id, cancel=cancel):
            if progress:
                progress(step)
        new_matcher = fusion_setup.build_matcher(self, model_id)
        self.store.set_active_model(model_id)
        with self._lock:
            self._active_model_id = model_id
            self._matcher = new_matcher
            self._detector = None  # crop margin may differ
        self.settings.active_model = model_id

    def apply_settings(self, settings: Settings) -> None:
        with self._lock:
            self.settings = settings
            self._matcher = None
