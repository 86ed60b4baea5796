"""MTCNN without torch: the stages of facenet-pytorch 2.6's `detect_face` in numpy, the networks in ONNX Runtime.

A line-by-line port, in float32 like the original, of: the scale pyramid, torch's "area" resampling
(adaptive average pooling: window [floor(i*in/out), ceil((i+1)*in/out)), not OpenCV's INTER_AREA),
P-Net's candidate boxes, torchvision's `batched_nms` ('Union' IoU, area without +1, per scale at 0.5
and per image at 0.7), box regression, square-ing, padding, R-Net and O-Net on 24 and 48 px crops,
landmark mapping and the final 'Min' NMS (area with +1) of facenet-pytorch's own numpy code.

The three networks are ONNX files exported once from facenet-pytorch's weights
(core.vision.onnx_files.export_mtcnn) and stored, with sha256 sidecars, in the models folder.
tests/vision/test_onnx_inference.py checks boxes, landmarks and probabilities against facenet-pytorch.

One deliberate difference: a box whose padded crop is empty (wholly outside the frame) is dropped;
facenet-pytorch skips its crop but keeps the box, which misaligns the network outputs with the boxes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

FACTOR = 0.709  # facenet-pytorch's pyramid step
NET_INPUT = {"rnet": 24, "onet": 48}

Net = Callable[[np.ndarray], list[np.ndarray]]  # NCHW float32 in, the network's outputs out


def _pool_bounds(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive average pooling's windows along one axis (as torch computes them, in integers)."""
    a = np.arange(n_out, dtype=np.int64)
    return (a * n_in) // n_out, -((-(a + 1) * n_in) // n_out)


def _integral(images: np.ndarray) -> np.ndarray:
    """(N, H+1, W+1, C) integer running sums of (N, H, W, C) uint8 images: any window's sum is exact.
    OpenCV's integral (int32, exact below 2**31) is several times faster than two numpy cumsums."""
    n, h, w, c = images.shape
    if h * w * 255 < 2**31 and images.dtype == np.uint8 and c <= 4:
        sums = np.stack([cv2.integral(np.ascontiguousarray(image), sdepth=cv2.CV_32S) for image in images])
        return sums.reshape(n, h + 1, w + 1, c)
    sums = np.zeros((n, h + 1, w + 1, c), np.int64)
    np.cumsum(images, axis=1, dtype=np.int64, out=sums[:, 1:, 1:])
    np.cumsum(sums[:, 1:, 1:], axis=2, dtype=np.int64, out=sums[:, 1:, 1:])
    return sums


