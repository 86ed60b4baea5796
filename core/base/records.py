"""Typed records the store hands out. Callers never see raw database rows."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np


class EventKind(enum.StrEnum):
    """What an attendance event records; the text is what the database and exports hold."""

    CHECK_IN = "check_in"
    CHECK_OUT = "check_out"
    UNKNOWN = "unknown"  # a face that matched nobody enrolled


class Occlusion(enum.StrEnum):
    """What is drawn on a derived template (core.vision.occlusion) or covers a face."""

    MEDICAL_MASK = "medical mask"
    CLOTH_MASK = "cloth mask"
    DARK_GLASSES = "dark glasses"
    CLEAR_GLASSES = "clear glasses"
    CAP_SHADOW = "cap shadow"

    @property
    def covers_mouth(self) -> bool:
        return self in (Occlusion.MEDICAL_MASK, Occlusion.CLOTH_MASK)

    @property
    def covers_eyes(self) -> bool:
        return self in (Occlusion.DARK_GLASSES, Occlusion.CAP_SHADOW)


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    external_id: str | None
    created_at: datetime
    active: bool


@dataclass(frozen=True)
class Sample:
    """One enrolled face crop; the JPEG bytes are fetched with GalleryStore.sample_crop()."""

    id: int
    person_id: int
    source: str
    content_hash: str
    det_prob: float
    face_px: int
    sharpness: float
    created_at: datetime
    derived: Occlusion | None = None  # a template drawn from another sample: what was drawn


@dataclass(frozen=True)
class ModelRecord:
    id: str
    name: str
    base: str  # registry name of the architecture/weights family
    parent_id: str | None
    embedding_size: int
    weights_path: str
    created_at: datetime
    settings: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AttendanceEvent:
    id: int | None
    person_id: int | None  # None = unknown face
    person_name: str | None
    kind: EventKind
    time: datetime  # timezone-aware, local time
    source: str
    similarity: float
    track_id: int | None = None
    snapshot_jpeg: bytes | None = None  # lists leave this out; see GalleryStore.event_snapshot()

    @property
    def day(self) -> date:
        return self.time.date()


class ChallengeOutcome(enum.StrEnum):
    """How a liveness challenge ended (core.live.challenge)."""

    PASSED = "passed"
    FAILED = "failed"  # moved like a flat picture, or the passive check called it a photo
    TIMED_OUT = "timed_out"  # the movements asked for were not seen in time


@dataclass(frozen=True)
class ChallengeAttempt:
    """One liveness challenge put to a recognised person; never an attendance event."""

    id: int | None
    person_id: int
    time: datetime  # timezone-aware, local time, when the challenge ended
    source: str
    moves: tuple[str, ...]  # the head movements asked for, in order (core.vision.challenge.HeadMove)
    outcome: ChallengeOutcome
    seconds: float  # from the prompt to the outcome
    track_id: int | None = None
    snapshot_jpeg: bytes | None = None  # kept for failed attempts, for review; lists leave it out

    @property
    def day(self) -> date:
        return self.time.date()


@dataclass(frozen=True, eq=False)
class GalleryMatrix:
    """All embeddings of one model, row i belonging to sample_ids[i] / person_ids[i]."""

    model_id: str
    vectors: np.ndarray  # float32 (N, D)
    sample_ids: np.ndarray  # int64 (N,)
    person_ids: np.ndarray  # int64 (N,)
    names: dict[int, str]  # person id -> name
    derived: np.ndarray | None = None  # str (N,): what a derived template has drawn on it ('' for a photo)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass(frozen=True)
class DayRow:
    """One person's attendance on one day."""

    person_id: int
    name: str
    external_id: str | None
    first_seen: datetime
    last_seen: datetime
    events: int

    @property
    def day(self) -> date:
        return self.first_seen.date()


@dataclass(frozen=True)
class PersonOverview:
    """A person as lists show them: with their sample count and first sample (for a thumbnail)."""

    person: Person
    samples: int  # photos (derived templates not counted)
    first_sample_id: int | None
    derived: int = 0  # derived templates (masked and glasses variants drawn from the photos)


@dataclass(frozen=True)
class GalleryStats:
    people: int  # active people
    samples: int  # photos
    events: int
    models: int
    derived: int = 0  # derived templates (drawn masked and glasses variants)


