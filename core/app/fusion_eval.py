"""Verification of a fused model and its members side by side (LFW protocol), and the figures the
fusion is calibrated with: each member's impostor mean and standard deviation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.app.evaluate import VerificationReport, read_pairs, verification_report
from core.gallery.fusion import ScoreScale
from core.vision.detect import DetectedFace, FaceDetector, central_face
from core.vision.fused import FusedEmbedder, FusedInput, facenet_input, sface_input, template_landmarks
from core.vision.images import load_image

Progress = Callable[[int, int], None]
CENTRE_FRACTION = 0.5  # no face found: the centre square, this fraction of the short side


@dataclass(frozen=True)
class PreparedFaces:
    """The labelled face of each photo, cut once per model from one detection."""

    facenet: np.ndarray  # (N, 160, 160, 3) RGB
    sface: np.ndarray  # (N, 112, 112, 3) RGB, aligned
    notes: tuple[str, ...]


def centre_face(shape: tuple[int, ...]) -> DetectedFace:
    """A stand-in detection where MTCNN finds nothing: the centre square, template landmarks."""
    h, w = shape[:2]
    side = min(h, w) * CENTRE_FRACTION
    box = np.array([(w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2], np.float32)
    landmarks = template_landmarks(side) + box[:2]
    return DetectedFace(box=box, prob=0.0, landmarks=landmarks.astype(np.float32), crop=None)


def prepare_faces(
    detector: FaceDetector, paths: list[Path], margin: float, progress: Progress | None = None
) -> PreparedFaces:
    facenet, sface, notes = [], [], []
    for i, path in enumerate(paths):
        rgb = load_image(path)
        face = central_face(detector.detect(rgb, with_crops=False), rgb.shape)
        if face is None:
            face = centre_face(rgb.shape)
            notes.append(f"no face found in {path}; used a centre crop")
        facenet.append(facenet_input(rgb, face, margin))
        sface.append(sface_input(rgb, face))
        if progress:
            progress(i + 1, len(paths))
    return PreparedFaces(np.stack(facenet), np.stack(sface), tuple(notes))


def pair_cosines(vectors: np.ndarray, index_a: np.ndarray, index_b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", vectors[index_a], vectors[index_b]).astype(np.float64)


def impostor_stats(cosines: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the different-person scores."""
    impostors = np.asarray(cosines, np.float64)[~np.asarray(same, bool)]
    return float(impostors.mean()), float(impostors.std())


@dataclass(frozen=True)
class SideBySide:
    """One report per member plus the fusion's, in that order."""

    names: tuple[str, ...]
    reports: tuple[VerificationReport, ...]
    notes: tuple[str, ...]


def evaluate_fused_pairs(
    embedder: FusedEmbedder,
    scale: ScoreScale,
    detector: FaceDetector,
    pairs_file: Path,
    images_dir: Path,
    progress: Progress | None = None,
) -> SideBySide:
    """LFW-protocol verification of each member and of the fused score, from one detection per photo."""
    pairs = read_pairs(pairs_file, images_dir)
    paths = sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})
    index = {path: i for i, path in enumerate(paths)}
    faces = prepare_faces(detector, paths, embedder.info.crop_margin, progress)
    vectors = embedder.embed([FusedInput((faces.facenet[i], faces.sface[i])) for i in range(len(paths))])
    a = np.array([index[p.path_a] for p in pairs])
    b = np.array([index[p.path_b] for p in pairs])
    same = np.array([p.same for p in pairs], bool)
    folds = np.array([p.fold for p in pairs]) if any(p.fold >= 0 for p in pairs) else None
    blocks = embedder.member_vectors(vectors)
    member_scores = [pair_cosines(blocks[m], a, b) for m in embedder.member_ids]
    fused = scale.fuse_cosines(member_scores)
    reports = [verification_report(s, same, folds) for s in member_scores] + [verification_report(fused, same, folds)]
    return SideBySide((*embedder.member_ids, embedder.model_id), tuple(reports), faces.notes)


def evaluate_side_by_side(
    engine, pairs_file: Path, images_dir: Path, progress: Progress | None = None
) -> SideBySide | None:
    """Each member and the fusion, when the active model is fused (and SFace loaded); else None."""
    from core.app.fusion_setup import score_scale

    embedder = engine.embedder()
    if not isinstance(embedder, FusedEmbedder):
        return None
    return evaluate_fused_pairs(
        embedder, score_scale(engine, embedder.member_ids), engine.detector, pairs_file, images_dir, progress
    )


def side_by_side_lines(side: SideBySide) -> list[str]:
    width = max(len(n) for n in side.names) + 2
    lines = [f"{'model':<{width}} {'accuracy':>9} {'AUC':>8} {'TAR@FAR=1e-3':>13} {'threshold':>10}"]
    for name, r in zip(side.names, side.reports):
        std = f" ± {r.accuracy_std:.4f}" if r.accuracy_std else ""
        lines.append(
            f"{name:<{width}} {r.accuracy:>9.4f} {r.auc:>8.4f} {r.tar_at_far_1e3:>13.4f} {r.threshold:>10.4f}{std}"
        )
    lines.append(
        f"pairs: {side.reports[0].pairs}"
        + (f", {side.reports[0].folds}-fold" if side.reports[0].folds else ", best threshold on all pairs")
    )
    return lines


def side_by_side_json(side: SideBySide) -> dict:
    """The fused model's figures at the top level (as for a single model), each member's beside them."""
    return {
        **side.reports[-1].to_json(),
        "model": side.names[-1],
        "members": {name: r.to_json() for name, r in zip(side.names[:-1], side.reports[:-1])},
    }


def save_side_by_side_plot(side: SideBySide, path: Path, title: str) -> Path:
    from core.app.evaluate import save_roc_plot

    others = tuple(zip(side.names[:-1], side.reports[:-1]))
    return save_roc_plot(side.reports[-1], path, title, others=others, main_name=side.names[-1])
