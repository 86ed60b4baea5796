"""Face embedder: aligned crops in, L2-normalised vectors out, batched, on CUDA, MPS or the CPU.

Two backends behind one API: `Embedder` (torch, any device) and `OnnxEmbedder` (ONNX Runtime, CPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.vision.images import DEFAULT_CROP_SIZE
from core.vision.runtime import apply_torch_threads, shared_embedder_session


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
        out = [
            self._embed_batch(preprocess(crops[start : start + self.batch_size], self.info.preprocessing))
            for start in range(0, len(crops), self.batch_size)
        ]
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
# eager at batch 1 (benchmarks/embed_backends.py). The network is exported once per weights file
# (core.vision.onnx_files.export_onnx). Without onnxruntime (or without the `onnx` package the exporter
# needs, when nothing is cached yet) the torch Embedder is used. GPUs run torch: the onnxruntime wheel
# here is the CPU build.


class OnnxEmbedder(BatchedEmbedder):
    """The Embedder API (`embed`, `model_id`, `dim`, `info`) on an ONNX Runtime CPU session.

    Sessions are shared per file, thread count and tuning across the process; `run` is thread-safe.
    """

    backend = "onnx"

    def __init__(
        self,
        model_path: Path,
        info: EmbedderInfo,
        batch_size: int = 32,
        threads: int = 0,
        tuned_dir: Path | None = None,
    ):
        self.info = info
        self.batch_size = batch_size
        self.model_path = Path(model_path)
        self.device = "cpu"
        self.session = shared_embedder_session(self.model_path, threads, tuned_dir)
        self._input = self.session.get_inputs()[0].name

    def _embed_batch(self, batch: np.ndarray) -> np.ndarray:
        vectors = self.session.run(None, {self._input: batch})[0].astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)  # as torch.nn.functional.normalize
