"""Stored sightings of unknown faces for the Review tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from core.base.records import AttendanceEvent, EventKind
from core.vision.detect import central_face
from core.vision.fused import model_input
from core.vision.images import encode_jpeg, load_image, sharpness


def store_sighting(engine, photo: Path, when: datetime, source: str) -> int:
    """What the recognizer keeps for an unknown track, made from a photo: the event, then the face's
    FaceNet crop, its embedding by the active model and its quality. Returns the face id."""
    rgb = load_image(photo)
    face = central_face(engine.detector.detect(rgb, with_crops=False), rgb.shape)
    embedder = engine.embedder()
    item = model_input(embedder, rgb, face)
    crop = getattr(item, "crop", item)
    vector = embedder.embed([item])[0]
    event = engine.store.record_event(AttendanceEvent(None, None, None, EventKind.UNKNOWN, when, source, 0.1))
    return engine.store.add_unknown_face(
        event.id, embedder.model_id, vector, encode_jpeg(crop), face.prob, face.size_px, sharpness(crop)
    ).id
