"""The parts a pipeline stage works with, handed down by the engine (which composes them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.gallery.match import GalleryMatcher
from core.gallery.store import GalleryStore
from core.vision.detect import FaceDetector
from core.vision.fused import CropEmbedder


@dataclass(frozen=True)
class PipelineParts:
    """Providers, not objects: the detector, embedder and matcher change with the active model."""

    store: GalleryStore
    detector: Callable[[], FaceDetector]
    embedder: Callable[[], CropEmbedder]  # the active model's
    matcher: Callable[[], GalleryMatcher]  # rebuilt after every gallery change
    gallery_changed: Callable[[], None]
