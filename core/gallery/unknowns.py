"""Unknown visitors, grouped: one stranger seen at 8:00 and at 17:00, at two doors, is one group.

Faces are grouped by agglomerative clustering (average linkage) on the matcher's own score: two
groups merge while the average score between their faces reaches the grouping threshold. That
threshold is the active model's pair threshold (its floor: core.vision.fusion_specs for the fused
model, settings.recognition.match_threshold for a FaceNet alone) raised by
`settings.review.group_above_floor_stds` impostor standard deviations. The gallery-calibrated
identification threshold is not used: it guards against N enrolled people at once, while grouping
compares faces in pairs. Measured on dev/ (5 strangers x 4 photos, 20 draws): 5.0 groups on average
at purity 1.0; single linkage chained strangers together (purity 0.8 in some draws).

A group's id is its smallest face id: stable across calls while the group keeps its first face.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from core.base.errors import FullEditionOnly
from core.base.records import UnknownFace
from core.base.settings import EnrollmentSettings
from core.gallery.fusion import ScoreScale
from core.vision.fused import FACENET_CROP_SIZE


@dataclass(frozen=True)
class UnknownGroup:
    """Unknown faces that look like one person."""

    id: int  # the smallest face id
    face_ids: tuple[int, ...]  # oldest first
    first_seen: datetime
    last_seen: datetime
    sources: tuple[str, ...]  # the cameras or files that saw them, in the order first seen
    best_face_ids: tuple[int, ...]  # every face, best quality first (enrollment takes the first few)
    snapshot_jpeg: bytes = field(default=b"", repr=False)  # the best face's crop

    @property
    def count(self) -> int:
        return len(self.face_ids)

    @property
    def snapshot_face_id(self) -> int:
        return self.best_face_ids[0]


def quality_rank(det_prob: float, face_px: int, sharpness: float, gates: EnrollmentSettings) -> tuple:
    """Sort key, higher is better: passes the enrollment gates, then the face's size (up to the crop's own
    size, beyond which a bigger face adds nothing), then its sharpness, then detection confidence."""
    passes = face_px >= gates.min_face_px and det_prob >= gates.min_detection_prob and sharpness >= gates.min_sharpness
    return passes, min(int(face_px), FACENET_CROP_SIZE), float(sharpness), float(det_prob)


def pair_scores(vectors: np.ndarray, scale: ScoreScale | None) -> np.ndarray:
    """(N, N) scores between faces on the matcher's scale (fused: the mean of the members' z-scored cosines)."""
    vectors = np.atleast_2d(np.asarray(vectors, np.float32))
    if scale is None:
        return vectors @ vectors.T
    return scale.scale_queries(vectors) @ vectors.T - np.float32(scale.offset)


def group_threshold(floor: float, impostor_std: float | None, above_floor_stds: float) -> float:
    """The score two faces' groups must reach on average to merge."""
    return float(floor) + float(above_floor_stds) * float(impostor_std or 0.0)


GROUPING_NEEDS_FULL_EDITION = (
    "Grouping unknown visitors runs on the full edition of Rollcall (or the site's admin "
    "station); this kiosk edition keeps their faces for it."
)


def cluster_labels(scores: np.ndarray, threshold: float) -> np.ndarray:
    """A cluster label per face: average linkage, merging while the average score is >= threshold."""
    n = len(scores)
    if n < 2:
        return np.zeros(n, np.int64)
    try:
        from sklearn.cluster import AgglomerativeClustering  # imported by the callers that group only
    except ImportError:
        raise FullEditionOnly(GROUPING_NEEDS_FULL_EDITION) from None

    scores = (scores + scores.T) / 2
    top = float(max(scores.max(), threshold))
    distances = np.clip(top - scores, 0.0, None)  # a distance that falls as the score rises
    np.fill_diagonal(distances, 0.0)
    model = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=top - threshold + 1e-9
    )  # merges at exactly the threshold
    return model.fit_predict(distances).astype(np.int64)


def group_faces(
    faces: Sequence[UnknownFace],
    vectors: np.ndarray,
    scale: ScoreScale | None,
    threshold: float,
    gates: EnrollmentSettings,
) -> list[UnknownGroup]:
    """Unknown faces (vectors[i] is faces[i]'s, all by the same model) grouped, newest sighting first."""
    if not faces:
        return []
    labels = cluster_labels(pair_scores(vectors, scale), threshold)
    groups = []
    for label in np.unique(labels):
        members = sorted((faces[int(i)] for i in np.flatnonzero(labels == label)), key=lambda f: (f.time, f.id))
        best = sorted(members, key=lambda f: quality_rank(f.det_prob, f.face_px, f.sharpness, gates), reverse=True)
        sources = tuple(dict.fromkeys(f.source for f in members))
        groups.append(
            UnknownGroup(
                min(f.id for f in members),
                tuple(f.id for f in members),
                members[0].time,
                members[-1].time,
                sources,
                tuple(f.id for f in best),
            )
        )
    return sorted(groups, key=lambda g: (g.last_seen, g.id), reverse=True)


# The review listing's face files (`rollcall unknowns`) in the data folder: each group's best face.
SNAPSHOTS_FOLDER = "unknowns"
SNAPSHOT_GLOB = "unknown-group-*.jpg"


def clear_group_snapshots(folder: Path) -> int:
    """Remove a listing's face files (stale after a review, gone with an erased person); how many went."""
    removed = 0
    for old in folder.glob(SNAPSHOT_GLOB):
        old.unlink(missing_ok=True)
        removed += 1
    return removed


def write_group_snapshots(groups: Sequence[UnknownGroup], folder: Path) -> dict[int, Path]:
    """Each group's best face as <folder>/unknown-group-<id>.jpg (owner-only); an earlier listing's files go."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    clear_group_snapshots(folder)
    paths = {}
    for group in groups:
        path = folder / SNAPSHOT_GLOB.replace("*", str(group.id))
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)  # faces: the owner's only
        with os.fdopen(fd, "wb") as out:
            out.write(group.snapshot_jpeg)
        paths[group.id] = path
    return paths
