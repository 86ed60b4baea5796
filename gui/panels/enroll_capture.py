"""Enroll's capture worker: Engine.capture's progress with each frame as a QImage and the faces as overlays."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from PySide6.QtGui import QImage

from core.app.engine import Engine
from core.gallery.enroll import FaceCandidate

from ..live import ImageMailbox
from ..widgets import Overlay, qimage_from_bgr


@dataclass
class CaptureStep:
    image: QImage | None
    overlays: list[Overlay]
    guidance: str
    good: bool
    sample: FaceCandidate | None = None


def capture_view(
    engine: Engine, spec: str, wanted: int, mailbox: ImageMailbox, cancel_event: threading.Event
) -> Iterator[CaptureStep | str]:
    """Runs in the worker: Engine.capture's progress, with the frame as a QImage and the faces as overlays."""
    yield "Opening the source…"
    with engine.open_source(spec, cancel_event, realtime=True) as source:
        yield "Loading the face detector…"
        _ = engine.detector
        for step in engine.capture(source, wanted, cancel_event.is_set):
            overlays = [
                Overlay(tuple(float(v) for v in f.box), "", "chosen" if f is step.chosen else "other")
                for f in step.faces
            ]
            image = qimage_from_bgr(step.frame.image) if mailbox.try_send() else None
            yield CaptureStep(image, overlays, step.guidance, step.good, step.sample)
