"""The one facade the GUI and the CLI hold: settings, the store, the models and the matcher.

Heavy parts (MTCNN, the embedder) load lazily on first use. The matcher is rebuilt whenever the
gallery changes; switching the active model builds the new gallery completely before the swap,
so recognition never sees a half-re-embedded gallery.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Generator, Iterable, Iterator

from core.base.cancel import CancelCheck
from core.app import fusion_setup
from core.vision.detect import FaceDetector
from core.vision.embed import Embedder, EmbedderInfo, OnnxEmbedder
from core.vision.onnx_files import export_onnx, onnx_path_for
from core.vision.runtime import choose_backend, choose_device, configure_threads, describe_device
from core.base.errors import (Cancelled, InvalidInputError, ModelNotFoundError, RollcallError, StoreError, StoreProblem,
                               WeightsError)
from core.gallery.enroll import EnrollReport, Enroller, FaceCandidate, ImportProgress
from core.gallery.calibration import CalibrationReport, ThresholdEstimate, calibration_report
from core.gallery.match import GalleryMatcher
from core.gallery.parts import PipelineParts
from core.attendance.book import AttendanceBook
from core.attendance.reports import export_csv, range_report
from core.live.capture import CaptureProgress, capture_samples
from core.live.recognize import FrameResult, Recognizer, decoded_frames, recognize_source
from core.live.sources import FrameSource, open_source
from core.vision.models import BUILTIN_MODELS, DEFAULT_MODEL, ModelRegistry
from core.vision.sface import SFACE_MODEL
from core.vision.tuned_onnx import TUNED_FOLDER
from core.base.records import (DayRow, FileProblem, GalleryStats, HousekeepingStatus, ModelRecord, Person,
                                PersonDeleted, PersonOverview, Sample)
from core.base.settings import RecognitionSettings, Settings
from core.gallery.store import GalleryStore, erase_person_from_backups, latest_backup, restore_backup
from core.site.connection import SiteError
from core.site.outbox import acked_seq
from core.site.packages import ModelFiles
from core.site.reports import check_range, export_site_csv, site_range_report
from core.site.service import BackgroundSync, Site, SiteRole, SiteStatus, SyncProgress, SyncReport
from core.app.changes import Changes, ChangeKind, Outcome, Subscriber
from core.app.attendance_ops import AttendanceOperations
from core.app.confusion_ops import ConfusionOperations
from core.app.review_ops import ReviewOperations
from core.base.timekeeping import AuditAction

if TYPE_CHECKING:
    import numpy as np

PEOPLE, SAMPLES, EVENTS, MODELS, SETTINGS, SITE = (ChangeKind.PEOPLE, ChangeKind.SAMPLES, ChangeKind.EVENTS,
                                                   ChangeKind.MODELS, ChangeKind.SETTINGS, ChangeKind.SITE)
IMAGE_FOLDER_FPS = 5.0  # an image folder shown live is a slideshow at this rate

log = logging.getLogger(__name__)


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


class Engine(AttendanceOperations, ReviewOperations, ConfusionOperations):
    def __init__(self, settings: Settings | None = None, store: GalleryStore | None = None,
                 registry: ModelRegistry | None = None):
        self.settings = settings or Settings.load()
        self.store = store or GalleryStore(self.settings.database_path)
        # No network at run time: weights are fetched only by an explicit `rollcall models fetch`.
        self.registry = registry or ModelRegistry(allow_network=False)
        self.device = choose_device(self.settings.compute.device)
        if self.device == "cpu":
            configure_threads(self.settings.compute.torch_threads)
        self._lock = threading.RLock()
        self._detector: FaceDetector | None = None
        self._embedders: dict[str, Embedder | OnnxEmbedder] = {}
        self._matcher: GalleryMatcher | None = None
        self._active_model_id: str | None = None
        self._subscribers: list[Subscriber] = []
        self.embed_fallback_reason: str | None = None  # why ONNX Runtime was planned but torch runs
        self.fusion = fusion_setup.FusionState()
        data_dir = Path(self.store.path).parent if self.store.path != ":memory:" else self.settings.data_path
        self.site = Site(self.store, data_dir, self.settings.site)
        self.site.retention = self._retention()
        self.site.model_files = ModelFiles(self._shared_model_ids, self._model_onnx_here, self.export_model_file,
                                           self._install_site_model)
        self._background_sync: BackgroundSync | None = None
        self.housekeeping()

    # ---- lifecycle ----

    def close(self) -> None:
        self.stop_site_sync()
        self.site.close()
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
            raise StoreError(f"No backup found in {settings.backups_path}.", StoreProblem.NO_BACKUP)
        kept = restore_backup(backup, settings.database_path)
        return RestoreRecord(backup=Path(backup), previous_kept_as=kept)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _retention(self):
        from datetime import timedelta

        days = self.settings.storage.retention_days
        return timedelta(days=days) if days > 0 else None

    def housekeeping(self) -> HousekeepingStatus:
        """Once a day: a backup of the database, the retention purge and the owner-only check. Never blocks
        the app: what failed is in the status (kept as `housekeeping_status` for the GUI and CLI to show)."""
        from datetime import timedelta

        backup_made = backup_error = purge_error = None
        purged = 0
        try:
            storage = self.settings.storage
            if storage.backups_kept > 0:
                backup_made = self.store.auto_backup(self.settings.backups_path, keep=storage.backups_kept)
        except Exception as exc:  # noqa: BLE001 - housekeeping must never stop attendance
            backup_error = str(exc)
        try:
            if self.settings.storage.retention_days > 0:
                cutoff = datetime.now(timezone.utc) - timedelta(days=self.settings.storage.retention_days)
                unsent_after = acked_seq(self.store) if self.site.joined else None  # never purge the outbox
                purged = self.store.purge(cutoff, keep_seq_above=unsent_after)
        except Exception as exc:  # noqa: BLE001
            purge_error = str(exc)
        self.housekeeping_status = HousekeepingStatus(backup_made, backup_error, purged, purge_error,
                                                      tuple(self.store.not_owner_only()))
        for problem in self.housekeeping_status.problems():
            log.warning("Housekeeping: %s", problem)
        return self.housekeeping_status

    @property
    def device_description(self) -> str:
        return describe_device(self.device)

    # ---- models ----

    def active_model_id(self) -> str:
        with self._lock:
            if self._active_model_id is None:
                stored = self.store.active_model_id()
                model_id = stored or self.settings.compute.active_model or DEFAULT_MODEL
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

    def add_model(self, weights: Path, name: str, embedding_size: int, preprocessing: str) -> ModelRecord:
        """Register a user's weights file as a new model version (checked to load; a used name is refused)."""
        self.store.refuse_taken_model_id(name)  # before the file is copied
        record = self.store.add_model(self.registry.import_weights(weights, name, embedding_size, preprocessing))
        self.export_onnx(record.id)  # the file CPU inference runs from
        return record

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

        On the CPU this is an ONNX Runtime session when onnxruntime is installed (faster at batch 1, and
        torch is never imported), else torch; settings.compute.embed_backend ("torch") overrides it.
        A corrupt ONNX file is a WeightsError; other ONNX Runtime failures fall back to torch.
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
                if self.planned_embed_backend() == "onnx":
                    try:
                        embedder = OnnxEmbedder(self._onnx_file(model_id), info, tuned_dir=self.tuned_dir)
                    except WeightsError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - any export/runtime failure falls back to torch
                        self.embed_fallback_reason = f"{type(exc).__name__}: {exc}"
                        log.warning("ONNX Runtime embedder unavailable for %s (%s); using torch.",
                                    model_id, self.embed_fallback_reason)
                self._embedders[model_id] = embedder or Embedder(self._shared_network(model_id), info)
            return self._embedders[model_id]

    @property
    def tuned_dir(self) -> Path | None:
        """Where ONNX Runtime's CPU-tuned copies of the networks go (None: load the files untuned)."""
        return self.registry.cache_dir / TUNED_FOLDER if self.settings.compute.tune_for_cpu else None

    def planned_embed_backend(self) -> str:
        """"onnx" or "torch": the embedder backend this device and the settings call for."""
        return choose_backend(self.device, self.settings.compute.embed_backend)

    @property
    def embed_backend(self) -> str:
        """The backend the active model's FaceNet really runs on (a fused model's SFace always runs in ONNX
        Runtime); after a fallback to torch, `embed_fallback_reason` says why."""
        return self.embedder(fusion_setup.facenet_of(self.active_model_id())).backend

    def _onnx_file(self, model_id: str) -> Path:
        """The checked ONNX export of a model's weights (made by `rollcall models export-onnx`).

        Only the ONNX file is hashed here, not the weights it came from. When it is missing it is
        exported now if torch is installed (with a warning naming the command), else WeightsError.
        """
        import os

        from core.vision.onnx_files import EXPORT_COMMAND, torch_available, verify_onnx

        beside, in_cache = self._onnx_candidates(model_id)
        for path in (beside, in_cache):
            if path.exists():
                verify_onnx(path)
                return path
        if not torch_available():
            raise WeightsError(f"The ONNX file of {model_id} ({beside.name}) is not in {beside.parent}. "
                               f"Run `{EXPORT_COMMAND}` once (it needs torch, as in the full edition).")
        path = beside if os.access(beside.parent, os.W_OK) else in_cache
        log.warning("The ONNX file of %s is missing; exporting it now with torch. Run `%s` at setup to "
                    "make it once.", model_id, EXPORT_COMMAND)
        return self.export_onnx(model_id, path)

    def _onnx_candidates(self, model_id: str) -> tuple[Path, Path]:
        """Where a model's ONNX export belongs: beside its weights, or in the models folder when the
        weights sit in a read-only (bundled) folder. Reads the weights' recorded checksum, not the file."""
        import json

        from core.vision.models import _sidecar

        record, _ = self.model_info(model_id)
        if record.id in BUILTIN_MODELS:
            weights = (self.registry.find_cached(record.id) or self.registry.find_recorded(record.id)
                       or self.registry.cached_path(record.id))
            try:
                sha256 = json.loads(_sidecar(weights).read_text())["sha256"]
            except (OSError, ValueError, KeyError):
                weights = self.registry.ensure_weights(record.id)  # missing or unrecorded: the clear error
                sha256 = json.loads(_sidecar(weights).read_text())["sha256"]
        else:
            weights = Path(record.weights_path)
            sha256 = record.settings.get("sha256") or self.registry.recorded_sha256(weights)
        beside = onnx_path_for(weights, sha256)
        return beside, Path(self.registry.cache_dir) / beside.name

    def export_model_file(self, model_id: str, path: Path | str) -> Path:
        """One file (`.rollcall-model`) holding a trained model's record and ONNX export, for the kiosk edition."""
        from core.vision.model_package import write_package

        record = self.ensure_model_record(model_id)
        if record.id in BUILTIN_MODELS or "+" in record.id:
            raise InvalidInputError(f"{model_id} ships with every edition; only trained or imported models are "
                                    "exported as a file.")
        return write_package(record, self._onnx_file(model_id), path)

    def import_model_file(self, path: Path | str) -> Outcome[ModelRecord]:
        """Install a `.rollcall-model` file: its ONNX files go to the models folder, its record to the gallery
        (activate it afterwards). On a site's kiosk the record must already have come from the server (the
        admin station imported it); then only the files are installed here."""
        from dataclasses import replace as with_fields

        from core.vision.model_package import install_files, read_record

        record, _ = read_record(path)
        cache_dir = Path(self.registry.cache_dir)
        record = with_fields(record, weights_path=str(cache_dir / f"{record.id}.pt"))
        try:
            known = self.store.get_model(record.id)
        except ModelNotFoundError:
            known = None
        if known is not None and known.settings.get("sha256") != record.settings.get("sha256"):
            raise InvalidInputError(f"A different model named {record.id} is already registered here.")
        if known is None:
            self.site.require_gallery_edit()
        install_files(path, cache_dir)
        if known is not None:
            if not known.weights_path:  # a kiosk's record from the site server: its files are now here
                known = self.store.register_model(with_fields(known, weights_path=record.weights_path))
            self.publish_model(known.id)  # an admin station sends the files to every kiosk
            return self._done(known, Changes.of(MODELS, model_ids=[known.id]))
        registered = self.register_model(record)
        self.publish_model(record.id)
        return registered

    def publish_model(self, model_id: str) -> bool:
        """On a site's admin station, send a trained or imported model's files to the server (kiosks install
        them at their next sync); elsewhere, or for a built-in model, nothing. True when sent."""
        return self.site.publish_model(fusion_setup.facenet_of(model_id))

    def _shared_model_ids(self) -> list[str]:
        """The models whose files travel between stations: trained or imported ones, not built-in or fused."""
        return [m.id for m in self.store.list_models()
                if m.id not in BUILTIN_MODELS and "+" not in m.id and not fusion_setup.fused_members(m.id)]

    def _model_onnx_here(self, model_id: str) -> Path | None:
        """A trained model's ONNX file when this station has it (unchecked: loading checks it)."""
        try:
            candidates = self._onnx_candidates(model_id)
        except (RollcallError, ValueError, OSError):  # a kiosk's record without files has no weights path
            return None
        return next((path for path in candidates if path.exists()), None)

    def _install_site_model(self, model_id: str, package: Path) -> Path:
        """A kiosk installs a package downloaded from the site server for a record it already has."""
        from dataclasses import replace as with_fields

        from core.vision.model_package import install_files, read_record

        record, _ = read_record(package)
        known = self.store.get_model(model_id)
        if record.id != model_id or known.settings.get("sha256") != record.settings.get("sha256"):
            raise WeightsError(f"The package sent for {model_id} holds {record.id}, another model.")
        onnx = install_files(package, Path(self.registry.cache_dir))
        if not known.weights_path:
            self.store.register_model(with_fields(known, weights_path=str(Path(self.registry.cache_dir)
                                                                          / f"{model_id}.pt")))
        return onnx

    def _model_can_run(self, model_id: str) -> bool:
        """Whether this station has what a model runs from (a trained one's files may still be on the way)."""
        member = fusion_setup.facenet_of(model_id)
        if member not in self._shared_model_ids():
            return True  # built-in: as before, its files are this edition's
        record = self.store.get_model(member)
        return self._model_onnx_here(member) is not None or (
            bool(record.weights_path) and Path(record.weights_path).is_file())

    def export_onnx(self, model_id: str, path: Path | None = None) -> Path:
        """Export a FaceNet version's checked weights to ONNX (needs torch); returns the file."""
        from core.vision.models import verify_weights

        record, _ = self.model_info(model_id)
        beside, _ = self._onnx_candidates(model_id)
        path = Path(path or beside)
        weights = self.load_network(model_id)  # checks the weights' checksum
        source = self.registry.find_cached(record.id) if record.id in BUILTIN_MODELS else Path(record.weights_path)
        log.info("Exporting %s to ONNX at %s.", model_id, path)
        return export_onnx(weights, path, {"model": record.id, "source": str(source),
                                           "source_sha256": verify_weights(source, record.settings.get("sha256"))})

    def export_all_onnx(self, force: bool = False) -> list[Path]:
        """`rollcall models export-onnx`: MTCNN's three networks and every FaceNet version with weights,
        skipping files that exist and pass their checksum (all of them again with force). Needs torch."""
        from core.vision.onnx_files import export_mtcnn, verify_onnx

        made = list(export_mtcnn(self.registry.cache_dir, force=force).values())
        for model_id in self.onnx_models():
            beside, in_cache = self._onnx_candidates(model_id)
            existing = next((p for p in (beside, in_cache) if p.exists()), None)
            if existing is not None and not force:
                try:
                    verify_onnx(existing)
                    made.append(existing)
                    continue
                except WeightsError:
                    log.warning("%s failed its checksum; exporting it again.", existing)
            import os

            made.append(self.export_onnx(model_id, beside if os.access(beside.parent, os.W_OK) else in_cache))
        sface = self.registry.find_cached(SFACE_MODEL)
        self._tune(made + ([sface] if sface is not None else []))
        return made

    def _tune(self, onnx_files: list[Path]) -> None:
        """Make the networks' CPU-tuned copies now (at setup), so the first start does not."""
        if self.tuned_dir is None:
            return
        from core.vision.tuned_onnx import tuned_copy

        for path in onnx_files:
            try:
                tuned_copy(path, self.tuned_dir)
            except Exception as exc:  # noqa: BLE001 - the first start makes it, or loads the file untuned
                log.warning("No tuned copy of %s yet (%s: %s).", Path(path).name, type(exc).__name__, exc)

    def onnx_models(self) -> list[str]:
        """The FaceNet versions whose ONNX export `rollcall models export-onnx` makes: every registered one
        whose weights are present (the built-in one once fetched)."""
        ids = []
        for record in self.store.list_models():
            if record.id in BUILTIN_MODELS:
                spec = BUILTIN_MODELS[record.id]
                if spec.weights_suffix == ".pt" and not spec.members and self.registry.is_available(record.id):
                    ids.append(record.id)
            elif not fusion_setup.fused_members(record.id) and Path(record.weights_path).exists():
                ids.append(record.id)
        if DEFAULT_MODEL not in ids and self.registry.is_available(DEFAULT_MODEL):
            ids.insert(0, DEFAULT_MODEL)
        return ids

    @property
    def detector(self) -> FaceDetector:
        with self._lock:
            if self._detector is None:
                _, info = self.model_info(self.active_model_id())
                self._detector = FaceDetector(device=self.device, margin=info.crop_margin,
                                              backend=self.settings.compute.detect_backend,
                                              models_dir=self.registry.cache_dir, tuned_dir=self.tuned_dir)
            return self._detector

    # ---- pipeline stages ----

    @property
    def parts(self) -> PipelineParts:
        return PipelineParts(store=self.store, detector=lambda: self.detector, embedder=lambda: self.embedder(),
                             matcher=self.matcher, gallery_changed=self.gallery_changed)

    def enroller(self) -> Enroller:
        return Enroller(self.parts, self.settings.enrollment)

    def recognizer(self, options: RecognitionSettings | None = None, source_name: str = "") -> Recognizer:
        """A recognizer with the settings' recognition (or `options`), tracking, liveness and attendance sections."""
        settings = self.settings
        return Recognizer(self.parts, options or settings.recognition, AttendanceBook(self.store, settings.attendance),
                          source_name=source_name, tracking=settings.tracking, liveness=settings.liveness,
                          enrollment=settings.enrollment)

    def open_source(self, spec: str | int, stop_event: threading.Event | None = None,
                    on_status: Callable[[str], None] | None = None, realtime: bool = False) -> FrameSource:
        """A camera, video file, URL or image folder, at the camera size from the settings.

        realtime: a video file plays at its own rate and an image folder at IMAGE_FOLDER_FPS (live views);
        otherwise frames come as fast as they are used, an image folder's one second apart.
        """
        paced = {"realtime": True, "fps": IMAGE_FOLDER_FPS} if realtime else {}
        return open_source(spec, width=self.settings.camera.width_px, height=self.settings.camera.height_px,
                           stop_event=stop_event, on_status=on_status, **paced)

    def warm_up(self) -> None:
        """Load the detector, the embedder and the matcher now, not on the first face."""
        _ = self.detector, self.embedder(), self.matcher()

    def recognize(self, source: FrameSource, options: RecognitionSettings | None = None,
                  cancel: CancelCheck | None = None, threaded: bool = True,
                  paced: bool = False) -> Iterator[FrameResult]:
        """Recognise a source until it ends or `cancel()` is true; one result per frame.

        Frames that wrote attendance events are published as EVENTS changes. paced: see decoded_frames.
        """
        for result in recognize_source(self.recognizer(options, source.name), source, cancel, threaded, paced):
            if result.events:
                self._publish(Changes.of(EVENTS, person_ids=[e.person_id for e in result.events
                                                             if e.person_id is not None]))
            yield result

    def capture(self, source: FrameSource, wanted: int, cancel: CancelCheck | None = None,
                paced: bool = True) -> Iterator[CaptureProgress]:
        """Face samples for enrollment from a live source, with guidance; save them with enroll_candidates."""
        enroller = self.enroller()
        detector = self.detector
        frames = (frame for frame, _ in decoded_frames(source, paced=paced))
        try:
            yield from capture_samples(enroller, detector, frames, wanted, source.name, cancel,
                                       self.settings.enrollment.capture_gap_s)
        finally:
            frames.close()

    # ---- change notification ----

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber(changes)` after every operation that changed something (from the thread that
        ran it); returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)
        return unsubscribe

    def _publish(self, changes: Changes) -> Changes:
        """Drop what the change makes stale, then tell every subscriber once."""
        if not changes:
            return changes
        if changes.touches(PEOPLE, SAMPLES):  # activate_model swaps in its own new matcher
            self.gallery_changed()
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(changes)
            except Exception:  # noqa: BLE001 - the change is committed; a broken listener must not undo that
                log.exception("A change subscriber failed")
        return changes

    def _done(self, value, changes: Changes) -> Outcome:
        return Outcome(value, self._publish(changes))

    def _site_done(self, value, changes: Changes) -> Outcome:
        """An admin station sends the people it changed to the site server, then tells subscribers."""
        if changes.person_ids and self.site.role is SiteRole.ADMIN:
            present = {p.id for p in self.store.list_people(include_inactive=True)}
            self.site.push_people(changes.person_ids & present)
        return self._done(value, changes)

    @staticmethod
    def _enroll_changes(report: EnrollReport) -> Changes:
        kinds = [SAMPLES] if report.samples_added else []
        if report.people_added:
            kinds.append(PEOPLE)
        return Changes.of(*kinds, person_ids=report.person_ids.values(), sample_ids=report.sample_ids)

    # ---- queries ----

    def people(self, search: str | None = None, include_inactive: bool = False) -> list[PersonOverview]:
        """People with their sample counts (one query)."""
        return self.store.people_overview(search, include_inactive)

    def person(self, person_id: int) -> Person:
        return self.store.get_person(person_id)

    def find_person(self, name_or_id: str) -> Person:
        return self.store.find_person(name_or_id)

    def samples(self, person_id: int) -> list[Sample]:
        return self.store.list_samples(person_id)

    def sample_crop(self, sample_id: int) -> bytes:
        return self.store.sample_crop(sample_id)

    def models(self) -> list[ModelRecord]:
        return self.store.list_models()

    def model(self, model_id: str) -> ModelRecord:
        return self.store.get_model(model_id)

    def stats(self) -> GalleryStats:
        return GalleryStats(**self.store.stats())

    @property
    def reports_from_server(self) -> bool:
        """Reports read every station's events from the site server (an admin station): a network call,
        so callers on a GUI thread run them in a worker."""
        return self.site.role is SiteRole.ADMIN

    def day_report(self, day: date) -> list[DayRow]:
        return self.range_report(day, day)

    def range_report(self, start: date, end: date) -> list[DayRow]:
        """On a site's admin station: the whole site (SiteDayRow, with the stations)."""
        if self.site.role is SiteRole.ADMIN:
            check_range(start, end)
            return site_range_report(self.site.events(start, end), self.store.person_ids_by_uuid())
        return range_report(self.store, start, end)

    def export_csv(self, path: Path | str, start: date, end: date) -> int:
        """Write the events from `start` to `end` as CSV; returns the number of rows.

        On a site's admin station every station's events, with a `kiosk` column."""
        if self.site.role is SiteRole.ADMIN:
            check_range(start, end)
            return export_site_csv(self.site.events(start, end), self.store.person_ids_by_uuid(), path)
        return export_csv(self.store, path, start, end)

    # ---- enrollment ----

    def enroll_files(self, name: str, paths: Iterable[Path], external_id: str | None = None,
                     add_to_existing: bool = False, allow_duplicate: bool = False,
                     cancel: CancelCheck | None = None) -> Outcome[EnrollReport]:
        """Enroll one person from photo files (see Enroller.enroll_files)."""
        self.site.require_gallery_edit()
        report = self.enroller().enroll_files(name, [Path(p) for p in paths], external_id, add_to_existing,
                                              allow_duplicate, cancel)
        return self._site_done(report, self._enroll_changes(report))

    def enroll_candidates(self, name: str, candidates: list[FaceCandidate], external_id: str | None = None,
                          person_id: int | None = None, allow_duplicate: bool = False) -> Outcome[EnrollReport]:
        """Save captured faces as a new person, or as more samples of `person_id`."""
        self.site.require_gallery_edit()
        report = self.enroller().save(name, candidates, external_id, person_id, allow_duplicate)
        return self._site_done(report, self._enroll_changes(report))

    def add_photos(self, person_id: int, paths: Iterable[Path],
                   cancel: CancelCheck | None = None) -> Outcome[EnrollReport]:
        """Add photo files to one person by id."""
        self.site.require_gallery_edit()
        report = self.enroller().add_files(person_id, [Path(p) for p in paths], cancel)
        return self._site_done(report, self._enroll_changes(report))

    def import_folder(self, root: Path, cancel: CancelCheck | None = None
                      ) -> Generator[ImportProgress, None, Outcome[EnrollReport]]:
        """Import a folder with one sub-folder per person, yielding progress after each photo.

        People saved before a cancel or an error are kept, and published as changes.
        """
        self.site.require_gallery_edit()
        report = EnrollReport()
        try:
            for step in self.enroller().import_tree(Path(root), cancel):
                report = step.report
                yield step
        finally:
            changes = self._site_done(None, self._enroll_changes(report)).changes
        return Outcome(report, changes)

    # ---- people ----

    def rename_person(self, person_id: int, new_name: str, allow_duplicate: bool = False) -> Outcome[Person]:
        self.site.require_gallery_edit()
        with self.store.transaction():
            before = self.store.get_person(person_id)  # the log keeps no names (erasure): see AuditEntry
            person = self.store.rename_person(person_id, new_name, allow_duplicate=allow_duplicate)
            self._audit_person(AuditAction.PERSON_RENAME, before)
        return self._site_done(person, Changes.of(PEOPLE, person_ids=[person.id]))

    def set_external_id(self, person_id: int, external_id: str | None) -> Outcome[Person]:
        self.site.require_gallery_edit()
        person = self.store.set_external_id(person_id, external_id)
        return self._site_done(person, Changes.of(PEOPLE, person_ids=[person.id]))

    def merge_people(self, keep_id: int, merge_id: int) -> Outcome[dict[str, int]]:
        """Move `merge_id`'s samples and events to `keep_id`, then delete `merge_id`."""
        self.site.require_gallery_edit()
        merged_uuid = self.store.person_uuid(merge_id)
        with self.store.transaction():
            merged = self.store.get_person(merge_id)
            moved = self.store.merge_people(keep_id, merge_id)
            self._audit_person(AuditAction.PERSON_MERGE, merged, {"into_person_id": keep_id, **moved})
        if self.site.role is SiteRole.ADMIN:
            gallery = self.store.site_gallery(person_ids=[keep_id])
            gallery.merged_people[merged_uuid] = self.store.person_uuid(keep_id)
            self.site.push(gallery)
        return self._done(moved, Changes.of(PEOPLE, SAMPLES, EVENTS, person_ids=[keep_id, merge_id],
                                            deleted_person_ids=[merge_id]))

    def remove_samples(self, sample_ids: Iterable[int]) -> Outcome[int]:
        """Remove face samples (with their embeddings); returns how many were removed."""
        self.site.require_gallery_edit()
        sample_ids = [int(i) for i in sample_ids]
        self.site.erase_on_server(sample_uuids=self.store.sample_uuids(sample_ids))
        with self.store.transaction():
            removed = sum(self.store.delete_sample(sample_id) for sample_id in sample_ids)
        return self._done(removed, Changes.of(SAMPLES, sample_ids=sample_ids) if removed else Changes())

    # ---- backups ----

    def backup(self, destination: Path | None = None) -> Outcome[Path]:
        """Write a backup copy of the database now (default: a time-stamped file in the backups folder)."""
        destination = destination or self.settings.backups_path / f"rollcall-{datetime.now():%Y-%m-%d-%H%M%S}.db"
        return Outcome(self.store.backup_to(destination))

    # ---- gallery ----

    def matcher(self) -> GalleryMatcher:
        """The cached matcher for the active model (rebuilt after gallery changes)."""
        with self._lock:
            if self._matcher is None:
                self._matcher = fusion_setup.build_matcher(self, self.active_model_id())
            return self._matcher

    def threshold_estimate(self) -> "ThresholdEstimate | None":
        """The active model's gallery-calibrated threshold (`describe()` says how it was set)."""
        return fusion_setup.threshold_estimate(self)

    def calibration_report(self, target_per_1000: float | None = None,
                           reviewed_unknowns: "np.ndarray | None" = None) -> CalibrationReport:
        """Strangers per 1,000 marked at the current threshold and margin, and the threshold for a target
        (default: settings.recognition.strangers_per_1000). reviewed_unknowns: the active model's vectors of
        faces reviewed as strangers (optional; see core.gallery.calibration.CalibrationReport)."""
        target = self.settings.recognition.strangers_per_1000 if target_per_1000 is None else target_per_1000
        return calibration_report(self.matcher(), target, reviewed_unknowns)

    def fusion_notices(self) -> list[str]:
        """Why a fused model runs degraded (e.g. on FaceNet alone: SFace weights missing); [] when it does not."""
        return fusion_setup.fusion_notices(self)

    def delete_person(self, person_id: int) -> Outcome[PersonDeleted]:
        """Erase a person everywhere: the database (overwritten, vacuumed) and every backup file.
        Backups that could not be scrubbed are named in the record's `backups_not_scrubbed`.
        On a site's admin station the server erases them first (and every kiosk at its next sync).
        The audit log records the delete by id only (no name outlives the erasure)."""
        self.site.require_gallery_edit()
        self.site.erase_on_server(person_uuids=[self.store.person_uuid(person_id)])  # refused there: kept here
        with self.store.transaction():
            person = self.store.get_person(person_id)
            removed = self.store.delete_person(person_id)
            self._audit_person(AuditAction.PERSON_DELETE, person, {
                "samples": removed.samples, "embeddings": removed.embeddings, "events": removed.events})
        self.store.erase_freed_space()  # skipped inside the transaction
        changes = self._publish(Changes.of(PEOPLE, SAMPLES, EVENTS, person_ids=[person_id],
                                           deleted_person_ids=[person_id]))
        try:
            backups = self.settings.backups_path
        except OSError as exc:
            problem = FileProblem(self.settings.data_path, str(exc))
            return Outcome(replace(removed, backups_not_scrubbed=(problem,)), changes)
        scrubbed, not_scrubbed = erase_person_from_backups(backups, person_id)
        return Outcome(replace(removed, backups_scrubbed=scrubbed, backups_not_scrubbed=not_scrubbed), changes)

    def gallery_changed(self) -> None:
        """Drop the cached matcher (the engine's own operations do this; callers never need to)."""
        with self._lock:
            self._matcher = None

    def reembed(self, model_id: str, batch_size: int = 32, cancel: CancelCheck | None = None,
                force: bool = False) -> Iterator[ReembedProgress]:
        """Embed every stored crop that has no vector for `model_id` yet (all of them with force)."""
        from core.vision.images import decode_jpeg

        self.site.require_gallery_edit()
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
        if total and self.site.role is SiteRole.ADMIN:
            self.site.push(self.store.site_gallery(model_ids=[model_id], with_samples=False))
        if total and model_id == self.active_model_id():
            self._publish(Changes.of(SAMPLES, model_ids=[model_id]))

    def activation(self, model_id: str, cancel: CancelCheck | None = None
                   ) -> Generator[ReembedProgress, None, Outcome[str]]:
        """activate_model as a generator: re-embedding progress, then the switch."""
        yield from self.reembed(model_id, cancel=cancel)
        return Outcome(model_id, self.activate_model(model_id, cancel=cancel))  # nothing left to re-embed

    def activate_model(self, model_id: str, cancel: CancelCheck | None = None,
                       progress: Callable[[ReembedProgress], None] | None = None) -> Changes:
        """Re-embed the gallery with `model_id`, then switch to it in one step (for the whole site on an
        admin station)."""
        self.site.require_gallery_edit()
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
        self.settings.compute.active_model = model_id
        self.site.push(self.store.site_gallery(person_ids=[], model_ids=[model_id]), active_model=model_id)
        self.publish_model(model_id)  # its files (when trained or imported) follow the switch to every kiosk
        return self._publish(Changes.of(MODELS, model_ids=[model_id]))

    def register_model(self, record: ModelRecord) -> Outcome[ModelRecord]:
        """Add a model version (the trainer's hand-off); it becomes active only through activate_model."""
        self.site.require_gallery_edit()
        registered = self.store.register_model(record)
        self.site.push(self.store.site_gallery(person_ids=[], model_ids=[]))
        return self._done(registered, Changes.of(MODELS, model_ids=[registered.id]))

    def apply_settings(self, settings: Settings) -> None:
        with self._lock:
            self.settings = settings
            self.site.settings = settings.site
            self.site.retention = self._retention()
            self._matcher = None
        self._publish(Changes.of(SETTINGS))

    # ---- site mode (core.site) ----

    def site_status(self, check_server: bool = True) -> SiteStatus:
        """The role, the server (without password), reachability, last sync and the queue."""
        return self.site.status(check_server)

    def site_init(self, url: str, station: str = "admin") -> Outcome[SiteStatus]:
        """Make this data folder the site's admin station (schema created, local gallery uploaded)."""
        status = self.site.init(url, station)
        self._after_pull()
        return self._done(status, Changes.of(SITE, PEOPLE, SAMPLES, MODELS))

    def site_join(self, url: str, kiosk: str) -> Outcome[SiteStatus]:
        """Make this data folder a kiosk of the site, with its own login, and pull the gallery."""
        status = self.site.join(url, kiosk)
        self._after_pull()
        return self._done(status, Changes.of(SITE, PEOPLE, SAMPLES, MODELS))

    def site_leave(self, force: bool = False) -> Outcome[None]:
        """Back to standalone; local people and events stay. Refused while events are unsent, unless forced."""
        self.stop_site_sync()
        self.site.leave(force)
        return self._done(None, Changes.of(SITE))

    def site_sync(self, cancel: CancelCheck | None = None) -> Generator[SyncProgress, None, Outcome[SyncReport]]:
        """One push-and-pull round with the site server; raises SiteError when it cannot be reached."""
        try:
            report = yield from self.site.sync(cancel)
        except (SiteError, Cancelled):
            self._publish(self._failed_sync_changes())  # the status bar shows the station offline, with its queue
            raise
        return Outcome(report, self._publish(self._sync_changes(report)))

    def sync_site_now(self) -> Outcome[SyncReport]:
        generator = self.site_sync()
        while True:
            try:
                next(generator)
            except StopIteration as done:
                return done.value

    def _sync_changes(self, report: SyncReport) -> Changes:
        changes = self._pulled_changes(report.pull)
        self.site.unreported_pull = None
        if report.models_installed:  # the site's active model may run here now
            self._after_pull()
            changes = changes | Changes.of(MODELS, model_ids=list(report.models_installed))
        mirrored = report.events_mirrored
        if mirrored is not None and (mirrored.added or mirrored.updated):
            changes = changes | Changes.of(EVENTS)
        if report.hr_book_changed:
            changes = changes | Changes.of(ChangeKind.SCHEDULES, ChangeKind.CORRECTIONS)
        return changes

    def _pulled_changes(self, pull) -> Changes:
        """A pulled gallery reaches the matcher, the active model and the backups (erasures)."""
        if pull is None or not pull.changed:
            return Changes.of(SITE)
        self._after_pull()
        self._erase_from_backups(pull.erased_person_uuids)
        return Changes.of(SITE, PEOPLE, SAMPLES, EVENTS, MODELS)

    def _failed_sync_changes(self) -> Changes:
        """A round that failed after its pull had applied a gallery: it still reaches the matcher now."""
        pull, self.site.unreported_pull = self.site.unreported_pull, None
        return self._pulled_changes(pull)

    def _erase_from_backups(self, person_uuids: Iterable[str]) -> None:
        """People erased on the site server leave this station's backup files too."""
        from core.base.records import SiteGallery

        erased = SiteGallery(erased_people=list(person_uuids))
        if not erased:
            return
        for backup in sorted(self.settings.backups_path.glob("rollcall-*.db")):
            try:
                with GalleryStore(backup) as old:
                    old.apply_site_gallery(erased)
            except Exception as exc:  # noqa: BLE001 - report, but the live database is already clean
                log.warning("Could not erase people from backup %s: %s", backup, exc)

    def _after_pull(self) -> None:
        """The site's active model (when this station has it) and a fresh matcher."""
        site_model = self.store.meta_value("site_active_model")
        with self._lock:
            if site_model and site_model != self.store.active_model_id():
                try:
                    self.store.get_model(site_model)
                    if self._model_can_run(site_model):  # else it switches once the files arrive
                        self.store.set_active_model(site_model)
                        self._active_model_id, self._detector = None, None
                    else:
                        log.warning("The site uses model %s; its files are not here yet.", site_model)
                except ModelNotFoundError:
                    log.warning("The site uses model %s, which this station does not have.", site_model)
            self._matcher = None

    def start_site_sync(self, on_result: Callable[[SyncReport | SiteError], None] | None = None) -> bool:
        """Sync in the background while the app or `recognize` runs (no-op when standalone)."""
        if not self.site.joined or self._background_sync is not None:
            return False

        def handle(result: SyncReport | SiteError) -> None:
            if isinstance(result, SyncReport):
                self._publish(self._sync_changes(result))
            else:
                self._publish(self._failed_sync_changes())
            if on_result:
                on_result(result)

        self._background_sync = BackgroundSync(self.site, handle).start()
        return True

    def stop_site_sync(self) -> None:
        background, self._background_sync = self._background_sync, None
        if background is not None:
            background.stop()
