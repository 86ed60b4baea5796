"""A hallway's conditions applied to a photo: dim or side light, defocus, motion blur, distance, heavy JPEG.

Seeded and sized from the face (its box), so a condition is equally hard on a large and a small photo.
Used by benchmarks/conditions.py, and reusable for training augmentation.
"""

from __future__ import annotations

import enum

import cv2
import numpy as np


class Degradation(enum.StrEnum):
    DIM = "dim"
    SIDE_LIGHT = "side light"
    DEFOCUS = "defocus"
    MOTION_BLUR = "motion blur"
    FAR = "far"
    JPEG = "heavy JPEG"


DIM_LIGHT = 0.25  # a quarter of the light
DIM_NOISE_SIGMA = 6.0  # sensor noise at that light, grey levels
DIM_JPEG_QUALITY = 70
HEAVY_JPEG_QUALITY = 8
FAR_SCALE = 0.4  # the photo at 40 % of its side: a 110 px face becomes about 45 px, near the kiosk's 40 px floor
DEFOCUS_RADIUS = 0.035  # disc radius as a share of the face's width
MOTION_LENGTH = 0.08  # streak length as a share of the face's width
SIDE_LIGHT_FAR = 0.2  # the far side of the face gets this share of the light


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError("JPEG decoding failed")
    return np.ascontiguousarray(decoded[:, :, ::-1])


def _disc_kernel(radius: float) -> np.ndarray:
    r = max(1.0, radius)
    size = int(np.ceil(r)) * 2 + 1
    yy, xx = np.mgrid[:size, :size] - size // 2
    kernel = (np.hypot(xx, yy) <= r).astype(np.float32)
    return kernel / kernel.sum()


def _line_kernel(length: float, angle: float) -> np.ndarray:
    size = max(3, int(np.ceil(length)) | 1)
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(angle) * (size - 1) / 2, np.sin(angle) * (size - 1) / 2
    cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))), 1.0, 1)
    return kernel / kernel.sum()


def degrade(rgb: np.ndarray, kind: Degradation, face_box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of the RGB uint8 photo under `kind`; `face_box` (x1, y1, x2, y2) sizes blur and light."""
    face_width = max(1.0, float(face_box[2] - face_box[0]))
    image = rgb.astype(np.float32)
    if kind is Degradation.DIM:
        noisy = image * DIM_LIGHT + rng.normal(0.0, DIM_NOISE_SIGMA, image.shape)
        return jpeg(np.clip(noisy, 0, 255).astype(np.uint8), DIM_JPEG_QUALITY)
    if kind is Degradation.SIDE_LIGHT:
        h, w = rgb.shape[:2]
        centre = (float(face_box[0]) + float(face_box[2])) / 2
        x = (np.arange(w, dtype=np.float32) - centre) / face_width  # -0.5 .. 0.5 across the face
        side = 1.0 if rng.random() < 0.5 else -1.0
        ramp = np.clip(0.5 + side * x * rng.uniform(1.0, 1.4), 0.0, 1.0)
        light = SIDE_LIGHT_FAR + (1.15 - SIDE_LIGHT_FAR) * ramp
        lit = image * light[None, :, None] + rng.normal(0.0, 2.0, image.shape)
        return np.clip(lit, 0, 255).astype(np.uint8)
    if kind is Degradation.DEFOCUS:
        kernel = _disc_kernel(DEFOCUS_RADIUS * face_width * rng.uniform(0.85, 1.15))
        return np.clip(cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT), 0, 255).astype(np.uint8)
    if kind is Degradation.MOTION_BLUR:
        kernel = _line_kernel(MOTION_LENGTH * face_width * rng.uniform(0.85, 1.15), rng.uniform(0, np.pi))
        return np.clip(cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT), 0, 255).astype(np.uint8)
    if kind is Degradation.FAR:
        h, w = rgb.shape[:2]
        size = (max(12, int(round(w * FAR_SCALE))), max(12, int(round(h * FAR_SCALE))))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return jpeg(rgb, HEAVY_JPEG_QUALITY)
