"""One count of "present": the people whose day the rules count as attended (present, late, early leave, short,
half day, incomplete), from every punch that counts, manual punches and reassigned sightings included. The day
board, the Sightings summary and the timesheet's Attended column all count this way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from core.base.timekeeping import PersonDay


@dataclass(frozen=True)
class Presence:
    """Who was present from `first` to `last` (site days)."""

    first: date
    last: date
    present: frozenset[int]  # attended at least one of the days
    seen: frozenset[int]  # a camera or a terminal recorded them (their own raw events)

    @property
    def count(self) -> int:
        return len(self.present)

    @property
    def by_correction_only(self) -> frozenset[int]:
        """Present by a manual punch (or a reassigned sighting) alone: no raw event of their own."""
        return self.present - self.seen


def present_people(days: Iterable[PersonDay]) -> frozenset[int]:
    """The people with an attended day among `days`."""
    return frozenset(d.person_id for d in days if d.status.attended)