def _area_resize_regions(
    sums: np.ndarray,
    image_inds: np.ndarray,
    tops: np.ndarray,
    bottoms: np.ndarray,
    lefts: np.ndarray,
    rights: np.ndarray,
    out_h: int,
    out_w: int,
) -> np.ndarray:
    """torch `interpolate(mode="area")` of K regions [top:bottom, left:right] of the images whose
    `_integral` is `sums`, each to (out_h, out_w): (K, out_h, out_w, C) float32."""
    a_h = np.arange(out_h, dtype=np.int64)[None, :]
    a_w = np.arange(out_w, dtype=np.int64)[None, :]
    height = (bottoms - tops).astype(np.int64)[:, None]
    width = (rights - lefts).astype(np.int64)[:, None]
    ys = tops[:, None] + (a_h * height) // out_h
    ye = tops[:, None] - ((-(a_h + 1) * height) // out_h)
    xs = lefts[:, None] + (a_w * width) // out_w
    xe = lefts[:, None] - ((-(a_w + 1) * width) // out_w)
    n, rows, cols, channels = sums.shape
    flat = sums.reshape(-1, channels)
    y0 = (np.asarray(image_inds, np.int64)[:, None] * rows + ys)[:, :, None] * cols  # flat row offsets
    y1 = (np.asarray(image_inds, np.int64)[:, None] * rows + ye)[:, :, None] * cols
    x0, x1 = xs[:, None, :], xe[:, None, :]
    window = (
        flat.take((y1 + x1).ravel(), axis=0)
        - flat.take((y0 + x1).ravel(), axis=0)
        - flat.take((y1 + x0).ravel(), axis=0)
        + flat.take((y0 + x0).ravel(), axis=0)
    )
    area = ((ye - ys)[:, :, None] * (xe - xs)[:, None, :]).astype(np.float32)
    return window.reshape(len(ys), out_h, out_w, channels).astype(np.float32) / area[..., None]


def area_resize(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """An (H, W, C) uint8 image resized as torch's interpolate(mode="area") does; float32."""
    one = np.zeros(1, np.int64)
    return _area_resize_regions(
        _integral(img[None]), one, one, one + img.shape[0], one, one + img.shape[1], out_h, out_w
    )[0]


def _normalise(hwc: np.ndarray) -> np.ndarray:
    """(N, H, W, C) float32 pixels -> (N, C, H, W) network input."""
    return np.ascontiguousarray(((hwc - np.float32(127.5)) * np.float32(0.0078125)).transpose(0, 3, 1, 2))


def nms_union(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """torchvision.ops.nms: kept indices by falling score; IoU with area (x2-x1)*(y2-y1), float32."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[:, k], np.float32) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    limit = np.float32(threshold)
    # every pair's IoU at once, by the same float32 expressions (boxes in score order)
    x1, y1, x2, y2, areas = x1[order], y1[order], x2[order], y2[order], areas[order]
    w = np.maximum(np.float32(0), np.minimum(x2[:, None], x2[None, :]) - np.maximum(x1[:, None], x1[None, :]))
    h = np.maximum(np.float32(0), np.minimum(y2[:, None], y2[None, :]) - np.maximum(y1[:, None], y1[None, :]))
    inter = w * h
    over = inter / (areas[:, None] + areas[None, :] - inter) > limit
    suppressed = np.zeros(len(boxes), bool)
    keep = []
    for pos in range(len(order)):
        if suppressed[pos]:
            continue
        keep.append(pos)
        suppressed[pos + 1 :] |= over[pos, pos + 1 :]
    return order[np.asarray(keep, np.int64)]


def nms_min(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """facenet-pytorch's `nms_numpy(..., 'Min')`: overlap over the smaller area (with +1)."""
    if boxes.size == 0:
        return np.zeros(0, np.int64)
    x1, y1, x2, y2 = boxes[:, 0].copy(), boxes[:, 1].copy(), boxes[:, 2].copy(), boxes[:, 3].copy()
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)
    pick = []
    while order.size > 0:
        i = order[-1]
        pick.append(i)
        idx = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[idx]) - np.maximum(x1[i], x1[idx]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[idx]) - np.maximum(y1[i], y1[idx]) + 1)
        overlap = w * h / np.minimum(area[i], area[idx])
        order = order[np.where(overlap <= threshold)]
    return np.asarray(pick, np.int64)


def _per_image(nms, boxes: np.ndarray, image_inds: np.ndarray, threshold: float) -> np.ndarray:
    """NMS within each image, kept indices by falling score (as torchvision's batched_nms)."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    kept = [
        np.flatnonzero(image_inds == b)[nms(boxes[image_inds == b, :4], boxes[image_inds == b, 4], threshold)]
        for b in np.unique(image_inds)
    ]
    keep = np.concatenate(kept)
    return keep[np.argsort(-boxes[keep, 4], kind="stable")]


def _candidates(reg: np.ndarray, probs: np.ndarray, scale: float, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """facenet-pytorch's generateBoundingBox: (K, 9) [x1, y1, x2, y2, score, 4 offsets] and image indices."""
    image_inds, yy, xx = np.nonzero(probs >= np.float32(threshold))
    score = probs[image_inds, yy, xx]
    offsets = reg[image_inds, :, yy, xx]
    bb = np.stack([xx, yy], axis=1).astype(np.float32)
    scale32 = np.float32(scale)
    q1 = np.floor((np.float32(2) * bb + np.float32(1)) / scale32)
    q2 = np.floor((np.float32(2) * bb + np.float32(12)) / scale32)
    return np.concatenate([q1, q2, score[:, None], offsets], axis=1).astype(np.float32), image_inds


def _square(boxes: np.ndarray) -> np.ndarray:
    """facenet-pytorch's rerec: each box made square about its centre, side = the longer side."""
    boxes = boxes.copy()
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = np.maximum(w, h)
    boxes[:, 0] = boxes[:, 0] + w * np.float32(0.5) - side * np.float32(0.5)
    boxes[:, 1] = boxes[:, 1] + h * np.float32(0.5) - side * np.float32(0.5)
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def _regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """facenet-pytorch's bbreg: offsets scaled by the (+1) box size."""
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, 0] = boxes[:, 0] + offsets[:, 0] * w
    boxes[:, 1] = boxes[:, 1] + offsets[:, 1] * h
    boxes[:, 2] = boxes[:, 2] + offsets[:, 2] * w
    boxes[:, 3] = boxes[:, 3] + offsets[:, 3] * h
    return boxes


