"""Face embedder: aligned crops in, L2-normalised vectors out, batched, on CUDA, MPS or the CPU.

Two backends behind one API: `Embedder` (torch, any device) and `OnnxEmbedder` (ONNX Runtime, CPU).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.vision.detect import DEFAULT_CROP_SIZE

log = logging.getLogger(__name__)


def _gpu_possible() -> bool:
    """Whether a CUDA driver or Apple silicon is present, found without importing torch."""
    import platform

    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if sys.platform == "win32":
        return (Path(os.environ.get("SystemRoot", r"C:\Windows")) / "System32" / "nvcuda.dll").exists()
    # NVIDIA's kernel driver, WSL2's GPU device, or ROCm's (torch's ROCm build also says "cuda")
    return any(Path(p).exists() for p in ("/proc/driver/nvidia/version", "/dev/dxg", "/dev/kfd"))


def choose_device(preference: str = "auto") -> str:
    """CUDA, then Apple MPS, then the CPU; an explicit choice that is not available falls back to the CPU.

    On a machine with no GPU driver (and not Apple silicon) "auto" and "cpu" are settled without
    importing torch, so CPU inference (ONNX Runtime) never loads it.
    """
    preference = (preference or "auto").lower()
    if preference == "cpu" or (preference == "auto" and not _gpu_possible()):
        return "cpu"
    if importlib.util.find_spec("torch") is None:
        if preference != "auto":
            log.warning("%s was requested but torch is not installed; using the CPU.", preference)
        return "cpu"
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if preference == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if preference.startswith("cuda") and not cuda:
        log.warning("CUDA was requested but no CUDA GPU is available; using the CPU.")
        return "cpu"
    if preference == "mps" and not mps:
        log.warning("MPS was requested but is not available; using the CPU.")
        return "cpu"
    return preference


def describe_device(device: str) -> str:
    if device.startswith("cuda") or device == "mps":
        import torch

        if device.startswith("cuda") and torch.cuda.is_available():
            return f"GPU: {torch.cuda.get_device_name(torch.device(device))}"
        if device == "mps":
            return "GPU: Apple MPS"
    return f"CPU ({cpu_threads()} threads)"


_CPU_THREADS = 0  # set by configure_threads; 0 = the default


def default_threads() -> int:
    """The core count, capped at 4 (more rarely helps at batch size 1)."""
    return min(4, os.cpu_count() or 1)


def cpu_threads() -> int:
    """Intra-op threads for CPU inference: each ONNX Runtime session, and torch."""
    return _CPU_THREADS or default_threads()


def configure_threads(count: int = 0) -> int:
    """Set the CPU inference threads (0: default_threads()). torch gets them now if it is loaded,
    else when a torch path loads it (apply_torch_threads); it is never imported here."""
    global _CPU_THREADS
    _CPU_THREADS = int(count or default_threads())
    if sys.modules.get("torch") is not None:
        apply_torch_threads()
    return _CPU_THREADS


def apply_torch_threads() -> None:
    import torch

    if torch.get_num_threads() != cpu_threads():
        torch.set_num_threads(cpu_threads())


def preprocess(crops: np.ndarray, mode: str) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32 as the model was trained."""
    x = crops.astype(np.float32)
    if mode == "prewhiten":
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        std = x.std(axis=(1, 2, 3), keepdims=True)
        x = (x - mean) / np.maximum(std, np.float32(1.0 / np.sqrt(x[0].size)))
    elif mode == "fixed":
        x = (x - 127.5) / 128.0
    elif mode == "raw":  # 0-255 as they are: the network normalises inside (SFace)
        pass
    else:
        raise ValueError(f"Unknown preprocessing {mode!r}")
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


@dataclass
class EmbedderInfo:
    model_id: str
    embedding_size: int
    preprocessing: str
    crop_margin: int
    device: str


