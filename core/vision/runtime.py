"""Where inference runs: the device (CUDA, MPS or the CPU), the CPU threads, and ONNX Runtime sessions.

The embedders (core.vision.embed) and MTCNN's networks (core.vision.mtcnn_numpy) run in what this
module chooses and opens; neither torch nor onnxruntime is imported until a function needs it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

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


MAX_DEFAULT_THREADS = 4  # more rarely helps at batch size 1


def default_threads() -> int:
    """OMP_NUM_THREADS when it is set (the usual cap on a shared machine), else the cores this process
    may use, at most MAX_DEFAULT_THREADS."""
    cap = os.environ.get("OMP_NUM_THREADS", "").strip()
    if cap.isdigit() and int(cap) > 0:
        return int(cap)
    return min(MAX_DEFAULT_THREADS, available_cores())


def available_cores() -> int:
    """The cores this process may run on (its affinity where the OS has one, else every core)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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


# ---- ONNX Runtime ----------------------------------------------------------------------------------


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def choose_backend(device: str, preference: str = "auto") -> str:
    """ "onnx" or "torch" for the embedder; `preference` is settings.compute.embed_backend."""
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


def ort_session(
    model: Path | bytes, threads: int = 0, lean: bool = False, tuned_dir: Path | None = None, arena: bool = False
):
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
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED if lean else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    )
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
            log.warning(
                "The tuned copy %s cannot be loaded (%s); %s",
                path.name,
                type(exc).__name__,
                "making it again." if attempt == 1 else "loading the original.",
            )
            tuned_onnx.remove(path)
    return None


_SESSIONS: dict[tuple[str, int, str], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def shared_embedder_session(model_path: Path, threads: int = 0, tuned_dir: Path | None = None) -> Any:
    """The lean session of an embedder's file, shared across the process per file, thread count and
    tuning (ONNX Runtime's `run` is thread-safe)."""
    key = (str(model_path), int(threads), str(tuned_dir))
    with _SESSIONS_LOCK:
        if key not in _SESSIONS:
            _SESSIONS[key] = ort_session(Path(model_path), threads, lean=True, tuned_dir=tuned_dir)
        return _SESSIONS[key]
