"""Derived templates: a masked and a glasses variant drawn from each enrolled photo (issue 34).

They are rows of `samples` with `derived` set to what was drawn and `derived_from` to the photo they
came from: erased with the person and with that photo (ON DELETE CASCADE), re-embedded with the
others when the model changes (their stored crop is the drawn face), never listed as photos.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.vision.detect import DetectedFace
from core.vision.occlusion import Occlusion, draw_occlusion


def migrate_derived_samples(conn: sqlite3.Connection) -> None:
    """Re-runnable: a column or index that is there already is kept."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(samples)")}
    if "derived" not in columns:
        conn.execute("ALTER TABLE samples ADD COLUMN derived TEXT")
    if "derived_from" not in columns:
        conn.execute("ALTER TABLE samples ADD COLUMN derived_from INTEGER REFERENCES samples(id) ON DELETE CASCADE")
    conn.execute("CREATE INDEX IF NOT EXISTS samples_derived_from ON samples(derived_from)")


DERIVED_KINDS = (Occlusion.MEDICAL_MASK, Occlusion.DARK_GLASSES)  # what each photo gives (benchmarks/conditions.py)


def derived_kind_for(wanted: Occlusion, rng: np.random.Generator) -> Occlusion:
    """A masked template is a medical or a cloth mask at random, so no one mask shape is learnt."""
    if wanted is Occlusion.MEDICAL_MASK and rng.random() < 0.5:
        return Occlusion.CLOTH_MASK
    return wanted


def derived_hash(content_hash: str, kind: Occlusion) -> str:
    return hashlib.sha256(f"{content_hash}:derived:{kind.value}".encode()).hexdigest()


@dataclass(frozen=True)
class DerivedFace:
    """A template drawn from one photo's face: its crop, what the embedder takes, and what was drawn."""

    kind: Occlusion  # the family stored (medical mask stands for any mask)
    drawn: Occlusion  # what was drawn
    crop: np.ndarray
    model_input: Any
    content_hash: str


def derive_faces(
    image: np.ndarray,
    face: DetectedFace,
    content_hash: str,
    crop_of: Callable[[np.ndarray, DetectedFace], np.ndarray],
    input_of: Callable[[np.ndarray, DetectedFace], Any],
) -> list[DerivedFace]:
    """The derived faces of one enrolled photo, seeded by its content so they are made again alike."""
    derived = []
    for kind in DERIVED_KINDS:
        seed = int.from_bytes(hashlib.sha256(f"{content_hash}:{kind.value}".encode()).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        drawn_kind = derived_kind_for(kind, rng)
        drawn = draw_occlusion(image, face.landmarks, drawn_kind, rng)
        at = DetectedFace(face.box.copy(), face.prob, face.landmarks.copy(), None)
        derived.append(
            DerivedFace(kind, drawn_kind, crop_of(drawn, at), input_of(drawn, at), derived_hash(content_hash, kind))
        )
    return derived
