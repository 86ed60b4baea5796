"""Training data from the gallery: a per-person held-out split, a P x K batch sampler and light
augmentation of the stored 160x160 face crops (numpy/OpenCV, no torchvision needed).

The crops are the ones enrollment stored (MTCNN box plus the model's margin, JPEG), so training
sees faces exactly as recognition does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from core.base.errors import RollcallError
from core.vision.images import decode_jpeg


@dataclass
class Split:
    """Sample ids per person: `train` feeds the batches, `held_out` only validates."""

    train: dict[int, list[int]]
    held_out: dict[int, list[int]]
    names: dict[int, str] = field(default_factory=dict)

    @property
    def people(self) -> list[int]:
        return sorted(self.train)

    def train_count(self) -> int:
        return sum(len(v) for v in self.train.values())

    def held_out_count(self) -> int:
        return sum(len(v) for v in self.held_out.values())

    def all_ids(self) -> list[int]:
        return [sid for pid in self.people for sid in self.train[pid] + self.held_out.get(pid, [])]


def split_samples(store, held_out_per_person: int = 2) -> Split:
    """Hold out each active person's last `held_out_per_person` samples (by enrollment order).

    A person keeps at least one training sample: someone with no more samples than
    `held_out_per_person` is used for training only (no held-out queries).
    """
    held_out_per_person = max(0, int(held_out_per_person))
    train: dict[int, list[int]] = {}
    held: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for person in store.list_people():
        ids = [s.id for s in store.list_samples(person.id)]
        if not ids:
            continue
        names[person.id] = person.name
        if held_out_per_person and len(ids) > held_out_per_person:
            train[person.id], held[person.id] = ids[:-held_out_per_person], ids[-held_out_per_person:]
        else:
            train[person.id], held[person.id] = ids, []
    return Split(train, {k: v for k, v in held.items() if v}, names)


class CropSource:
    """The JPEG crops of the samples, read from the store once and decoded on demand."""

    def __init__(self, store, sample_ids):
        self._jpeg = {int(sid): store.sample_crop(int(sid)) for sid in sample_ids}

    def __len__(self) -> int:
        return len(self._jpeg)

    def crops(self, sample_ids) -> np.ndarray:
        arrays = [decode_jpeg(self._jpeg[int(sid)]) for sid in sample_ids]
        return _same_size(arrays)


def _same_size(arrays: list[np.ndarray], size: int = 160) -> np.ndarray:
    out = [a if a.shape[:2] == (size, size) else cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA)
           for a in arrays]
    return np.stack(out) if out else np.zeros((0, size, size, 3), np.uint8)


class PKSampler:
    """Batches of P identities x K faces each (FaceNet's online-mining batches).

    People are drawn without replacement within a batch; a person's faces are drawn without
    replacement when they have at least K, else all of them plus repeats (the repeats differ
    through augmentation).
    """

    def __init__(self, train: dict[int, list[int]], P: int, K: int, seed: int = 0):
        self.people = sorted(pid for pid, ids in train.items() if ids)
        if len(self.people) < 2:
            raise RollcallError("Training needs at least two enrolled people with photos; enroll more people first.")
        self.train = train
        self.P = min(int(P), len(self.people))
        self.K = int(K)
        self.rng = np.random.default_rng(seed)

    @property
    def batch_size(self) -> int:
        return self.P * self.K

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        """(sample_ids, labels) of one batch, grouped by person."""
        chosen = self.rng.choice(self.people, size=self.P, replace=False)
        ids, labels = [], []
        for pid in chosen:
            pool = self.train[int(pid)]
            if len(pool) >= self.K:
                picks = self.rng.choice(pool, size=self.K, replace=False)
            else:
                extra = self.rng.choice(pool, size=self.K - len(pool), replace=True)
                picks = np.concatenate([np.asarray(pool), extra])
            ids.extend(int(s) for s in picks)
            labels.extend([int(pid)] * self.K)
        return np.asarray(ids, np.int64), np.asarray(labels, np.int64)


@dataclass(frozen=True)
class Augment:
    """Light, identity-preserving augmentation of 160x160 RGB crops.

    flip: horizontal flip with probability 0.5; scale/shift: a random square crop of
    `min_scale`..1 of the side at a position up to `max_shift` px off centre, resized back;
    colour: brightness, contrast and saturation each scaled by 1 +/- `jitter`.
    """

    flip: bool = True
    min_scale: float = 0.9
    max_shift: int = 8
    jitter: float = 0.2

    def __call__(self, crops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.stack([self.one(c, rng) for c in crops]) if len(crops) else crops

    def one(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = img.shape[:2]
        if self.flip and rng.random() < 0.5:
            img = img[:, ::-1]
        if self.min_scale < 1.0 or self.max_shift:
            side = int(round(min(h, w) * rng.uniform(self.min_scale, 1.0)))
            pad = self.max_shift
            padded = cv2.copyMakeBorder(np.ascontiguousarray(img), pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
            cy = pad + (h - side) // 2 + int(rng.integers(-self.max_shift, self.max_shift + 1))
            cx = pad + (w - side) // 2 + int(rng.integers(-self.max_shift, self.max_shift + 1))
            cy = int(np.clip(cy, 0, padded.shape[0] - side))
            cx = int(np.clip(cx, 0, padded.shape[1] - side))
            img = cv2.resize(padded[cy:cy + side, cx:cx + side], (w, h), interpolation=cv2.INTER_LINEAR)
        if self.jitter:
            x = img.astype(np.float32)
            x *= rng.uniform(1 - self.jitter, 1 + self.jitter)  # brightness
            mean = x.mean()
            x = (x - mean) * rng.uniform(1 - self.jitter, 1 + self.jitter) + mean  # contrast
            gray = x.mean(axis=2, keepdims=True)
            x = (x - gray) * rng.uniform(1 - self.jitter, 1 + self.jitter) + gray  # saturation
            img = np.clip(x, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(img)
