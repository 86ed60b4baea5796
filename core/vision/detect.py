"""Face detection and alignment: a wrapper over facenet-pytorch's MTCNN.

Every face comes back with its box, probability, 5 landmarks and an aligned square crop
(the box plus a margin, resized to `crop_size`), the way the FaceNet embedders were trained.
A frame with no face gives an empty list.

On the CPU the three MTCNN networks run in ONNX Runtime when it is installed (exported in memory
from facenet-pytorch's weights once per process; boxes agree with torch to 1e-3 px). The detector is
about 1.5-2x faster that way; the rest of MTCNN (pyramid, NMS) is facenet-pytorch's code unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
import cv2
import numpy as np

from core.vision.images import to_rgb

log = logging.getLogger(__name__)

DEFAULT_CROP_SIZE = 160  # pixels: the square input the FaceNet embedders were trained on


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
        crop_size: int = DEFAULT_CROP_SIZE,
        min_prob: float = 0.9,
        backend: str = "auto",  # "auto"/"onnx": ONNX Runtime nets on the CPU when available; "torch"
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
        self.backend = "torch"
        backend = str(backend or "auto").lower()  # settings.compute.detect_backend
        if str(device) == "cpu" and backend in ("auto", "onnx"):
            nets = _ort_mtcnn_nets(self._mtcnn)
            if nets is not None:
                self._mtcnn.pnet, self._mtcnn.rnet, self._mtcnn.onet = nets
                self.backend = "onnx"

    def detect(self, rgb: np.ndarray, scale: float = 1.0, with_crops: bool = True,
               min_face_px: float | None = None, thresholds: tuple[float, float, float] | None = None
               ) -> list[DetectedFace]:
        return self.detect_batch([rgb], scale=scale, with_crops=with_crops, min_face_px=min_face_px,
                                 thresholds=thresholds)[0]

    def detect_batch(
        self, frames: list[np.ndarray], scale: float = 1.0, with_crops: bool = True,
        min_face_px: float | None = None, thresholds: tuple[float, float, float] | None = None,
    ) -> list[list[DetectedFace]]:
        """Detect faces in RGB frames. Frames of one size run as one MTCNN batch.

        min_face_px: smallest face to look for, in pixels of the frames as given (None: the
        detector's min_face_size applied to the scaled frame, i.e. min_face_size / scale).
        MTCNN's cost depends on this size, not on `scale`; a reduced scale mainly saves the
        conversion and first pyramid level of a large frame.
        thresholds: MTCNN's P/R/O-Net thresholds for this call (None: the detector's).
        """
        import torch
        from facenet_pytorch.models.utils.detect_face import detect_face

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
            m = self._mtcnn
            with torch.inference_mode(), _torch_threads(1 if self.backend == "onnx" else None):
                # MTCNN.detect without its PIL handling, with our minsize and thresholds
                batch_boxes, batch_points = detect_face(np.stack([inputs[i] for i in idx]), minsize, m.pnet,
                                                        m.rnet, m.onet, list(thresholds or m.thresholds),
                                                        m.factor, m.device)
            for j, i in enumerate(idx):
                box, pts = np.asarray(batch_boxes[j]), np.asarray(batch_points[j])
                if len(box) == 0:
                    results[i] = []
                    continue
                order = np.argsort((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]))[::-1]  # largest first,
                box, pts = box[order], pts[order]  # as MTCNN(select_largest=True).detect returns them
                results[i] = self._faces(frames[i], box[:, :4], box[:, 4], pts, 1.0 / scale, with_crops)
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


@contextlib.contextmanager
def _torch_threads(count: int | None):
    """Run torch ops of the calling thread on `count` intra-op threads, then restore the setting.

    With the networks in ONNX Runtime, what is left of MTCNN in torch is hundreds of tiny ops
    (resampling, NMS), for which waking a second thread costs more than it saves, up to tens of
    times more when another process keeps the other core busy. OpenMP keeps the count per thread,
    so other threads (a trainer) are not affected.
    """
    if count is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    if previous == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# ---- ONNX Runtime MTCNN networks --------------------------------------------------------------------

_ORT_NETS: dict[int, tuple] = {}
_ORT_NETS_LOCK = threading.Lock()


def _ort_mtcnn_nets(mtcnn) -> tuple | None:
    """P-, R- and O-Net as ONNX Runtime modules (shared per thread count), or None when
    onnxruntime or the exporter is missing (then torch runs them)."""
    from core.vision.embed import onnxruntime_available

    if not onnxruntime_available():
        return None
    import torch

    threads = torch.get_num_threads()
    with _ORT_NETS_LOCK:
        if threads not in _ORT_NETS:
            try:
                _ORT_NETS[threads] = (
                    _OrtNet(mtcnn.pnet, (1, 3, 64, 80), {0: "batch", 2: "height", 3: "width"}),
                    _OrtNet(mtcnn.rnet, (4, 3, 24, 24), {0: "batch"}),
                    _OrtNet(mtcnn.onet, (4, 3, 48, 48), {0: "batch"}),
                )
            except Exception as exc:  # noqa: BLE001 - e.g. the `onnx` package is missing: use torch
                log.warning("MTCNN runs in torch: ONNX export failed (%s: %s).", type(exc).__name__, exc)
                return None
        return _ORT_NETS[threads]


_ORT_NET_CLASS = None


def _OrtNet(net, example_shape, dynamic_axes):  # noqa: N802 - a class built on first use (torch is lazy)
    global _ORT_NET_CLASS
    if _ORT_NET_CLASS is None:
        import torch

        class OrtNet(torch.nn.Module):
            """One exported MTCNN network behind torch's call interface (CPU tensors in and out)."""

            def __init__(self, net, example_shape, dynamic_axes):
                from core.vision.embed import onnx_export_bytes, ort_session

                super().__init__()
                # detect_face reads the model's dtype from its first parameter.
                self.dtype_probe = torch.nn.Parameter(torch.zeros(1), requires_grad=False)
                example = torch.zeros(example_shape)
                with torch.no_grad():
                    outputs = [f"out{i}" for i in range(len(net(example)))]
                self.session = ort_session(onnx_export_bytes(
                    net, example, "x", outputs, {"x": dynamic_axes, **{o: {0: "batch"} for o in outputs}}))

            def forward(self, x):
                arrays = self.session.run(None, {"x": x.detach().float().contiguous().numpy()})
                return tuple(torch.from_numpy(a) for a in arrays)

        _ORT_NET_CLASS = OrtNet
    return _ORT_NET_CLASS(net, example_shape, dynamic_axes)
