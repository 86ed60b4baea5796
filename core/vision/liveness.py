"""A first, cheap liveness check: a live face moves non-rigidly, a photo held up does not.

Each face is warped onto a canonical 5-landmark layout (a similarity transform), so a photo that
is moved, turned or tilted in front of the camera lands on almost the same pixels in every frame.
A live face still changes where it matters: eyes blink, the mouth moves, the head turns in 3-D.
The score is the temporal variation in the eye and mouth regions relative to the forehead, over a
short window of frames: about 1 for a live face, about 0.7 for a photo (measured on the shared
clip and on a photo of it moved in front of the camera; see tests/live/test_liveness.py).

This stops the simplest attack only. A video replay or a mask passes it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.base.settings import LivenessSettings

# Canonical positions of the eyes, nose and mouth corners in a 112x112 face (the ArcFace layout).
TEMPLATE = np.array([[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]], np.float32)
SIZE = 112


def _masks() -> tuple[np.ndarray, np.ndarray]:
    moving = np.zeros((SIZE, SIZE), bool)
    moving[40:62, 25:87] = True  # eyes
    moving[82:102, 35:77] = True  # mouth
    still = np.zeros((SIZE, SIZE), bool)
    still[10:35, 30:82] = True  # forehead
    return moving, still


MOVING, STILL = _masks()


def canonical_face(image: np.ndarray, landmarks: np.ndarray, order: str = "rgb") -> np.ndarray | None:
    """The face warped onto TEMPLATE, grey, standardised; None if the landmarks are degenerate."""
    matrix, _ = cv2.estimateAffinePartial2D(np.asarray(landmarks, np.float32), TEMPLATE)
    if matrix is None:
        return None
    code = cv2.COLOR_BGR2GRAY if order == "bgr" else cv2.COLOR_RGB2GRAY
    grey = cv2.cvtColor(cv2.warpAffine(image, matrix, (SIZE, SIZE)), code).astype(np.float32)
    return (grey - grey.mean()) / (grey.std() + 1e-3)


def motion_score(faces: list[np.ndarray]) -> float:
    """Eye/mouth variation over forehead variation across a window of canonical faces."""
    spread = np.stack(faces).std(axis=0)
    return float(spread[MOVING].mean() / (spread[STILL].mean() + 1e-3))


@dataclass
class LivenessChecker:
    """Feed one track's frames; `verdict()` is None until `window` frames were seen."""

    window: int = LivenessSettings.window_frames
    threshold: float = LivenessSettings.threshold
    _faces: deque = field(default_factory=deque)
    _scores: list[float] = field(default_factory=list)

    @classmethod
    def from_settings(cls, liveness: LivenessSettings) -> LivenessChecker:
        return cls(window=liveness.window_frames, threshold=liveness.threshold)

    def add(self, image: np.ndarray, landmarks: np.ndarray, order: str = "rgb") -> None:
        face = canonical_face(image, landmarks, order)
        if face is None:
            return
        self._faces.append(face)
        if len(self._faces) > self.window:
            self._faces.popleft()
        if len(self._faces) == self.window:
            self._scores.append(motion_score(list(self._faces)))

    @property
    def score(self) -> float | None:
        """Median score of the windows seen so far (robust to one odd window)."""
        return float(np.median(self._scores)) if self._scores else None

    def verdict(self) -> bool | None:
        score = self.score
        return None if score is None else score >= self.threshold
