"""What the Engine holds, declared once for its operation mixins (core.app.*_ops), which share it.

The Engine sets these in its __init__; the methods below are defined by the Engine or by one mixin and used
by another, and are declared here for the type checker only.
"""

from __future__ import annotations

import threading
from datetime import date, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from core.app.changes import Changes, Outcome, Subscriber
from core.app.model_host import FusionState, ModelEmbedder
from core.base.records import HousekeepingStatus, ModelRecord, Person
from core.base.settings import Settings
from core.base.timekeeping import AuditAction
from core.gallery.enroll import Enroller
from core.gallery.match import GalleryMatcher
from core.gallery.store import GalleryStore
from core.site.service import BackgroundSync, Site
from core.vision.detect import FaceDetector
from core.vision.models import ModelRegistry

T = TypeVar("T")


class EngineState:
    """The Engine's state; every operation mixin derives from it."""

    settings: Settings
    store: GalleryStore
    registry: ModelRegistry
    site: Site
    device: str
    fusion: FusionState
    embed_fallback_reason: str | None  # why ONNX Runtime was planned but torch runs
    housekeeping_status: HousekeepingStatus
    _lock: threading.RLock
    _detector: FaceDetector | None
    _embedders: dict[str, ModelEmbedder]
    _matcher: GalleryMatcher | None
    _active_model_id: str | None
    _subscribers: list[Subscriber]
    _background_sync: BackgroundSync | None

    if TYPE_CHECKING:
        # the Engine's
        def _publish(self, changes: Changes) -> Changes: ...

        # TrustOperations'
        def _checkpoint_quietly(self, force: bool = False) -> None: ...

        def write_manifest(self, path: Path) -> Path: ...

        def _done(self, value: T, changes: Changes) -> Outcome[T]: ...

        def _site_done(self, value: T, changes: Changes) -> Outcome[T]: ...

        def enroller(self) -> Enroller: ...

        # ModelOperations'
        @property
        def detector(self) -> FaceDetector: ...

        @property
        def tuned_dir(self) -> Path | None: ...

        def active_model_id(self) -> str: ...

        def ensure_model_record(self, model_id: str) -> ModelRecord: ...

        def embedder(self, model_id: str | None = None) -> ModelEmbedder: ...

        def matcher(self) -> GalleryMatcher: ...

        def _model_can_run(self, model_id: str) -> bool: ...

        # AttendanceOperations'
        def site_zone(self) -> tzinfo: ...

        def _audit_person(self, action: AuditAction, person: Person, details: dict | None = None) -> None: ...

        def site_today(self) -> date: ...

        def clear_review_listing(self) -> None: ...
