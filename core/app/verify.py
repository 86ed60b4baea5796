"""LFW-protocol verification of the active model: detect, embed and score every pair."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.app.engine import Engine
from core.app.evaluate import VerificationReport, read_pairs, verification_report
from core.vision.detect import DetectedFace, central_face, crop_face
from core.vision.images import DEFAULT_CROP_SIZE, load_image

Progress = Callable[[int, int], None]

# LFW photos are centred on the labelled face: where MTCNN finds none, this middle part is the face.
LFW_FALLBACK_BOX = (0.3, 0.28, 0.7, 0.72)  # left, top, right, bottom as fractions of width and height


def labelled_face_crop(
    rgb: np.ndarray, faces: list[DetectedFace], margin: float, crop_size: int = DEFAULT_CROP_SIZE
) -> tuple[np.ndarray, bool]:
    """The crop of an LFW photo's labelled (most central) face, and whether the fallback box was used."""
    face = central_face(faces, rgb.shape)
    if face is not None and face.crop is not None:
        return face.crop, False
    height, width = rgb.shape[:2]
    box = np.array(LFW_FALLBACK_BOX, np.float32) * np.array([width, height, width, height], np.float32)
    return crop_face(rgb, box, margin, crop_size), True


def face_crops(engine: Engine, paths: list[Path], progress: Progress | None = None) -> tuple[np.ndarray, list[str]]:
    """The labelled (most central) face of each photo; the middle of the photo where MTCNN finds none."""
    detector = engine.detector
    crops, notes = [], []
    for i, path in enumerate(paths):
        rgb = load_image(path)
        crop, fell_back = labelled_face_crop(rgb, detector.detect(rgb), detector.margin, detector.crop_size)
        crops.append(crop)
        if fell_back:
            notes.append(f"no face found in {path}; used the middle of the photo")
        if progress:
            progress(i + 1, len(paths))
    return np.stack(crops), notes


def evaluate_pairs(
    engine: Engine, pairs_file: Path, images_dir: Path, model_id: str | None = None, progress: Progress | None = None
) -> tuple[VerificationReport, list[str]]:
    pairs = read_pairs(pairs_file, images_dir)
    paths = sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})
    index = {path: i for i, path in enumerate(paths)}
    crops, notes = face_crops(engine, paths, progress)
    vectors = engine.embedder(model_id).embed(crops)
    sims = np.array([float(vectors[index[p.path_a]] @ vectors[index[p.path_b]]) for p in pairs])
    same = np.array([p.same for p in pairs], bool)
    folds = np.array([p.fold for p in pairs]) if any(p.fold >= 0 for p in pairs) else None
    return verification_report(sims, same, folds), notes
