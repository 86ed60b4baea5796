"""No station trusts another: every row read from the server is checked before it is used. A row that cannot be
used is skipped and recorded (station, id, why) in the local meta table, shown by `site status` and the GUI's
site page; the read position moves past it, so one bad row never stops a station's sync.

The rules are the server's (core.site.intake): a row that passed them always passes these.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from core.base.records import EventKind
from core.gallery.store import GalleryStore
from core.site.intake import MAX_CROP_BYTES, MAX_FACE_PX, MAX_OFFSET_MIN, MAX_SIMILARITY, MAX_SOURCE_BYTES

SKIPPED_KEY = "site_skipped_rows"
REFUSED_KEY = "site_refused_uploads"  # this station's own events the server refused (kept here)
SKIPPED_KEPT = 50  # the most recent skipped rows listed; the total counts them all
CLOCK_SKEW = timedelta(days=1)  # an event dated this far after it reached the server is not used (the server
# allows site.clock_skew_s, 15 minutes by default: this is wider than any sensible setting of it)


@dataclass(frozen=True)
class SkippedRow:
    station: str
    row: str  # the server's id of the row (an event's UUID)
    why: str
    at: str  # when this station skipped it (UTC, ISO)


def event_problem(kind: str, person_uuid: str | None, time: datetime | None, offset_min: int | None, source: str | None,
                  similarity: float | None, received_at: datetime | None) -> str | None:
    """Why an event row from the server cannot be used, or None."""
    if kind not in {k.value for k in EventKind}:
        return f"unknown kind {kind[:20]!r}"
    if similarity is None or not math.isfinite(similarity) or not -MAX_SIMILARITY <= similarity <= MAX_SIMILARITY:
        return f"similarity {similarity} is not a number from -{MAX_SIMILARITY} to {MAX_SIMILARITY}"
    if kind != EventKind.UNKNOWN and similarity < 0:
        return f"a check-in or check-out with similarity {similarity}"
    if offset_min is None or abs(offset_min) > MAX_OFFSET_MIN:
        return f"UTC offset of {offset_min} minutes is beyond 18 hours"
    if time is None:
        return "its time is not finite"
    if received_at is not None and time > received_at + CLOCK_SKEW:
        return f"dated {time.isoformat()}, after it reached the server ({received_at.isoformat()})"
    if source is None or len(source.encode("utf-8", "replace")) > MAX_SOURCE_BYTES:
        return f"its source text is longer than {MAX_SOURCE_BYTES} bytes"
    if (person_uuid is None) != (kind == EventKind.UNKNOWN):
        return "a sighting with no person" if person_uuid is None else "an unknown sighting naming a person"
    if person_uuid is not None:
        try:
            uuid.UUID(person_uuid)
        except ValueError:
            return "its person is not a UUID"
    return None


def face_problem(vector: bytes, dimension: int | None, crop: bytes, det_prob: float, face_px: int,
                 sharpness: float) -> str | None:
    """Why a stranger's kept face from the server cannot be used, or None."""
    return template_problem(vector, dimension) or crop_problem(crop) or (
        None if (math.isfinite(det_prob) and 0 <= det_prob <= 1 and 0 < face_px <= MAX_FACE_PX
                 and math.isfinite(sharpness) and sharpness >= 0)
        else "its detection probability, size or sharpness is out of range")


def template_problem(vector: bytes, dimension: int | None) -> str | None:
    """Why a face template (float32, little-endian) cannot be used with its model, or None."""
    if dimension is None:
        return "its model is not on this station"
    if len(vector) != 4 * dimension:
        return f"a template of {len(vector)} bytes for a model of {dimension} floats"
    if not np.isfinite(np.frombuffer(vector, dtype="<f4")).all():
        return "its template is not finite"
    return None


def crop_problem(crop: bytes) -> str | None:
    return f"a face crop of {len(crop)} bytes (at most {MAX_CROP_BYTES})" if len(crop) > MAX_CROP_BYTES else None


def record_skipped(store: GalleryStore, skipped: Iterable[tuple[str, str, str]], key: str = SKIPPED_KEY) -> int:
    """Add (station, row id, why) entries to this station's list of rows it skipped; returns how many."""
    new = [SkippedRow(station[:80], row[:80], why[:300], datetime.now(UTC).isoformat(timespec="seconds"))
           for station, row, why in skipped]
    if not new:
        return 0
    total, kept = skipped_rows(store, key)
    recent = (kept + new)[-SKIPPED_KEPT:]
    store.set_meta_values({key: json.dumps({"total": total + len(new),
                                            "recent": [list(vars(r).values()) for r in recent]})})
    return len(new)


def record_refused(store: GalleryStore, refused: Iterable[tuple[str, str]]) -> int:
    """This station's own events that the server refused (event UUID, why): they stay in the local database."""
    return record_skipped(store, (("this station", uuid_, why) for uuid_, why in refused), REFUSED_KEY)


def skipped_rows(store: GalleryStore, key: str = SKIPPED_KEY) -> tuple[int, list[SkippedRow]]:
    """(how many rows this station has skipped in all, the most recent ones)."""
    stored = store.meta_value(key)
    if not stored:
        return 0, []
    try:
        data = json.loads(stored)
        return int(data["total"]), [SkippedRow(*map(str, entry)) for entry in data["recent"]]
    except (ValueError, KeyError, TypeError):
        return 0, []
