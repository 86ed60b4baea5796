"""Liveness first step: the performer in the shared clip passes, a photo of him moved in front
of the camera (rotated, scaled, tilted in perspective, flickering light, sensor noise) does not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.detect import FaceDetector
from core.liveness import LivenessChecker

SEGMENT = 30  # one second of video per verdict


@pytest.fixture(scope="module")
def clip(faces):
    capture = cv2.VideoCapture(str(faces / "video" / "hamilton_640x360.mp4"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return frames


def photo_attack(photo: np.ndarray, count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    frames = []
    for t in range(count):
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), 5 * np.sin(t / 15), 1 + 0.1 * np.sin(t / 20))
        turn[:, 2] += [20 * np.sin(t / 10), 10 * np.cos(t / 13)]
        k = 0.08 * np.sin(t / 17)
        tilt = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]),
                                           np.float32([[w * k, 0], [w - w * k, 0], [w, h], [0, h]]))
        img = cv2.warpAffine(photo, turn, (w, h), borderMode=cv2.BORDER_REFLECT)
        img = cv2.warpPerspective(img, tilt, (w, h), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        img = img * (1 + 0.05 * np.sin(t / 7)) + rng.normal(0, 2, img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def verdicts(frames: list[np.ndarray], detector: FaceDetector) -> list[bool | None]:
    results = []
    for start in range(0, len(frames) - SEGMENT + 1, SEGMENT):
        checker = LivenessChecker()
        for rgb in frames[start:start + SEGMENT]:
            faces = detector.detect(rgb, with_crops=False)
            if faces:
                checker.add(rgb, max(faces, key=lambda f: f.width).landmarks)
        results.append(checker.verdict())
    return results


def test_live_performer_passes_and_a_moved_photo_is_refused(clip):
    detector = FaceDetector()
    live = verdicts(clip[90:210], detector)
    attack = verdicts(photo_attack(clip[130], 120), detector)
    false_reject = sum(v is not True for v in live) / len(live)
    false_accept = sum(v is True for v in attack) / len(attack)
    print(f"liveness: false-reject {false_reject:.2f} over {len(live)} one-second segments of the real clip, "
          f"photo accepted {false_accept:.2f} over {len(attack)}")
    assert false_reject <= 0.25
    assert false_accept == 0.0
