"""Face embedder: aligned crops in, L2-normalised vectors out, batched, on CUDA, MPS or the CPU."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


def choose_device(preference: str = "auto") -> str:
    """CUDA, then Apple MPS, then the CPU; an explicit choice that is not available falls back to the CPU."""
    import torch

    preference = (preference or "auto").lower()
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
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(torch.device(device))}"
    if device == "mps":
        return "GPU: Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def configure_threads(count: int = 0) -> int:
    """Set torch's CPU threads. 0 picks the core count, capped at 4 (more rarely helps at batch size 1)."""
    import torch

    count = count or min(4, os.cpu_count() or 1)
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


def preprocess(crops: np.ndarray, mode: str) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32 as the model was trained."""
    x = crops.astype(np.float32)
    if mode == "prewhiten":
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        std = x.std(axis=(1, 2, 3), keepdims=True)
        x = (x - mean) / np.maximum(std, np.float32(1.0 / np.sqrt(x[0].size)))
    elif mode == "fixed":
        x = (x - 127.5) / 128.0
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


class Embedder:
    """Runs an InceptionResnetV1 in inference mode. `embed` takes crops, returns unit vectors."""

    def __init__(self, network, info: EmbedderInfo, batch_size: int = 32):
        import torch

        self.info = info
        self.batch_size = batch_size
        self.device = torch.device(info.device)
        self.network = network.to(self.device).eval()

    @property
    def model_id(self) -> str:
        return self.info.model_id

    @property
    def dim(self) -> int:
        return self.info.embedding_size

    def embed(self, crops: np.ndarray | list[np.ndarray]) -> np.ndarray:
        import torch

        if isinstance(crops, list):
            crops = np.stack(crops) if crops else np.zeros((0, 160, 160, 3), np.uint8)
        if len(crops) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = []
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                batch = torch.from_numpy(preprocess(crops[start:start + self.batch_size], self.info.preprocessing))
                vectors = self.network(batch.to(self.device))
                out.append(torch.nn.functional.normalize(vectors.float(), dim=1).cpu().numpy())
        return np.concatenate(out).astype(np.float32)