class BatchedEmbedder:
    """Shared by both backends: list or array of crops in, (N, D) unit vectors out, in batches."""

    info: EmbedderInfo
    batch_size: int

    @property
    def model_id(self) -> str:
        return self.info.model_id

    @property
    def dim(self) -> int:
        return self.info.embedding_size

    def embed(self, crops: np.ndarray | list[np.ndarray]) -> np.ndarray:
        if isinstance(crops, list):
            crops = np.stack(crops) if crops else np.zeros((0, DEFAULT_CROP_SIZE, DEFAULT_CROP_SIZE, 3), np.uint8)
        if len(crops) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = [self._embed_batch(preprocess(crops[start:start + self.batch_size], self.info.preprocessing))
               for start in range(0, len(crops), self.batch_size)]
        return np.concatenate(out).astype(np.float32)

    def _embed_batch(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Embedder(BatchedEmbedder):
    """Runs an InceptionResnetV1 in torch inference mode. `embed` takes crops, returns unit vectors."""

    backend = "torch"

    def __init__(self, network, info: EmbedderInfo, batch_size: int = 32):
        import torch

        self.info = info
        self.batch_size = batch_size
        self.device = torch.device(info.device)
        if self.device.type == "cpu":
            apply_torch_threads()
        self.network = network.to(self.device).eval()

    def _embed_batch(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            vectors = self.network(torch.from_numpy(batch).to(self.device))
            return torch.nn.functional.normalize(vectors.float(), dim=1).cpu().numpy()


# ---- ONNX Runtime backend ------------------------------------------------------------------------
#
# On the CPU an ONNX Runtime session runs the same InceptionResnetV1 about 1.5-3x faster than torch
# eager at batch 1 (benchmarks/embed_backends.py). The network is exported once per weights file and
# cached beside it as `<weights stem>.<sha256[:16]>.v<N>.onnx`, so a changed weights file gets a new
# export. Without onnxruntime (or without the `onnx` package the exporter needs, when nothing is
# cached yet) the torch Embedder is used. GPUs run torch: the onnxruntime wheel here is the CPU build.

ONNX_EXPORT_VERSION = 2  # bump when the export recipe changes: old cached files are then ignored (2: sidecar, .data)
ONNX_OPSET = 17


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def choose_backend(device: str, preference: str = "auto") -> str:
    """"onnx" or "torch" for the embedder; `preference` is settings.compute.embed_backend."""
    preference = str(preference or "auto").lower()
    if preference not in ("auto", "onnx", "torch"):
        log.warning("Unknown embedder backend %r; using auto.", preference)
        preference = "auto"
    if preference == "torch":
        return "torch"
    if device != "cpu":
        if preference == "onnx":
            log.warning("The ONNX Runtime embedder runs on the CPU only; using torch on %s.", device)
        return "torch"
    if not onnxruntime_available():
        if preference == "onnx":
            log.warning("onnxruntime is not installed; using the torch embedder.")
        return "torch"
    return "onnx"


def onnx_path_for(weights: Path, sha256: str) -> Path:
    """Where the ONNX export of a weights file is cached: beside it, keyed by its checksum."""
    weights = Path(weights)
    return weights.with_name(f"{weights.stem}.{sha256[:16]}.v{ONNX_EXPORT_VERSION}.onnx")


def onnx_export_bytes(network, example, input_name: str, output_names: list[str], dynamic_axes: dict) -> bytes:
    """The one ONNX export recipe (the embedder and MTCNN's nets): torch's TorchScript exporter at
    ONNX_OPSET, warnings silenced, the model as bytes."""
    import io
    import warnings

    import torch

    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network, (example,), buffer, dynamo=False, input_names=[input_name],
                          output_names=output_names, opset_version=ONNX_OPSET, dynamic_axes=dynamic_axes)
    return buffer.getvalue()


def export_onnx(network, path: Path, info: dict | None = None, crop_size: int = DEFAULT_CROP_SIZE) -> Path:
    """Export an InceptionResnetV1 (eval mode, CPU) to `path` atomically with a sha256 sidecar
    (core.vision.onnx_files); batch size is dynamic."""
    import torch

    from core.vision.onnx_files import write_onnx_checked

    was_training = network.training
    network.eval()
    try:
        model = onnx_export_bytes(network.cpu(), torch.zeros(2, 3, crop_size, crop_size), "crops",
                                  ["embeddings"], {"crops": {0: "batch"}, "embeddings": {0: "batch"}})
    finally:
        network.train(was_training)
    return write_onnx_checked(model, Path(path), dict(info or {}, export_version=ONNX_EXPORT_VERSION),
                              external_data=True)


def ort_session(model: Path | bytes, threads: int = 0, lean: bool = False, tuned_dir: Path | None = None,
                arena: bool = False):
    """A CPU InferenceSession with `threads` intra-op threads (0: cpu_threads()) that sleep
    instead of spinning when idle, so a decoder or GUI thread keeps its core.

    tuned_dir: load the file's copy tuned for this CPU from there (core.vision.tuned_onnx), made on
    first use: full optimisation with its weights mapped, not copied. If that copy cannot be made or
    loaded, the file itself is loaded as below.
    arena: see below.
    lean (the embedders, untuned): graph optimisations short of the layout rewrite, which copies every
    convolution's weights (for FaceNet about 55 MB more peak memory and a 3x slower start).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads or cpu_threads()))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # arena (MTCNN: inputs of many shapes, a pyramid level or a batch of candidates per call): ONNX
    # Runtime's arena reuses its blocks where malloc fragments (detecting every Hamilton frame peaked at
    # 419 MB without it, 223 MB with it), and no memory pattern, which would plan one block per shape.
    # The embedders (a few batch sizes) allocate per run: an arena would keep its largest batch's memory.
    options.enable_cpu_mem_arena = arena
    options.enable_mem_pattern = not arena
    options.log_severity_level = 3
    if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if tuned_dir is not None and not isinstance(model, bytes):
        session = _tuned_session(Path(model), Path(tuned_dir), options)
        if session is not None:
            return session
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED if lean
                                        else ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def _tuned_session(model: Path, tuned_dir: Path, options):
    """A session on the tuned copy of `model` (already optimised: loaded as it is), or None."""
    import onnxruntime as ort

    from core.vision import tuned_onnx

    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    for attempt in (1, 2):
        try:
            path = tuned_onnx.tuned_copy(model, tuned_dir)
        except Exception as exc:  # noqa: BLE001 - a read-only folder, a full disk, ONNX Runtime refusing
            log.warning("No tuned copy of %s (%s: %s); loading it untuned.", model.name, type(exc).__name__, exc)
            return None
        try:
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - checked but unloadable: make it again, once
            log.warning("The tuned copy %s cannot be loaded (%s); %s", path.name, type(exc).__name__,
                        "making it again." if attempt == 1 else "loading the original.")
            tuned_onnx.remove(path)
    return None


_SESSIONS: dict[tuple[str, int, str], object] = {}
_SESSIONS_LOCK = threading.Lock()


class OnnxEmbedder(BatchedEmbedder):
    """The Embedder API (`embed`, `model_id`, `dim`, `info`) on an ONNX Runtime CPU session.

    Sessions are shared per file, thread count and tuning across the process; `run` is thread-safe.
    """

    backend = "onnx"

    def __init__(self, model_path: Path, info: EmbedderInfo, batch_size: int = 32, threads: int = 0,
                 tuned_dir: Path | None = None):
        self.info = info
        self.batch_size = batch_size
        self.model_path = Path(model_path)
        self.device = "cpu"
        key = (str(self.model_path), int(threads), str(tuned_dir))
        with _SESSIONS_LOCK:
            if key not in _SESSIONS:
                _SESSIONS[key] = ort_session(self.model_path, threads, lean=True, tuned_dir=tuned_dir)
            self.session = _SESSIONS[key]
        self._input = self.session.get_inputs()[0].name

    def _embed_batch(self, batch: np.ndarray) -> np.ndarray:
        vectors = self.session.run(None, {self._input: batch})[0].astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)  # as torch.nn.functional.normalize
