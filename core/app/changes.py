"""What an engine operation changed, handed to the caller and to every subscriber (as Anki's OpChanges).

A panel refreshes only for the kinds it shows: the People list for PEOPLE and SAMPLES, the
attendance table for EVENTS, the Models panel for MODELS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

T = TypeVar("T")


class ChangeKind(Enum):
    PEOPLE = "people"  # added, renamed, merged, deleted, external id
    SAMPLES = "samples"  # face samples (and their embeddings) added or removed
    EVENTS = "events"  # attendance events written or removed
    MODELS = "models"  # a model registered or the active model switched
    SETTINGS = "settings"
    SCHEDULES = "schedules"  # groups, memberships, holidays, leave, month locks
    CORRECTIONS = "corrections"  # manual punches, voided or reassigned events (always with an audit entry)
    CONFUSIONS = "confusions"  # a face recorded as shown for the wrong person, or confirmed at the kiosk
    SITE = "site"  # joined or left a site, or a sync round ran (connection, queue)
    UNKNOWNS = "unknowns"  # unknown visitors reviewed: enrolled, added to a person or dismissed
    HELD = "held"  # sightings held for a locked month: new ones, counted or dismissed


@dataclass(frozen=True)
class Changes:
    """The kinds of data an operation changed, and the people, samples and models it touched."""

    kinds: frozenset[ChangeKind] = frozenset()
    person_ids: frozenset[int] = frozenset()
    sample_ids: frozenset[int] = frozenset()
    model_ids: frozenset[str] = frozenset()
    deleted_person_ids: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.kinds)

    def touches(self, *kinds: ChangeKind) -> bool:
        return any(kind in self.kinds for kind in kinds)

    def __or__(self, other: Changes) -> Changes:
        return Changes(
            self.kinds | other.kinds,
            self.person_ids | other.person_ids,
            self.sample_ids | other.sample_ids,
            self.model_ids | other.model_ids,
            self.deleted_person_ids | other.deleted_person_ids,
        )

    @classmethod
    def of(cls, *kinds: ChangeKind, person_ids=(), sample_ids=(), model_ids=(), deleted_person_ids=()) -> Changes:
        return cls(
            frozenset(kinds),
            frozenset(int(i) for i in person_ids),
            frozenset(int(i) for i in sample_ids),
            frozenset(str(i) for i in model_ids),
            frozenset(int(i) for i in deleted_person_ids),
        )


NO_CHANGES = Changes()


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """An operation's result together with what it changed."""

    value: T
    changes: Changes = field(default=NO_CHANGES)


Subscriber = Callable[[Changes], None]
