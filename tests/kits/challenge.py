"""The head-movement challenge's scripted answers and a printed photo of the performer."""

from __future__ import annotations

import cv2
import numpy as np

from benchmarks import presentation_attacks as pa
from core.vision.detect import FaceDetector

ANSWERS = pa.HAMILTON_ANSWERS  # what the performer does after frame ~84: turns to his right, then looks up


def performer_print(clip_bgr) -> np.ndarray:
    """A photo of the performer, framed like the dev photos (his face about 45 % of its width)."""
    frame = clip_bgr[130]
    detector = FaceDetector()
    [face] = detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), with_crops=False)[:1]
    cx, cy = face.center
    half = int(face.width / 0.45 / 2)
    padded = cv2.copyMakeBorder(frame, half, half, half, half, cv2.BORDER_REFLECT)
    x, y = int(cx), int(cy)
    return cv2.cvtColor(padded[y : y + 2 * half, x : x + 2 * half], cv2.COLOR_BGR2RGB)