def _pad(boxes: np.ndarray, w: int, h: int) -> tuple[np.ndarray, ...]:
    """facenet-pytorch's pad: truncated integer corners clipped to the frame (1-based top-left)."""
    b = np.trunc(boxes[:, :4]).astype(np.int32)
    x, y, ex, ey = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    x[x < 1] = 1
    y[y < 1] = 1
    ex[ex > w] = w
    ey[ey > h] = h
    return y, ey, x, ex


def _crops(
    sums: np.ndarray, boxes: np.ndarray, image_inds: np.ndarray, size: int, w: int, h: int
) -> tuple[np.ndarray, np.ndarray]:
    """Network inputs for the boxes, and which boxes had a non-empty crop."""
    y, ey, x, ex = _pad(boxes, w, h)
    valid = (ey > y - 1) & (ex > x - 1)
    crops = _area_resize_regions(sums, image_inds[valid], y[valid] - 1, ey[valid], x[valid] - 1, ex[valid], size, size)
    return _normalise(crops), valid


def pyramid_scales(height: int, width: int, min_face_size: float, factor: float = FACTOR) -> list[float]:
    m = 12.0 / min_face_size
    minl = min(height, width) * m
    scales = []
    scale = m
    while minl >= 12:
        scales.append(scale)
        scale = scale * factor
        minl = minl * factor
    return scales


