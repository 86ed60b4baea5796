"""How the engine builds SFace, the fused FaceNet + SFace model and every model's calibrated matcher.

The engine calls in here from a few lines; the state it keeps for this is one `FusionState`. Every function
takes a `ModelHost` (core.app.model_host), the few Engine members it uses, so this module never imports the Engine.

- Model ids: `sface-128` is SFace alone; `<FaceNet version>+sface` fuses that FaceNet version (the
  built-in one or a fine-tuned one) with SFace. Each member's embeddings are stored under the
  member's own id, so switching between a member and the fusion re-embeds nothing twice.
- If SFace's weights are missing or broken, a fused model runs on its FaceNet member alone, and
  `FusionState.notices` says so (the status bar and `rollcall models list` show it).
- The threshold follows the gallery (core.gallery.calibration), re-estimated when it changes materially.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from core.app.model_host import ModelEmbedder, ModelHost
from core.base.errors import WeightsError
from core.base.records import ModelRecord
from core.gallery.calibration import Impostors, ThresholdEstimate, estimate_threshold
from core.gallery.fusion import MemberScale, ScoreScale, fused_gallery
from core.gallery.match import GalleryMatcher
from core.vision.detect import central_face
from core.vision.embed import EmbedderInfo
from core.vision.fused import FusedEmbedder, SfaceEmbedder
from core.vision.fusion_specs import DECISIONS, FACENET_MODEL, FUSED_MODEL, FUSED_SUFFIX, IMPOSTORS
from core.vision.models import BUILTIN_MODELS
from core.vision.sface import SFACE_MODEL

log = logging.getLogger(__name__)


# ---- ids ------------------------------------------------------------------------------------------


def fused_members(model_id: str) -> tuple[str, str] | None:
    """(FaceNet version, SFace) for a fused id, else None."""
    if model_id.endswith(FUSED_SUFFIX) and len(model_id) > len(FUSED_SUFFIX):
        return model_id[: -len(FUSED_SUFFIX)], SFACE_MODEL
    return None


def facenet_of(model_id: str) -> str:
    """The FaceNet version inside a model id: itself, or a fused model's FaceNet member."""
    members = fused_members(model_id)
    return members[0] if members else model_id


def fused_counterpart(model_id: str) -> str:
    """The fusion of a FaceNet version with SFace (the id itself when it is fused or SFace already)."""
    if fused_members(model_id) or model_id == SFACE_MODEL:
        return model_id
    return model_id + FUSED_SUFFIX


def ensure_fused_record(host: ModelHost, model_id: str) -> ModelRecord | None:
    """Register a fused model (e.g. a fine-tuned FaceNet + SFace) on first use; None if not fused."""
    members = fused_members(model_id)
    if members is None or model_id in BUILTIN_MODELS:
        return None
    facenet = host.ensure_model_record(members[0])
    spec = BUILTIN_MODELS[FUSED_MODEL]
    record = ModelRecord(
        id=model_id,
        name=f"{facenet.name} + SFace",
        base=FUSED_MODEL,
        parent_id=fused_counterpart(facenet.parent_id) if facenet.parent_id else None,
        embedding_size=facenet.embedding_size + BUILTIN_MODELS[SFACE_MODEL].embedding_size,
        weights_path=facenet.weights_path,
        created_at=datetime.now(UTC),
        settings={
            "preprocessing": spec.preprocessing,
            "crop_margin": facenet.settings.get("crop_margin", spec.crop_margin),
            "members": list(members),
        },
        metrics={},
    )
    return host.store.register_model(record)


# ---- embedders ------------------------------------------------------------------------------------


def landmark_finder(host: ModelHost) -> Callable[[np.ndarray], np.ndarray | None]:
    """MTCNN's landmarks of the face in a stored crop (the one detector, shared)."""

    def find(crop: np.ndarray):
        face = central_face(host.detector.detect(crop, with_crops=False), crop.shape)
        return None if face is None else face.landmarks

    return find


def sface_embedder(host: ModelHost) -> SfaceEmbedder:
    host.ensure_model_record(SFACE_MODEL)  # embeddings are stored under it
    path = host.registry.ensure_weights(SFACE_MODEL)  # verifies the checksum
    spec = BUILTIN_MODELS[SFACE_MODEL]
    info = EmbedderInfo(SFACE_MODEL, spec.embedding_size, spec.preprocessing, spec.crop_margin, "cpu")
    try:
        return SfaceEmbedder(path, info, find_landmarks=landmark_finder(host), tuned_dir=host.tuned_dir)
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime rejects a damaged graph in many ways
        raise WeightsError(
            f"Weights file {path} cannot be read by ONNX Runtime ({type(exc).__name__}). "
            f"Delete it and run `rollcall models fetch {SFACE_MODEL}`."
        ) from None


def build_embedder(host: ModelHost, model_id: str) -> ModelEmbedder | None:
    """The embedder for SFace or a fused model; None for any other model (the engine's own path).

    A fused model whose SFace cannot be loaded runs on its FaceNet member alone (with a notice).
    """
    if model_id == SFACE_MODEL:
        return sface_embedder(host)
    members = fused_members(model_id)
    if members is None:
        return None
    facenet = host.embedder(members[0])
    try:
        sface = host.embedder(SFACE_MODEL)
    except WeightsError as exc:
        with host.fusion.lock:
            host.fusion.notices[model_id] = f"SFace is unavailable, so {model_id} runs on FaceNet alone: {exc}"
        log.warning("%s", host.fusion.notices[model_id])
        return facenet
    with host.fusion.lock:
        host.fusion.notices.pop(model_id, None)
    return FusedEmbedder(model_id, (facenet, sface), find_landmarks=landmark_finder(host))