@dataclass(frozen=True)
class FileProblem:
    """A file or folder an operation could not finish with, and why (in words for the user)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class PersonDeleted:
    """What deleting a person removed. Backups that still hold them are named, never hidden."""

    person_id: int
    samples: int
    embeddings: int
    events: int
    backups_scrubbed: tuple[Path, ...] = ()
    backups_not_scrubbed: tuple[FileProblem, ...] = ()

    @property
    def fully_erased(self) -> bool:
        return not self.backups_not_scrubbed

    def problems(self) -> list[str]:
        return [
            f"the backup {problem.path} may still hold this person ({problem.reason}); "
            "delete that file to finish the erasure"
            for problem in self.backups_not_scrubbed
        ]


@dataclass(frozen=True)
class HousekeepingStatus:
    """The daily chores at start-up: backup, retention purge and the owner-only permission check."""

    backup_made: Path | None = None
    backup_error: str | None = None
    events_purged: int = 0
    purge_error: str | None = None
    not_owner_only: tuple[FileProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems()

    def problems(self) -> list[str]:
        found = [f"the daily backup failed: {self.backup_error}"] if self.backup_error else []
        if self.purge_error:
            found.append(f"the retention purge failed: {self.purge_error}")
        found += [f"{problem.path} is not private to this user ({problem.reason})" for problem in self.not_owner_only]
        return found


# ---- unknown visitors, kept for review (core.gallery.unknowns) ----


class ReviewState(enum.StrEnum):
    """Where an unknown face stands in review; the text is what the database holds."""

    OPEN = "open"  # not reviewed yet: shown in the Review panel's groups
    ENROLLED = "enrolled"  # enrolled as a new person
    ASSIGNED = "assigned"  # added to a person already enrolled
    DISMISSED = "dismissed"  # reviewed, nobody to enroll


@dataclass(frozen=True)
class UnknownFace:
    """The best face of one unknown track (one per unknown event), with its embedding; the crop's
    JPEG is fetched with GalleryStore.unknown_face_crop()."""

    id: int
    event_id: int | None
    time: datetime  # the unknown event's time
    source: str
    model_id: str  # the model `vector` was made by
    det_prob: float
    face_px: int
    sharpness: float
    state: ReviewState = ReviewState.OPEN
    person_id: int | None = None  # enrolled as / assigned to
    review_group: int | None = None  # the group it was reviewed in
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


# ---- site mode: what a station exchanges with the site server (core.site) ----


@dataclass(frozen=True)
class OutboxEvent:
    """A local attendance event as the outbox uploads it; `seq` orders the upload."""

    uuid: str
    seq: int
    revision: int  # > 0: a moved check-out, sent again
    person_uuid: str | None
    kind: EventKind
    time: datetime  # the station's own clock, with its UTC offset
    source: str
    similarity: float
    track_id: int | None


@dataclass(frozen=True)
class MirroredEvent:
    """Another station's attendance event, copied from the site server so every station's rules see the site."""

    uuid: str
    person_uuid: str | None
    kind: EventKind
    time: datetime  # the recording station's clock, with its UTC offset
    source: str
    similarity: float
    track_id: int | None
    revision: int
    station: str


@dataclass(frozen=True)
class SiteUnknownFace:
    """An unknown visitor's kept face as it travels through the site server (vector: float32 bytes)."""

    face_id: int  # the sending station's row (0 when read from the server)
    event_uuid: str
    model_id: str
    vector: bytes
    crop_jpeg: bytes
    det_prob: float
    face_px: int
    sharpness: float


@dataclass(frozen=True)
class SitePerson:
    uuid: str
    name: str
    external_id: str | None
    created_at: datetime
    active: bool


@dataclass(frozen=True)
class SiteSample:
    uuid: str
    person_uuid: str
    crop_jpeg: bytes
    source: str
    content_hash: str
    det_prob: float
    face_px: int
    sharpness: float
    created_at: datetime
    derived: str | None = None  # a derived template (what was drawn), as Sample.derived


@dataclass(frozen=True)
class SiteEmbedding:
    sample_uuid: str
    model_id: str
    vector: bytes  # little-endian float32


@dataclass
class SiteGallery:
    """A slice of the gallery (or all of it) by UUID, plus what was erased."""

    people: list[SitePerson] = field(default_factory=list)
    samples: list[SiteSample] = field(default_factory=list)
    embeddings: list[SiteEmbedding] = field(default_factory=list)
    models: list[ModelRecord] = field(default_factory=list)
    erased_people: list[str] = field(default_factory=list)  # person UUIDs
    erased_samples: list[str] = field(default_factory=list)  # sample UUIDs
    merged_people: dict[str, str] = field(default_factory=dict)  # merged person UUID -> the kept person's UUID

    def __bool__(self) -> bool:
        return any(
            (
                self.people,
                self.samples,
                self.embeddings,
                self.models,
                self.erased_people,
                self.erased_samples,
                self.merged_people,
            )
        )


class ConfusionSource(enum.StrEnum):
    """How a confusion became known."""

    CORRECTION = "correction"  # an event was voided or reassigned
    UNCERTAIN_NO = "uncertain_no"  # the kiosk asked "Are you NAME?" and got No, or no answer


@dataclass(frozen=True)
class Confusion:
    """A face shown as one person that really was another (or a stranger, true_person_id None).
    The crop is fetched with GalleryStore.confusion_crop(); vectors with confusion_vectors()."""

    id: int
    event_id: int | None  # None once the event is purged (or for a kiosk's No without an event)
    shown_person_id: int
    shown_name: str
    true_person_id: int | None
    true_name: str | None
    source: ConfusionSource
    similarity: float  # the score the face was shown with
    created_at: datetime
    has_crop: bool


@dataclass(frozen=True)
class ConfirmedSample:
    """A face the person confirmed at the kiosk ("Are you NAME?" Yes): a positive kept for review and
    retraining, not a gallery sample."""

    id: int
    event_id: int | None
    person_id: int
    similarity: float
    created_at: datetime