def detect_faces(
    images: np.ndarray | Sequence[np.ndarray],
    min_face_size: float,
    pnet: Net,
    rnet: Net,
    onet: Net,
    thresholds: Sequence[float],
    factor: float = FACTOR,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Faces in RGB uint8 frames of one size: per frame, (K, 5) [x1, y1, x2, y2, prob] and (K, 5, 2) landmarks."""
    images = np.asarray(images, np.uint8)
    if images.ndim == 3:
        images = images[None]
    batch, h, w = images.shape[:3]
    sums = _integral(images)
    everyone = np.arange(batch)
    whole = (
        np.full(batch, 0, np.int64),
        np.full(batch, h, np.int64),
        np.full(batch, 0, np.int64),
        np.full(batch, w, np.int64),
    )  # top, bottom, left, right

    # First stage: P-Net over the pyramid, NMS per scale and image, then per image.
    level_boxes: list[np.ndarray] = []
    level_inds: list[np.ndarray] = []
    for scale in pyramid_scales(h, w, min_face_size, factor):
        out_h, out_w = int(h * scale + 1), int(w * scale + 1)
        level = _area_resize_regions(sums, everyone, *whole, out_h, out_w)
        reg, probs = pnet(_normalise(level))[:2]
        found, inds = _candidates(reg, probs[:, 1], scale, thresholds[0])
        keep = _per_image(nms_union, found, inds, 0.5)
        level_boxes.append(found[keep])
        level_inds.append(inds[keep])
    boxes = np.concatenate(level_boxes) if level_boxes else np.zeros((0, 9), np.float32)
    image_inds = np.concatenate(level_inds) if level_inds else np.zeros(0, np.int64)
    keep = _per_image(nms_union, boxes, image_inds, 0.7)
    boxes, image_inds = boxes[keep], image_inds[keep]
    regw = boxes[:, 2] - boxes[:, 0]
    regh = boxes[:, 3] - boxes[:, 1]
    boxes = np.stack(
        [
            boxes[:, 0] + boxes[:, 5] * regw,
            boxes[:, 1] + boxes[:, 6] * regh,
            boxes[:, 2] + boxes[:, 7] * regw,
            boxes[:, 3] + boxes[:, 8] * regh,
            boxes[:, 4],
        ],
        axis=1,
    )
    boxes = _square(boxes)

    # Second stage: R-Net on 24x24 crops.
    if len(boxes):
        data, valid = _crops(sums, boxes, image_inds, NET_INPUT["rnet"], w, h)
        boxes, image_inds = boxes[valid], image_inds[valid]
        reg, probs = rnet(data)[:2]
        score = probs[:, 1]
        passed = score > np.float32(thresholds[1])
        boxes = np.concatenate([boxes[passed, :4], score[passed, None]], axis=1)
        image_inds, reg = image_inds[passed], reg[passed]
        keep = _per_image(nms_union, boxes, image_inds, 0.7)
        boxes, image_inds, reg = boxes[keep], image_inds[keep], reg[keep]
        boxes = _square(_regress(boxes, reg))

    # Third stage: O-Net on 48x48 crops, landmarks, then NMS by the smaller area.
    points = np.zeros((0, 5, 2), np.float32)
    if len(boxes):
        data, valid = _crops(sums, boxes, image_inds, NET_INPUT["onet"], w, h)
        boxes, image_inds = boxes[valid], image_inds[valid]
        reg, marks, probs = onet(data)[:3]
        score = probs[:, 1]
        passed = score > np.float32(thresholds[2])
        marks = marks[passed]
        boxes = np.concatenate([boxes[passed, :4], score[passed, None]], axis=1)
        image_inds, reg = image_inds[passed], reg[passed]
        box_w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        box_h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        points_x = box_w * marks[:, :5] + boxes[:, 0:1] - 1
        points_y = box_h * marks[:, 5:10] + boxes[:, 1:2] - 1
        points = np.stack([points_x, points_y], axis=2)
        boxes = _regress(boxes, reg)
        keep = _per_image(nms_min, boxes, image_inds, 0.7)
        boxes, image_inds, points = boxes[keep], image_inds[keep], points[keep]

    return (
        [boxes[image_inds == b].astype(np.float32) for b in range(batch)],
        [points[image_inds == b].astype(np.float32) for b in range(batch)],
    )


# ---- the networks in ONNX Runtime ---------------------------------------------------------------------


class OnnxMtcnnNets:
    """P-, R- and O-Net as ONNX Runtime sessions, each a `Net` (NCHW float32 in, outputs out)."""

    def __init__(self, paths: dict[str, Path], threads: int, tuned_dir: Path | None = None):
        from core.vision.runtime import ort_session

        self.paths = paths
        self._sessions = {
            name: ort_session(path, threads, tuned_dir=tuned_dir, arena=True) for name, path in paths.items()
        }

    def _runner(self, name: str) -> Net:
        session = self._sessions[name]
        input_name = session.get_inputs()[0].name
        return lambda x: session.run(None, {input_name: x})

    @property
    def nets(self) -> tuple[Net, Net, Net]:
        return self._runner("pnet"), self._runner("rnet"), self._runner("onet")
