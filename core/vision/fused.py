"""One crop function per model, driven by the same detection, and the fused FaceNet + SFace embedder.

A frame is detected once; each member cuts its own input from the frame: FaceNet a square 160x160
crop around MTCNN's box (with the model's margin), SFace a 112x112 crop aligned by MTCNN's 5
landmarks. `FusedEmbedder.embed` returns the members' unit vectors side by side; the gallery side
(core.gallery.fusion) splits them per member for storage and fuses the scores.

A stored sample keeps only FaceNet's 160x160 crop. Where SFace needs an embedding of one (a gallery
enrolled before the switch, or while SFace was unavailable), its landmarks are found again by MTCNN
inside that crop; if MTCNN misses, the template itself is used, scaled to the crop, since a FaceNet
crop frames a face about as the template does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from core.vision.detect import DetectedFace, crop_face
from core.vision.embed import EmbedderInfo, OnnxEmbedder
from core.vision.images import DEFAULT_CROP_SIZE
from core.vision.sface import ARCFACE_TEMPLATE, CROP_SIZE, align_face

FACENET_CROP_SIZE = DEFAULT_CROP_SIZE
LandmarkFinder = Callable[[np.ndarray], "np.ndarray | None"]  # RGB crop -> (5, 2) landmarks or None


class CropEmbedder(Protocol):
    info: EmbedderInfo

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, crops) -> np.ndarray: ...


def facenet_input(image: np.ndarray, face: DetectedFace, margin: float) -> np.ndarray:
    """FaceNet's crop: MTCNN's box plus the model's margin, 160x160, same channel order as `image`."""
    return crop_face(image, face.box, margin, FACENET_CROP_SIZE)


def sface_input(image: np.ndarray, face: DetectedFace) -> np.ndarray:
    """SFace's crop: aligned by the 5 landmarks to the 112x112 template."""
    return align_face(image, face.landmarks)


def template_landmarks(crop_size: float) -> np.ndarray:
    """Where the 5 points sit in a square face crop that frames the face like the template."""
    return ARCFACE_TEMPLATE * np.float32(crop_size / CROP_SIZE)


def sface_input_from_crop(crop: np.ndarray, find_landmarks: LandmarkFinder | None) -> np.ndarray:
    """SFace's aligned crop cut from a stored FaceNet crop."""
    landmarks = find_landmarks(crop) if find_landmarks is not None else None
    if landmarks is None:
        landmarks = template_landmarks(crop.shape[0])
    return align_face(crop, landmarks)


def model_input(embedder, image: np.ndarray, face: DetectedFace, bgr: bool = False):
    """What `embedder.embed` takes for one detected face, cut from `image` (RGB, or BGR with bgr=True)."""
    if isinstance(embedder, FusedEmbedder):
        return embedder.face_input(image, face, bgr)
    if embedder.info.preprocessing == "raw":  # SFace alone
        crop = sface_input(image, face)
    else:
        crop = facenet_input(image, face, embedder.info.crop_margin)
    return np.ascontiguousarray(crop[:, :, ::-1]) if bgr else crop


@dataclass(frozen=True)
class FusedInput:
    """One face as each member wants it: FaceNet's 160x160 crop and SFace's aligned 112x112 crop (RGB)."""

    crops: tuple[np.ndarray, ...]

    @property
    def crop(self) -> np.ndarray:  # the FaceNet crop: what a sample stores
        return self.crops[0]


class FusedEmbedder:
    """FaceNet (or a fine-tuned version) beside SFace. `embed` gives (N, sum of member dims) with
    each member's unit vector in its own block; `member_vectors` splits them again."""

    backend = "fused"

    def __init__(self, model_id: str, members: Sequence[CropEmbedder], find_landmarks: LandmarkFinder | None = None):
        if len(members) < 2:
            raise ValueError("A fused embedder needs at least two members.")
        self.members = tuple(members)
        self.find_landmarks = find_landmarks
        facenet = self.members[0].info
        self.info = EmbedderInfo(
            model_id=model_id,
            embedding_size=sum(m.dim for m in self.members),
            preprocessing="fused",
            crop_margin=facenet.crop_margin,
            device=facenet.device,
        )
        self.device = facenet.device

    @property
    def model_id(self) -> str:
        return self.info.model_id

    @property
    def dim(self) -> int:
        return self.info.embedding_size

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(m.model_id for m in self.members)

    def face_input(self, image: np.ndarray, face: DetectedFace, bgr: bool = False) -> FusedInput:
        crops = tuple(model_input(m, image, face, bgr) for m in self.members)
        return FusedInput(crops)

    def input_from_crop(self, crop: np.ndarray) -> FusedInput:
        """A stored (or caller-made) FaceNet crop as a fused input; SFace's part is re-aligned."""
        crops = []
        for member in self.members:
            if member.info.preprocessing == "raw":
                crops.append(sface_input_from_crop(crop, self.find_landmarks))
            else:
                crops.append(crop)
        return FusedInput(tuple(crops))

    def embed(self, inputs) -> np.ndarray:
        items = [item if isinstance(item, FusedInput) else self.input_from_crop(np.asarray(item)) for item in inputs]
        if not items:
            return np.zeros((0, self.dim), np.float32)
        blocks = [member.embed(np.stack([item.crops[k] for item in items])) for k, member in enumerate(self.members)]
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def member_vectors(self, vectors: np.ndarray) -> dict[str, np.ndarray]:
        vectors = np.atleast_2d(np.asarray(vectors, np.float32))
        bounds = np.cumsum([0] + [m.dim for m in self.members])
        return {m.model_id: vectors[:, bounds[k] : bounds[k + 1]] for k, m in enumerate(self.members)}


def member_vectors(embedder, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """The vectors to store, per model id: a fused embedder's are split, a single model's are its own."""
    if isinstance(embedder, FusedEmbedder):
        return embedder.member_vectors(vectors)
    return {embedder.model_id: np.atleast_2d(np.asarray(vectors, np.float32))}


class SfaceEmbedder(OnnxEmbedder):
    """SFace in ONNX Runtime. Takes aligned 112x112 crops; a larger (stored FaceNet) crop is aligned first."""

    def __init__(
        self,
        model_path,
        info: EmbedderInfo,
        batch_size: int = 32,
        threads: int = 0,
        find_landmarks: LandmarkFinder | None = None,
        tuned_dir: Path | None = None,
    ):
        super().__init__(model_path, info, batch_size, threads, tuned_dir)
        self.find_landmarks = find_landmarks

    def embed(self, crops) -> np.ndarray:
        crops = [
            c if c.shape[0] == CROP_SIZE else sface_input_from_crop(c, self.find_landmarks)
            for c in (np.asarray(c) for c in crops)
        ]
        return super().embed(crops)
