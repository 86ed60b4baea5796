"""The base network's LFW View 1 vectors, kept on disk: every run trained from the same base measures
the base the same way, so the forgetting check embeds LFW with the new network only."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from .network import STAGES
from .validate import LfwSet, prefix_key

log = logging.getLogger(__name__)

KEPT_FILES = 4  # bases kept (a site trains from a handful: the default and its latest versions)


def base_vectors_key(network, shared_stages: int, preprocessing: str, lfw: LfwSet) -> str:
    """All of the network's weights, the crops and preprocessing, and the stages shared with the trained
    network (their features are rounded to float16, which moves the vectors slightly)."""
    return f"{prefix_key(network, len(STAGES), preprocessing, lfw)}-s{int(shared_stages)}"


def _path(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / "lfw" / f"base-{key}.npy"


def load_base_vectors(cache_dir: Path | None, key: str, rows: int) -> np.ndarray | None:
    """The cached vectors (rows x dim float32), or None when absent, unreadable or of another size."""
    path = _path(cache_dir, key) if cache_dir else None
    if path is None or not path.exists():
        return None
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        log.warning("LFW vector cache %s is unreadable (%s); measuring the base again.", path, exc)
        return None
    if vectors.ndim != 2 or len(vectors) != rows or not np.isfinite(vectors).all():
        log.warning("LFW vector cache %s does not fit; measuring the base again.", path)
        return None
    return vectors.astype(np.float32, copy=False)


def save_base_vectors(cache_dir: Path | None, key: str, vectors: np.ndarray) -> None:
    """Written whole or not at all; the oldest files beyond KEPT_FILES are removed."""
    if not cache_dir:
        return
    path = _path(cache_dir, key)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(vectors, np.float32))
        os.replace(tmp, path)
    except OSError as exc:  # a full disk only costs time next run
        log.warning("Could not cache LFW vectors in %s (%s).", path.parent, exc)
        tmp.unlink(missing_ok=True)
        return
    try:
        kept = sorted(path.parent.glob("base-*.npy"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEPT_FILES:]:
            old.unlink(missing_ok=True)
    except OSError:  # another run tidied up at the same time
        pass
