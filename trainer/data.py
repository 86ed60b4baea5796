"""Training data from the gallery: a per-person held-out split, a P x K batch sampler and light
augmentation of the stored 160x160 face crops (numpy/OpenCV, no torchvision needed).

The crops are the ones enrollment stored (MTCNN box plus the model's margin, JPEG), so training
sees faces exactly as recognition does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.base.errors import RollcallError
from core.vision.images import DEFAULT_CROP_SIZE, decode_jpeg


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
    """The JPEG crops of the samples, read from the store once and decoded on demand. Faces that are
    not samples (confusions, confirmed faces) are added under keys of their own (see Corrections)."""

    def __init__(self, store, sample_ids):
        self._jpeg = {int(sid): store.sample_crop(int(sid)) for sid in sample_ids}

    def add(self, key: int, jpeg: bytes) -> None:
        self._jpeg[int(key)] = jpeg

    def __len__(self) -> int:
        return len(self._jpeg)

    def crops(self, sample_ids) -> np.ndarray:
        arrays = [decode_jpeg(self._jpeg[int(sid)]) for sid in sample_ids]
        return _same_size(arrays)


def _same_size(arrays: list[np.ndarray], size: int = DEFAULT_CROP_SIZE) -> np.ndarray:
    out = [
        a if a.shape[:2] == (size, size) else cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA) for a in arrays
    ]
    return np.stack(out) if out else np.zeros((0, size, size, 3), np.uint8)


def confusion_key(confusion_id: int) -> int:
    """A confusion's face in batches and CropSource: negative, so never a sample id."""
    return -2 * int(confusion_id)


def confirmed_key(confirmed_id: int) -> int:
    return -2 * int(confirmed_id) - 1


def stranger_label(confusion_id: int) -> int:
    """The identity of a stranger's face shown as someone (a person of its own, never a person id)."""
    return -int(confusion_id)


@dataclass
class Corrections:
    """What the kiosk and HR taught: confusions as hard negatives, confirmed faces as positives.

    A confusion shown as A, really B: its face joins B's training faces, and (A, B) is a confused pair.
    Shown as A, really a stranger: its face is an identity of its own, paired with A.
    """

    faces: dict[int, bytes] = field(default_factory=dict)  # key -> JPEG
    extra_train: dict[int, list[int]] = field(default_factory=dict)  # label -> keys added to its pool
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (shown label, true label)
    confusions: list[tuple[int, int, int | None]] = field(default_factory=list)  # (key, shown, true person)

    def __bool__(self) -> bool:
        return bool(self.faces)

    @property
    def pair_faces(self) -> list[int]:
        """Each pair's confused face (its key), in `pairs` order: PKSampler puts it in the pair's batches."""
        return [key for key, _, _ in self.confusions]


def read_corrections(store, people: set[int]) -> Corrections:
    """The store's confusions and confirmed faces among `people` (faces without a crop are left out)."""
    found = Corrections()
    for confusion in store.confusions():
        crop = store.confusion_crop(confusion.id) if confusion.has_crop else None
        if crop is None or confusion.shown_person_id not in people:
            continue
        if confusion.true_person_id is not None and confusion.true_person_id not in people:
            continue
        key = confusion_key(confusion.id)
        true = confusion.true_person_id if confusion.true_person_id is not None else stranger_label(confusion.id)
        found.faces[key] = crop
        found.extra_train.setdefault(true, []).append(key)
        found.pairs.append((confusion.shown_person_id, true))
        found.confusions.append((key, confusion.shown_person_id, confusion.true_person_id))
    for confirmed in store.confirmed_samples():
        if confirmed.person_id in people:
            key = confirmed_key(confirmed.id)
            found.faces[key] = store.confirmed_crop(confirmed.id)
            found.extra_train.setdefault(confirmed.person_id, []).append(key)
    return found


class PKSampler:
    """Batches of P identities x K faces each (FaceNet's online-mining batches).

    People are drawn without replacement within a batch; a person's faces are drawn without
    replacement when they have at least K, else all of them plus repeats (the repeats differ
    through augmentation).
    """

    def __init__(
        self,
        train: dict[int, list[int]],
        P: int,
        K: int,
        seed: int = 0,
        pairs: list[tuple[int, int]] | None = None,
        faces: Sequence[int | None] | None = None,
    ):
        self.people = sorted(pid for pid, ids in train.items() if ids)
        if len(self.people) < 2:
            raise RollcallError("Training needs at least two enrolled people with photos; enroll more people first.")
        self.train = train
        self.P = min(int(P), len(self.people))
        self.K = int(K)
        self.rng = np.random.default_rng(seed)
        # Confused pairs (both people in one batch, taking turns); pairs of people without faces are dropped.
        # faces[i] (optional): the confused face of pairs[i], one of its true person's: it is always among
        # that person's K picks in the pair's batch (else 1 - K/n of those batches would miss it).
        faces = list(faces) if faces is not None else [None] * len(pairs or [])
        if len(faces) != len(pairs or []):
            raise ValueError("faces must match pairs one to one")
        kept = [(a, b, f) for (a, b), f in zip(pairs or [], faces) if train.get(a) and train.get(b) and a != b]
        self.pairs = [(a, b) for a, b, _ in kept]
        self.faces = [f if f is not None and f in train[b] else None for _, b, f in kept]
        self._next_pair = 0

    @property
    def batch_size(self) -> int:
        return self.P * self.K

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        """(sample_ids, labels) of one batch, grouped by person; with confused pairs, each batch holds
        the next pair's two people (the rest drawn at random) and the pair's confused face."""
        required: dict[int, int] = {}
        if self.pairs:
            turn = self._next_pair % len(self.pairs)
            pair = list(self.pairs[turn])
            confused_face = self.faces[turn]
            if confused_face is not None:
                required[pair[1]] = confused_face
            self._next_pair += 1
            others = [p for p in self.people if p not in pair]
            drawn = list(self.rng.choice(others, size=max(0, self.P - 2), replace=False)) if others else []
            chosen = np.asarray(pair + [int(p) for p in drawn], np.int64)
        else:
            chosen = self.rng.choice(self.people, size=self.P, replace=False)
        ids: list[int] = []
        labels: list[int] = []
        for pid in chosen:
            pool = self.train[int(pid)]
            face = required.get(int(pid))
            if face is not None:
                picks = np.concatenate([[face], self._pick([s for s in pool if s != face] or [face], self.K - 1)])
            else:
                picks = self._pick(pool, self.K)
            ids.extend(int(s) for s in picks)
            labels.extend([int(pid)] * self.K)
        return np.asarray(ids, np.int64), np.asarray(labels, np.int64)

    def _pick(self, pool: list[int], count: int) -> np.ndarray:
        """`count` of `pool`: without replacement when it has enough, else all of it plus repeats."""
        if len(pool) >= count:
            return self.rng.choice(pool, size=count, replace=False)
        extra = self.rng.choice(pool, size=count - len(pool), replace=True)
        return np.concatenate([np.asarray(pool), extra])


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
            img = cv2.resize(padded[cy : cy + side, cx : cx + side], (w, h), interpolation=cv2.INTER_LINEAR)
        if self.jitter:
            x = img.astype(np.float32)
            x *= rng.uniform(1 - self.jitter, 1 + self.jitter)  # brightness
            mean = x.mean()
            x = (x - mean) * rng.uniform(1 - self.jitter, 1 + self.jitter) + mean  # contrast
            gray = x.mean(axis=2, keepdims=True)
            x = (x - gray) * rng.uniform(1 - self.jitter, 1 + self.jitter) + gray  # saturation
            img = np.clip(x, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(img)