def fusion_notices(host: ModelHost) -> list[str]:
    with host.fusion.lock:
        return list(host.fusion.notices.values())


# ---- matching -------------------------------------------------------------------------------------


def score_scale(host: ModelHost, members: tuple[str, ...]) -> ScoreScale:
    """Each member's impostor constants: a fine-tuned FaceNet uses its family's (the base model's)."""
    scales = []
    for member in members:
        record = host.ensure_model_record(member)
        spec = BUILTIN_MODELS.get(member) or BUILTIN_MODELS.get(record.base) or BUILTIN_MODELS[FACENET_MODEL]
        scales.append(MemberScale(member, record.embedding_size, spec.impostor_mean, spec.impostor_std))
    return ScoreScale(tuple(scales))


def decision(host: ModelHost, model_id: str) -> tuple[float, float]:
    """(threshold floor, margin) on the model's own score scale."""
    family = FUSED_MODEL if fused_members(model_id) else model_id  # a fine-tuned fusion decides as the default
    if family in DECISIONS:
        return DECISIONS[family]
    return host.settings.recognition.match_threshold, host.settings.recognition.match_margin  # FaceNet cosines


def impostors(host: ModelHost, model_id: str) -> Impostors | None:
    """The model's impostor constants (a fine-tuned version uses its family's); None when unknown."""
    family = FUSED_MODEL if fused_members(model_id) else model_id
    if family not in IMPOSTORS:
        family = host.ensure_model_record(model_id).base
    constants = IMPOSTORS.get(family)
    return Impostors(*constants) if constants else None


def strangers_target(host: ModelHost) -> float:
    return host.settings.recognition.strangers_per_1000


def build_matcher(host: ModelHost, model_id: str) -> GalleryMatcher:
    """The model's matcher with the gallery-calibrated threshold (re-estimated on material change)."""
    embedder = host.embedder(model_id)
    scored_as = embedder.model_id  # a fused model degraded to FaceNet alone scores as FaceNet
    if isinstance(embedder, FusedEmbedder):
        members = embedder.member_ids
        gallery = fused_gallery([host.store.gallery(m) for m in members], scored_as)
        base = GalleryMatcher(gallery, 0.0, 0.0, score_scale(host, members))
    else:
        base = GalleryMatcher(host.store.gallery(scored_as), 0.0, 0.0)
    floor, margin = decision(host, scored_as)
    estimate = _current_estimate(host, scored_as, base.photos_only(), floor)  # photos: as before derived templates
    spread = impostors(host, scored_as)
    std = spread.std if spread is not None else 0.0
    options = host.settings.recognition
    occluded = None
    if base.derived_count:  # masked strangers look alike: calibrated on the derived templates alone, and above
        derived = _current_estimate(host, f"{scored_as}{OCCLUDED_KEY}", base.derived_only(), floor).threshold
        occluded = max(derived, estimate.threshold + options.occluded_above_std * std)
    return (
        base.with_decision(estimate.threshold, margin)
        .with_band(options.uncertain_below_std * std, options.uncertain_margin_std * std)
        .with_occluded_threshold(occluded)
    )


OCCLUDED_KEY = "#occluded"  # the estimates' key for a model's threshold for occluded faces


def _current_estimate(host: ModelHost, key: str, matcher: GalleryMatcher, floor: float) -> ThresholdEstimate:
    """The cached estimate under `key`, made again when the gallery has changed materially."""
    scored_as = key.removesuffix(OCCLUDED_KEY)
    target = strangers_target(host)
    with host.fusion.lock:
        estimate = host.fusion.estimates.get(key)
    if (
        estimate is None
        or estimate.floor != floor
        or estimate.strangers_per_1000 != target
        or not estimate.is_current(matcher.people_count, matcher.sample_count)
    ):
        estimate = estimate_threshold(matcher, target, floor, impostors(host, scored_as))
        with host.fusion.lock:
            host.fusion.estimates[key] = estimate
    return estimate


def threshold_estimate(host: ModelHost) -> ThresholdEstimate | None:
    """The active model's current estimate (building the matcher if needed)."""
    matcher = host.matcher()
    with host.fusion.lock:
        return host.fusion.estimates.get(matcher.model_id)


# ---- what `rollcall models list` adds -------------------------------------------------------------


def status_lines(host: ModelHost) -> list[str]:
    """Licences and sources, a degraded fused model's notice, the active threshold estimate."""
    lines = ["sources and licences:"]
    lines += [f"  {spec.name:<20} {spec.licence}" for spec in BUILTIN_MODELS.values() if spec.licence]
    try:
        estimate = threshold_estimate(host)
    except WeightsError as exc:
        lines.append(f"active model unavailable: {exc}")
        estimate = None
    lines += [f"notice: {notice}" for notice in fusion_notices(host)]
    if estimate is not None:
        lines.append(f"matching ({host.matcher().model_id}): {estimate.describe()}, margin {host.matcher().margin:.3f}")
    return lines


def keep_fusion(host: ModelHost, model_id: str) -> str:
    """The model to activate for a new FaceNet version: fused with SFace when the active model is fused."""
    if fused_members(host.active_model_id()) and not fused_members(model_id) and model_id != SFACE_MODEL:
        return fused_counterpart(model_id)
    return model_id
