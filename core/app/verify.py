"""LFW-protocol verification of the active model: detect, embed and score every pair."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from core.vision.detect import central_face, crop_face
from core.app.engine import Engine
from core.app.evaluate import VerificationReport, read_pairs, verification_report
from core.vision.images import load_image

Progress = Callable[[int, int], None]


def face_crops(engine: Engine, paths: list[Path], progress: Progress | None = None) -> tuple[np.ndarray, list[str]]:
    """The labelled (most central) face of each photo; a centre crop where MTCNN finds none."""
    detector = engine.detector
    crops, notes = [], []
    for i, path in enumerate(paths):
        rgb = load_image(path)
        face = central_face(detector.detect(rgb), rgb.shape)
        if face is None:
            h, w = rgb.shape[:2]
            side = min(h, w) * 0.5
            box = np.array([(w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2], np.float32)
            crops.append(crop_face(rgb, box, detector.margin, detector.crop_size))
            notes.append(f"no face found in {path}; used a centre crop")
        else:
            crops.append(face.crop)
        if progress:
            progress(i + 1, len(paths))
    return np.stack(crops), notes


def evaluate_pairs(engine: Engine, pairs_file: Path, images_dir: Path, model_id: str | None = None,
                   progress: Progress | None = None) -> tuple[VerificationReport, list[str]]:
    pairs = read_pairs(pairs_file, images_dir)
    paths = sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})
    index = {path: i for i, path in enumerate(paths)}
    crops, notes = face_crops(engine, paths, progress)
    vectors = engine.embedder(model_id).embed(crops)
    sims = np.array([float(vectors[index[p.path_a]] @ vectors[index[p.path_b]]) for p in pairs])
    same = np.array([p.same for p in pairs], bool)
    folds = np.array([p.fold for p in pairs]) if any(p.fold >= 0 for p in pairs) else None
    return verification_report(sims, same, folds), notes
