"""Validation before and after training.

Held-out metrics (from the gallery split in trainer.data):

- identification_accuracy: closed-set rank-1 accuracy. The enrolled vectors are the training
  samples, each held-out sample is a query, scored like recognition does (core.gallery.match: a person's
  score is their best-matching sample).
- verification_accuracy: pairs of (held-out sample, training sample): every same-person pair
  plus as many different-person pairs (drawn with a fixed seed). The threshold is the
  best-accuracy threshold on training-sample pairs built the same way, so the figure is not fitted
  on the pairs it is measured on (random embeddings score about 0.5). verification_auc: ROC AUC of
  the held-out pairs.
- train_triplet_loss: mean triplet term over all valid triplets of the (unaugmented) training
  samples, inactive ones counting 0 (trainer.loss.soft_triplet_loss).

LFW View 1 (a forgetting check on faces the model never trains on): the 1,000 pairs of
pairsDevTest.txt, accuracy at the best threshold over all pairs (core.app.evaluate). MTCNN over the
1,549 photos takes about 50 s on a 2-core CPU, so the crops (the labelled person's face: the one
nearest the centre, with the model's crop margin) are detected once and cached as JPEG bytes in
`<models cache>/lfw/` and in memory.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.app.evaluate import best_threshold, read_pairs, verification_report
from core.base.cancel import CancelCheck
from core.base.errors import Cancelled
from core.vision.images import decode_jpeg, encode_jpeg, load_image

from .data import Split, _same_size
from .loss import soft_triplet_loss
from .network import effective_frozen, is_staged, run_stages
from .progress import drive

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)

LFW_ENV = "ROLLCALL_LFW_DIR"
LFW_CACHE_VERSION = 1
MAX_SOFT_LOSS_SAMPLES = 240  # the all-triplets summary is O(N^3)


def default_lfw_dir() -> Path | None:
    """ROLLCALL_LFW_DIR, else the shared test data beside a source checkout (../shared/data/faces)."""
    env = os.environ.get(LFW_ENV)
    if env:
        return Path(env).expanduser()
    from core.base.resources import app_root

    candidate = app_root().parent / "shared" / "data" / "faces" / "lfw_view1"
    return candidate if (candidate / "pairsDevTest.txt").exists() else None


# ---- embedding ----------------------------------------------------------------------------------


class LazyCrops:
    """A sliceable view of crops decoded on demand (from a trainer.data.CropSource or JPEG list)."""

    def __init__(self, fetch: Callable[[list], np.ndarray], keys: list):
        self._fetch, self._keys = fetch, list(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, index: slice) -> np.ndarray:
        return self._fetch(self._keys[index])


def embed_networks(
    networks: Mapping[str, nn.Module],
    crops,
    preprocessing: str,
    device: str = "cpu",
    shared_stages: int = 0,
    batch_size: int = 32,
    cancel: CancelCheck | None = None,
    prefix_cache: list | None = None,
    round_prefix: bool = False,
) -> dict[str, np.ndarray]:
    """Unit embeddings of `crops` (uint8 (N,160,160,3), or anything sliceable to that) for each network.

    With shared_stages > 0 the first network's first stages run once per batch and every network
    continues from those features: only valid when those stages are frozen and identical in all
    networks (a fine-tuned model and its parent). prefix_cache (a list, same crops and batch size
    on every call) keeps those shared features between calls: the first call fills it, later calls
    skip the shared stages. round_prefix rounds fresh shared features to float16, as the disk cache
    stores them, so a cached and an uncached run give the same figures.
    """
    import torch

    from core.vision.embed import preprocess

    names = list(networks)
    nets = [networks[n] for n in names]
    if shared_stages and not all(is_staged(n) for n in nets):
        shared_stages = 0
    for net in nets:
        net.eval()
    out: dict[str, list[np.ndarray]] = {n: [] for n in names}
    torch_device = torch.device(device)
    with torch.inference_mode():
        for start in range(0, len(crops), batch_size):
            if cancel and cancel():
                raise Cancelled("Training was cancelled; nothing was saved.")
            batch = start // batch_size
            if shared_stages and prefix_cache is not None and batch < len(prefix_cache):
                x = prefix_cache[batch]
            else:
                x = torch.from_numpy(preprocess(np.asarray(crops[start : start + batch_size]), preprocessing))
                x = x.to(torch_device)
                if shared_stages:
                    x = run_stages(nets[0], x, 0, shared_stages)
                    if round_prefix:
                        x = x.half().float()
                    if prefix_cache is not None:
                        prefix_cache.append(x)
            for name, net in zip(names, nets):
                out[name].append(run_stages(net, x, shared_stages).float().cpu().numpy())
    dim = {n: (out[n][0].shape[1] if out[n] else 0) for n in names}
    return {
        n: (np.concatenate(out[n]) if out[n] else np.zeros((0, dim[n]), np.float32)).astype(np.float32) for n in names
    }


def shared_prefix(networks: Mapping[str, nn.Module], frozen_blocks: int) -> int:
    """Stages that may be shared when embedding with these networks (0 unless all are staged)."""
    nets = list(networks.values())
    if not nets or not all(is_staged(n) for n in nets):
        return 0
    return min(effective_frozen(n, frozen_blocks) for n in nets)


# ---- held-out metrics ----------------------------------------------------------------------------


def _balanced_pairs(left_ids, left_people, right_ids, right_people, rng, skip_self: bool):
    """(i, j, same) index pairs: all same-person pairs plus as many different-person pairs."""
    same_l: list[int] = []
    same_r: list[int] = []
    diff_l: list[int] = []
    diff_r: list[int] = []
    for i, pi in enumerate(left_people):
        for j, pj in enumerate(right_people):
            if skip_self and j <= i:
                continue
            (same_l if pi == pj else diff_l).append(i)
            (same_r if pi == pj else diff_r).append(j)
    if not same_l or not diff_l:
        return None
    pick = rng.choice(len(diff_l), size=min(len(same_l), len(diff_l)), replace=False)
    li = np.r_[same_l, np.asarray(diff_l)[pick]].astype(np.int64)
    ri = np.r_[same_r, np.asarray(diff_r)[pick]].astype(np.int64)
    same = np.r_[np.ones(len(same_l), dtype=np.bool_), np.zeros(len(pick), dtype=np.bool_)]
    return li, ri, same


def held_out_metrics(vectors: Mapping[int, np.ndarray], split: Split, margin: float = 0.2, seed: int = 0) -> dict:
    """Identification and verification on the held-out samples (see the module docstring)."""
    from core.base.records import GalleryMatrix
    from core.gallery.match import GalleryMatcher

    train_ids = [sid for pid in split.people for sid in split.train[pid]]
    train_people = [pid for pid in split.people for _ in split.train[pid]]
    query_ids = [sid for pid in split.people for sid in split.held_out.get(pid, [])]
    query_people = [pid for pid in split.people for _ in split.held_out.get(pid, [])]
    train_vecs = np.stack([vectors[s] for s in train_ids]).astype(np.float32)
    metrics: dict = {"people": len(split.people), "train_samples": len(train_ids), "queries": len(query_ids)}

    rng = np.random.default_rng(seed)
    take = np.arange(len(train_ids))
    if len(take) > MAX_SOFT_LOSS_SAMPLES:
        take = np.sort(rng.choice(len(take), MAX_SOFT_LOSS_SAMPLES, replace=False))
    metrics["train_triplet_loss"] = _round(soft_triplet_loss(train_vecs[take], np.asarray(train_people)[take], margin))

    if not query_ids:
        metrics.update(
            identification_accuracy=None, verification_accuracy=None, verification_auc=None, verification_threshold=None
        )
        return metrics
    query_vecs = np.stack([vectors[s] for s in query_ids]).astype(np.float32)
    gallery = GalleryMatrix(
        "validation", train_vecs, np.asarray(train_ids, np.int64), np.asarray(train_people, np.int64), dict(split.names)
    )
    matcher = GalleryMatcher(gallery, threshold=-2.0, margin=0.0)
    predicted = [r.best_person_id for r in matcher.match(query_vecs)]
    metrics["identification_accuracy"] = _round(float(np.mean([p == t for p, t in zip(predicted, query_people)])))

    fit = _balanced_pairs(train_ids, train_people, train_ids, train_people, np.random.default_rng(seed), True)
    test = _balanced_pairs(query_ids, query_people, train_ids, train_people, np.random.default_rng(seed + 1), False)
    if test is None:
        metrics.update(verification_accuracy=None, verification_auc=None, verification_threshold=None)
        return metrics
    qi, ti, same = test
    sims = np.einsum("ij,ij->i", query_vecs[qi], train_vecs[ti])
    if fit is not None:
        fa, fb, fsame = fit
        threshold, _ = best_threshold(np.einsum("ij,ij->i", train_vecs[fa], train_vecs[fb]), fsame)
    else:  # every person has one training sample: no same-person training pairs to fit on
        threshold, _ = best_threshold(sims, same)
    report = verification_report(sims, same)
    metrics["verification_accuracy"] = _round(float(np.mean((sims >= threshold) == same)))
    metrics["verification_auc"] = _round(report.auc)
    metrics["verification_threshold"] = _round(threshold)
    metrics["verification_pairs"] = int(len(same))
    return metrics


def confusion_metrics(
    vectors: Mapping[int, np.ndarray], split: Split, confusions: list[tuple[int, int, int | None]]
) -> dict:
    """How many recorded confusions a model would still make: the face is nearer (cosine to the unit
    mean of the training samples) to the person it was shown as than to its true person; for a
    stranger's face, the person it was shown as is still the nearest of all."""
    centroids = {}
    for pid in split.people:
        mean = np.mean([vectors[s] for s in split.train[pid]], axis=0)
        centroids[pid] = mean / max(float(np.linalg.norm(mean)), np.finfo(np.float32).eps)
    people = list(centroids)
    matrix = np.stack([centroids[p] for p in people])
    still, leads = 0, []
    for key, shown, true in confusions:
        scores = dict(zip(people, matrix @ vectors[key]))
        rival = scores[true] if true is not None else max(v for p, v in scores.items() if p != shown)
        leads.append(float(scores[shown] - rival))
        still += leads[-1] > 0
    return {
        "confusions": len(confusions),
        "confusions_still_confused": int(still),
        "confusion_accuracy": _round(1.0 - still / len(confusions)) if confusions else None,
        "confusion_mean_lead": _round(float(np.mean(leads))) if leads else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


# ---- LFW View 1 ----------------------------------------------------------------------------------


@dataclass
class LfwSet:
    """The View 1 photos as face crops (JPEG bytes) and the pairs as indices into them."""

    jpegs: list[bytes]
    names: list[str]  # Name/Name_NNNN.jpg
    index_a: np.ndarray
    index_b: np.ndarray
    same: np.ndarray
    fallbacks: int  # photos where MTCNN found no face (a centre crop was used)

    def crops(self) -> LazyCrops:
        return LazyCrops(
            lambda idx: _same_size([decode_jpeg(self.jpegs[i]) for i in idx]), list(range(len(self.jpegs)))
        )


_LFW_MEMORY: dict[tuple, LfwSet] = {}
_LFW_LOCK = threading.Lock()


def _pairs_digest(pairs_file: Path) -> str:
    return hashlib.sha256(pairs_file.read_bytes()).hexdigest()[:16]


def load_lfw(
    lfw_dir: Path,
    cache_dir: Path | None,
    crop_margin: int = 20,
    device: str = "cpu",
    detector=None,
    cancel: CancelCheck | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LfwSet:
    """LFW View 1 crops (see lfw_loading), with `progress(done, total)` while faces are detected."""
    report = (lambda counts: progress(*counts)) if progress else None
    return drive(lfw_loading(lfw_dir, cache_dir, crop_margin, device, detector, cancel), report)


def lfw_loading(
    lfw_dir: Path,
    cache_dir: Path | None,
    crop_margin: int = 20,
    device: str = "cpu",
    detector=None,
    cancel: CancelCheck | None = None,
) -> Generator[tuple[int, int], None, LfwSet]:
    """LFW View 1 crops: from memory, else the disk cache, else detected now (and cached), yielding
    (photos done, photos in all) while detecting."""
    lfw_dir = Path(lfw_dir)
    pairs_file = lfw_dir / "pairsDevTest.txt"
    if not pairs_file.exists():
        raise FileNotFoundError(f"{pairs_file} not found; LFW View 1 is needed for the forgetting check.")
    digest = _pairs_digest(pairs_file)
    key = (str(lfw_dir.resolve()), int(crop_margin), digest)
    with _LFW_LOCK:
        if key in _LFW_MEMORY:
            return _LFW_MEMORY[key]
    pairs = read_pairs(pairs_file, lfw_dir / "images")
    names = sorted({str(p.relative_to(lfw_dir / "images")) for pair in pairs for p in (pair.path_a, pair.path_b)})
    cache_file = (
        Path(cache_dir) / "lfw" / f"view1-m{int(crop_margin)}-{digest}-v{LFW_CACHE_VERSION}.npz" if cache_dir else None
    )
    jpegs, fallbacks = _read_cache(cache_file, names)
    if jpegs is None:
        jpegs, fallbacks = yield from _detect_lfw(lfw_dir / "images", names, crop_margin, device, detector, cancel)
        if cache_file is not None:
            _write_cache(cache_file, names, jpegs, fallbacks)
    row = {n: i for i, n in enumerate(names)}
    rel = lambda p: str(p.relative_to(lfw_dir / "images"))  # noqa: E731
    lfw = LfwSet(
        jpegs,
        names,
        np.asarray([row[rel(p.path_a)] for p in pairs], np.int64),
        np.asarray([row[rel(p.path_b)] for p in pairs], np.int64),
        np.asarray([p.same for p in pairs], bool),
        fallbacks,
    )
    with _LFW_LOCK:
        _LFW_MEMORY[key] = lfw
    return lfw


def _read_cache(path: Path | None, names: list[str]) -> tuple[list[bytes] | None, int]:
    if path is None or not path.exists():
        return None, 0
    try:
        with np.load(path, allow_pickle=False) as data:
            if list(data["names"]) != names:
                return None, 0
            blob, offsets = data["blob"].tobytes(), data["offsets"]
            jpegs = [blob[offsets[i] : offsets[i + 1]] for i in range(len(names))]
            return jpegs, int(data["fallbacks"])
    except (OSError, ValueError, KeyError) as exc:
        log.warning("LFW crop cache %s is unreadable (%s); detecting again.", path, exc)
        return None, 0


def _write_cache(path: Path, names: list[str], jpegs: list[bytes], fallbacks: int) -> None:
    offsets = np.cumsum([0] + [len(j) for j in jpegs]).astype(np.int64)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        names=np.asarray(names),
        offsets=offsets,
        blob=np.frombuffer(b"".join(jpegs), np.uint8),
        fallbacks=np.asarray(fallbacks),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def _detect_lfw(
    images_dir: Path, names: list[str], crop_margin: int, device: str, detector, cancel: CancelCheck | None
) -> Generator[tuple[int, int], None, tuple[list[bytes], int]]:
    from core.app.verify import labelled_face_crop
    from core.vision.detect import FaceDetector

    if detector is None or getattr(detector, "margin", None) != crop_margin:
        detector = FaceDetector(device=device, margin=crop_margin)
    jpegs: list[bytes] = []
    fallbacks = 0
    chunk = 16
    for start in range(0, len(names), chunk):
        if cancel and cancel():
            raise Cancelled("Training was cancelled; nothing was saved.")
        frames = [load_image(images_dir / n) for n in names[start : start + chunk]]
        for rgb, faces in zip(frames, detector.detect_batch(frames)):
            crop, fell_back = labelled_face_crop(rgb, faces, crop_margin)
            fallbacks += fell_back
            jpegs.append(encode_jpeg(crop))
        yield min(start + chunk, len(names)), len(names)
    return jpegs, fallbacks


# The frozen stages of a fine-tuning run are the same for the model before and after training, and
# for every later run from the same base with the same freezing. Their output for the LFW crops
# (float16, about 180 MB with 4 frozen stages) is kept on disk, so a repeated check costs seconds
# instead of a minute. Only the newest such file is kept.


def prefix_key(network, stages: int, preprocessing: str, lfw: LfwSet) -> str:
    """Identifies the frozen-prefix features: the prefix's weights, preprocessing and the crops."""
    from .network import STAGES

    digest = hashlib.sha256(f"{stages}|{preprocessing}|{len(lfw.jpegs)}|{LFW_CACHE_VERSION}".encode())
    for name in lfw.names[:50]:
        digest.update(name.encode())
    for jpeg in lfw.jpegs[:50]:
        digest.update(hashlib.sha256(jpeg).digest())
    prefixes = tuple(f"{part}." for _, parts in STAGES[:stages] for part in parts)
    for key, tensor in network.state_dict().items():
        if key.startswith(prefixes):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:20]


def load_prefix_features(cache_dir: Path | None, key: str, batch_size: int = 32, device: str = "cpu") -> list | None:
    """The cached frozen-prefix features as a list of float32 tensors per batch, or None."""
    import torch

    path = Path(cache_dir) / "lfw" / f"features-{key}.npy" if cache_dir else None
    if path is None or not path.exists():
        return None
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        log.warning("LFW feature cache %s is unreadable (%s); computing again.", path, exc)
        return None
    return [
        torch.from_numpy(np.asarray(array[i : i + batch_size], dtype=np.float32)).to(device)
        for i in range(0, len(array), batch_size)
    ]


def save_prefix_features(cache_dir: Path | None, key: str, batches: list) -> None:
    if not cache_dir or not batches:
        return
    folder = Path(cache_dir) / "lfw"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"features-{key}.npy"
    tmp = folder / f"features-{key}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            np.save(fh, np.concatenate([b.detach().cpu().numpy().astype(np.float16) for b in batches]))
        os.replace(tmp, path)
    except OSError as exc:  # a full disk only costs speed next time
        log.warning("Could not cache LFW features in %s (%s).", folder, exc)
        tmp.unlink(missing_ok=True)
        return
    for old in folder.glob("features-*.npy"):
        if old != path:
            old.unlink(missing_ok=True)


def lfw_metrics(vectors: np.ndarray, lfw: LfwSet) -> dict:
    sims = np.einsum("ij,ij->i", vectors[lfw.index_a], vectors[lfw.index_b])
    report = verification_report(sims, lfw.same)
    return {
        "lfw_accuracy": _round(report.accuracy),
        "lfw_auc": _round(report.auc),
        "lfw_threshold": _round(report.threshold),
        "lfw_pairs": int(report.pairs),
    }
