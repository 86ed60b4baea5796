"""Face detection and alignment: MTCNN (facenet-pytorch's, or its numpy + ONNX Runtime port) or YuNet.

Every face comes back with its box, probability, 5 landmarks and an aligned square crop
(the box plus a margin, resized to `crop_size`), the way the FaceNet embedders were trained.
A frame with no face gives an empty list.

Two detectors behind one API (`kind`, settings.compute.detector):
- "mtcnn": below.
- "yunet": OpenCV Zoo's YuNet in OpenCV's DNN (core.vision.yunet), about a third of MTCNN's cost per frame.
  Its landmarks land where MTCNN's do (docs/performance.md): SFace's 5-point alignment is cut from
  them, and FaceNet's box is the box MTCNN would draw around those landmarks; its score is mapped onto
  MTCNN's probability scale (core.vision.yunet.mtcnn_equivalent_prob), so the probability gates keep
  their meaning. Chosen with compute.detector = yunet; auto stays MTCNN until liveness is calibrated on
  YuNet's landmarks.

MTCNN's two backends:
- "onnx" (the CPU default): core.vision.mtcnn_numpy, MTCNN's stages in numpy and its three networks
  in ONNX Runtime from files in the models folder. Neither torch nor facenet-pytorch is imported.
  If the files are missing, they are exported on the spot when torch is installed (a logged warning
  says to run `rollcall models export-onnx` at setup); without torch it is a WeightsError saying so.
- "torch": facenet-pytorch's MTCNN, for CUDA/MPS, settings.compute.detect_backend = "torch", and a CPU
  without onnxruntime.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.vision.images import DEFAULT_CROP_SIZE, to_rgb

log = logging.getLogger(__name__)


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


def crop_face(rgb: np.ndarray, box: np.ndarray, margin: float = 32, size: int = DEFAULT_CROP_SIZE) -> np.ndarray:
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
    region = rgb[max(top, 0) : min(bottom, h), max(left, 0) : min(right, w)]
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
        crop_size: int = DEFAULT_CROP_SIZE,
        min_prob: float = 0.9,
        backend: str = "auto",  # "auto"/"onnx": numpy + ONNX Runtime on the CPU when available; "torch"
        models_dir: Path | None = None,  # where the MTCNN ONNX files are (default: settings.models_dir())
        tuned_dir: Path | None = None,  # their copies tuned for this CPU (core.vision.tuned_onnx); None: untuned
        kind: str = "mtcnn",  # "mtcnn" or "yunet" (choose_detector resolves settings.compute.detector)
    ):
        from core.vision.runtime import onnxruntime_available

        self.device = device
        self.margin = margin
        self.crop_size = crop_size
        self.min_prob = min_prob
        self.min_face_size = min_face_size
        self.thresholds = tuple(thresholds)
        self._mtcnn = None
        self._onnx_nets = None
        self._yunet = None
        self.kind = str(kind).lower()
        backend = str(backend or "auto").lower()  # settings.compute.detect_backend
        if self.kind == "yunet":
            from core.base.settings import models_dir as default_models_dir
            from core.vision.yunet import YUNET_MIN_SCORE, YunetNet, yunet_path

            self._yunet = YunetNet(
                yunet_path(Path(models_dir or default_models_dir()), allow_network=False), YUNET_MIN_SCORE
            )
            self.backend = "opencv"
        elif self.kind != "mtcnn":
            raise ValueError(f"Unknown face detector {kind!r}: use mtcnn or yunet.")
        elif str(device) == "cpu" and backend in ("auto", "onnx") and onnxruntime_available():
            from core.base.settings import models_dir as default_models_dir
            from core.vision.mtcnn_numpy import OnnxMtcnnNets
            from core.vision.onnx_files import ensure_mtcnn
            from core.vision.runtime import cpu_threads

            self._onnx_nets = OnnxMtcnnNets(
                ensure_mtcnn(Path(models_dir or default_models_dir())), detector_threads(cpu_threads()), tuned_dir
            )
            self.backend = "onnx"
        else:
            from facenet_pytorch import MTCNN

            from core.vision.runtime import apply_torch_threads

            if str(device) == "cpu":
                apply_torch_threads()
            self._mtcnn = MTCNN(
                image_size=crop_size,
                margin=margin,
                min_face_size=min_face_size,
                thresholds=list(thresholds),
                keep_all=True,
                post_process=False,
                device=device,
            )
            self.backend = "torch"

    def detect(
        self,
        rgb: np.ndarray,
        scale: float = 1.0,
        with_crops: bool = True,
        min_face_px: float | None = None,
        thresholds: tuple[float, float, float] | None = None,
    ) -> list[DetectedFace]:
        return self.detect_batch(
            [rgb], scale=scale, with_crops=with_crops, min_face_px=min_face_px, thresholds=thresholds
        )[0]

    def detect_batch(
        self,
        frames: list[np.ndarray],
        scale: float = 1.0,
        with_crops: bool = True,
        min_face_px: float | None = None,
        thresholds: tuple[float, float, float] | None = None,
    ) -> list[list[DetectedFace]]:
        """Detect faces in RGB frames. Frames of one size run as one MTCNN batch.

        min_face_px: smallest face to look for, in pixels of the frames as given (None: the
        detector's min_face_size applied to the scaled frame, i.e. min_face_size / scale).
        MTCNN's cost depends on this size, not on `scale`; a reduced scale mainly saves the
        conversion and first pyramid level of a large frame.
        thresholds: MTCNN's P/R/O-Net thresholds for this call (None: the detector's).
        """
        minsize = self.min_face_size if min_face_px is None else max(12.0, float(min_face_px) * scale)
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
            batch_boxes, batch_points = self._run(
                np.stack([inputs[i] for i in idx]), minsize, list(thresholds or self.thresholds)
            )
            for j, i in enumerate(idx):
                box, pts = np.asarray(batch_boxes[j]), np.asarray(batch_points[j])
                if len(box) == 0:
                    results[i] = []
                    continue
                order = np.argsort((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]))[::-1]  # largest first,
                box, pts = box[order], pts[order]  # as MTCNN(select_largest=True).detect returns them
                results[i] = self._faces(frames[i], box[:, :4], box[:, 4], pts, 1.0 / scale, with_crops)
        return results  # type: ignore[return-value]

    def _run(self, batch: np.ndarray, minsize: float, thresholds: list[float]):
        """Per frame, (K, 5) boxes with probabilities and (K, 5, 2) landmarks."""
        if self._yunet is not None:
            return self._run_yunet(batch, minsize)
        if self._onnx_nets is not None:
            from core.vision.mtcnn_numpy import FACTOR, detect_faces

            return detect_faces(batch, minsize, *self._onnx_nets.nets, thresholds, FACTOR)
        import torch
        from facenet_pytorch.models.utils.detect_face import detect_face

        m = self._mtcnn
        assert m is not None  # the torch backend
        with torch.inference_mode():  # MTCNN.detect without its PIL handling, with our minsize and thresholds
            return detect_face(batch, minsize, m.pnet, m.rnet, m.onet, thresholds, m.factor, m.device)

    def _run_yunet(self, batch: np.ndarray, minsize: float):
        """YuNet frame by frame; faces well under `minsize` (short side), which MTCNN would not look for,
        are dropped, and the score becomes MTCNN's probability scale."""
        from core.vision.yunet import YUNET_BOX_TOLERANCE, box_from_landmarks, mtcnn_equivalent_prob

        assert self._yunet is not None
        all_boxes, all_points = [], []
        for rgb in batch:
            boxes, points = self._yunet.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            for k in range(len(boxes)):  # FaceNet's box as MTCNN draws it, from the landmarks
                boxes[k, :4] = box_from_landmarks(points[k], boxes[k, :4])
            keep = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= minsize * YUNET_BOX_TOLERANCE
            boxes, points = boxes[keep], points[keep]
            boxes[:, 4] = mtcnn_equivalent_prob(boxes[:, 4])
            all_boxes.append(boxes)
            all_points.append(points)
        return all_boxes, all_points

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


def choose_detector(setting: str, device: str) -> str:
    """ "mtcnn" or "yunet" for settings.compute.detector.

    auto is MTCNN for now, on every device: YuNet meets the recall and recognition figures
    (docs/performance.md), but the liveness checks were calibrated on MTCNN's landmarks and, on YuNet's,
    the passive photo filter let a held-up photo through (tests/live/test_liveness.py). yunet is chosen
    explicitly; on a device other than the CPU it is still MTCNN, the torch/CUDA path's detector."""
    setting = str(setting or "auto").lower()
    if setting == "yunet" and str(device) == "cpu":
        return "yunet"
    return "mtcnn"


def detector_threads(threads: int) -> int:
    """ONNX Runtime threads for each MTCNN network: at most two. Measured on 2 cores: on the Hamilton clip
    2 threads take 29.5 ms per detection against 43 ms for 1 (benchmarks/realtime.py, idle machine), and
    with another process holding a core, 70 ms against 69 ms: no worse where the kiosk shares its CPU."""
    return max(1, min(2, int(threads)))
