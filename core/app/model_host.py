"""What core.app.fusion_setup needs of the engine (ModelHost), and what the engine keeps for it (FusionState).

A protocol rather than a move into the Engine's model operations: the trainer, the CLI and the tests call
fusion_setup's functions by name, and through this protocol fusion_setup imports nothing above it in core.app.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from core.base.records import ModelRecord
from core.base.settings import Settings
from core.gallery.calibration import ThresholdEstimate
from core.gallery.match import GalleryMatcher
from core.gallery.store import GalleryStore
from core.vision.detect import FaceDetector
from core.vision.embed import Embedder, OnnxEmbedder
from core.vision.fused import FusedEmbedder
from core.vision.models import ModelRegistry

ModelEmbedder = Embedder | OnnxEmbedder | FusedEmbedder  # what Engine.embedder returns: FaceNet, SFace or fused


@dataclass
class FusionState:
    """What the engine remembers for fusion: why a member is missing, and the threshold estimates."""

    notices: dict[str, str] = field(default_factory=dict)  # model id -> why it runs degraded
    estimates: dict[str, ThresholdEstimate] = field(default_factory=dict)  # model id -> last estimate
    lock: threading.Lock = field(default_factory=threading.Lock)


class ModelHost(Protocol):
    """The Engine's members that building embedders and matchers uses; the Engine satisfies it."""

    settings: Settings
    store: GalleryStore
    registry: ModelRegistry
    fusion: FusionState

    @property
    def detector(self) -> FaceDetector: ...

    @property
    def tuned_dir(self) -> Path | None: ...

    def active_model_id(self) -> str: ...

    def ensure_model_record(self, model_id: str) -> ModelRecord: ...

    def embedder(self, model_id: str | None = None) -> ModelEmbedder: ...

    def matcher(self) -> GalleryMatcher: ...
