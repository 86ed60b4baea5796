"""Face detection and alignment: a wrapper over facenet-pytorch's MTCNN.

Every face comes back with its box, probability, 5 landmarks and an aligned square crop
(the box plus a margin, resized to `crop_size`), the way the FaceNet embedders were trained.
A frame with no face gives an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .images import load_image, to_rgb


@dataclass
class DetectedFace:
    box: np.ndarray  # (4,) float32: x1, y1, x2, y2 in frame pixels
    prob: float
    landmarks: np.ndarray  # (5, 2) float32: eyes, nose, mouth corners
    crop: np.ndarray | None  # (crop_size, crop_size, 3) RGB uint8

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def size_px(self) -> int:
        return int(round(min(self.width, self.height)))

    @property
    def center(self) -> tuple[float, float]:
        return float(self.box[0] + self.box[2]) / 2, float(self.box[1] + self.box[3]) / 2


def crop_face(rgb: np.ndarray, box: np.ndarray, margin: float = 32, size: int = 160) -> np.ndarray:
    """Square crop of `box` plus `margin` (in output pixels, as facenet-pytorch counts it).

    Parts outside the frame are padded with black instead of squeezing the face.
    """
    x1, y1, x2, y2 = [float(v) for v in box]
    mx = margin * (x2 - x1) / (size - margin)
    my = margin * (y2 - y1) / (size - margin)
    left, top = int(np.floor(x1 - mx / 2)), int(np.floor(y1 - my / 2))
    right, bottom = int(np.ceil(x2 + mx / 2)), int(np.ceil(y2 + my / 2))
    h, w = rgb.shape[:2]
    if right <= left or bottom <= top:
        return np.zeros((size, size, 3), np.uint8)
    region = rgb[max(top, 0):min(bottom, h), max(left, 0):min(right, w)]
    pad = ((max(0, -top), max(0, bottom - h)), (max(0, -left), max(0, right - w)), (0, 0))
    if any(p for pair in pad[:2] for p in pair):
        region = np.pad(region, pad, mode="constant")
    interpolation = cv2.INTER_AREA if region.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(region, (size, size), interpolation=interpolation)


def central_face(faces: list[DetectedFace], frame_shape: tuple[int, ...]) -> DetectedFace | None:
    """The face nearest the frame's centre: in a labelled photo, that is the person meant."""
    if not faces:
        return None
    cy, cx = frame_shape[0] / 2, frame_shape[1] / 2
    return min(faces, key=lambda f: (f.center[0] - cx) ** 2 + (f.center[1] - cy) ** 2)


class FaceDetector:
    """MTCNN on one frame or a batch of frames.

    `scale` < 1 runs the detector on a reduced copy of the frame (faster) while crops are
    still cut from the full-resolution frame.
    """

    def __init__(
        self,
        device: str = "cpu",
        min_face_size: int = 40,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        margin: float = 32,
        crop_size: int = 160,
        min_prob: float = 0.9,
    ):
        from facenet_pytorch import MTCNN

        self.device = device
        self.margin = margin
        self.crop_size = crop_size
        self.min_prob = min_prob
        self.min_face_size = min_face_size
        self._mtcnn = MTCNN(
            image_size=crop_size,
            margin=margin,
            min_face_size=min_face_size,
            thresholds=list(thresholds),
            keep_all=True,
            post_process=False,
            device=device,
        )

    def detect(self, rgb: np.ndarray, scale: float = 1.0, with_crops: bool = True) -> list[DetectedFace]:
        return self.detect_batch([rgb], scale=scale, with_crops=with_crops)[0]

    def detect_bgr(self, bgr: np.ndarray, **kw) -> tuple[np.ndarray, list[DetectedFace]]:
        rgb = to_rgb(bgr, "bgr")
        return rgb, self.detect(rgb, **kw)

    def detect_file(self, path: Path | str, **kw) -> tuple[np.ndarray, list[DetectedFace]]:
        rgb = load_image(path)
        return rgb, self.detect(rgb, **kw)

    def detect_batch(
        self, frames: list[np.ndarray], scale: float = 1.0, with_crops: bool = True
    ) -> list[list[DetectedFace]]:
        """Detect faces in RGB frames. Frames of one size run as one MTCNN batch."""
        import torch

        frames = [to_rgb(f, "rgb") for f in frames]
        inputs = frames
        if scale != 1.0:
            inputs = [cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for f in frames]
        results: list[list[DetectedFace] | None] = [None] * len(frames)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, img in enumerate(inputs):
            by_shape.setdefault(img.shape, []).append(i)
        for shape, idx in by_shape.items():
            if min(shape[:2]) < 12:  # smaller than MTCNN's smallest window
                for i in idx:
                    results[i] = []
                continue
            with torch.inference_mode():
                boxes, probs, points = self._mtcnn.detect(np.stack([inputs[i] for i in idx]), landmarks=True)
            for j, i in enumerate(idx):
                results[i] = self._faces(frames[i], boxes[j], probs[j], points[j], 1.0 / scale, with_crops)
        return results  # type: ignore[return-value]

    def _faces(self, rgb, boxes, probs, points, inv_scale, with_crops) -> list[DetectedFace]:
        if boxes is None or len(boxes) == 0:
            return []
        boxes = np.asarray(boxes).astype(np.float32) * inv_scale
        probs = np.asarray(probs).astype(np.float32)
        points = np.asarray(points).astype(np.float32) * inv_scale
        faces = []
        for box, prob, pts in zip(boxes, probs, points):
            if prob < self.min_prob:
                continue
            crop = crop_face(rgb, box, self.margin, self.crop_size) if with_crops else None
            faces.append(DetectedFace(box=box, prob=float(prob), landmarks=pts, crop=crop))
        return faces

    def add_crops(self, rgb: np.ndarray, faces: list[DetectedFace]) -> list[DetectedFace]:
        for face in faces:
            if face.crop is None:
                face.crop = crop_face(rgb, face.box, self.margin, self.crop_size)
        return faces
