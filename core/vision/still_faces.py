"""The labelled face of a still photo, found even behind a mask or filling the frame.

MTCNN misses some covered faces (a mask hides the mouth corners its stages score) and places
landmarks worse on a face cropped tight to its box (ID badges, HR directories). When the first pass
finds no face, or the face touches the photo's edge, a second pass runs on the photo padded onto a
larger canvas of its own mean colour, with MTCNN's stage thresholds and the final probability relaxed.
Boxes and landmarks come back in the photo's own coordinates; crops cut outside it are padded black.
"""

from __future__ import annotations

import copy

import cv2
import numpy as np

from core.vision.detect import DetectedFace, FaceDetector, central_face

PAD_FRACTION = 0.3  # the canvas adds this share of the photo's longer side on every side
EDGE_FRACTION = 0.04  # a face box within this share of the photo's size of an edge "fills the frame"
RELAXED_THRESHOLDS = (0.5, 0.6, 0.6)  # P-, R- and O-Net thresholds of the second pass
RELAXED_MIN_PROB = 0.6  # the second pass's final face probability (the first pass: the detector's own)


def touches_edge(face: DetectedFace, shape: tuple[int, ...]) -> bool:
    h, w = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in face.box)
    return min(x1 / w, y1 / h, (w - x2) / w, (h - y2) / h) < EDGE_FRACTION


def padded(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """The photo on a larger canvas of its mean colour, and the pad in pixels."""
    pad = max(1, int(round(PAD_FRACTION * max(rgb.shape[:2]))))
    colour = [float(c) for c in rgb.reshape(-1, 3).mean(axis=0)]
    return cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=colour), pad


def second_pass(detector: FaceDetector, rgb: np.ndarray) -> DetectedFace | None:
    """The central face found on the padded photo with relaxed thresholds, in the photo's coordinates."""
    relaxed = copy.copy(detector)  # shares the networks; only the final probability differs
    relaxed.min_prob = min(detector.min_prob, RELAXED_MIN_PROB)
    canvas, pad = padded(rgb)
    face = central_face(relaxed.detect(canvas, with_crops=False, thresholds=RELAXED_THRESHOLDS), canvas.shape)
    if face is None:
        return None
    shift = np.array([pad, pad], np.float32)
    return DetectedFace(face.box - np.tile(shift, 2), face.prob, face.landmarks - shift, None)


def find_still_face(detector: FaceDetector, rgb: np.ndarray, with_crop: bool = False) -> DetectedFace | None:
    """The photo's central face: the first pass, or the second where it finds none or the face fills the frame."""
    face = central_face(detector.detect(rgb, with_crops=False), rgb.shape)
    if face is None or touches_edge(face, rgb.shape):
        again = second_pass(detector, rgb)
        face = again if again is not None else face
    if face is not None and with_crop:
        detector.add_crops(rgb, [face])
    return face
