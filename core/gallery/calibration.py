"""A threshold that follows the gallery's size, estimated from the gallery itself.

Every enrolled person is one more chance for a stranger to match someone. To see how a stranger
fares against *this* gallery, each enrolled sample plays the stranger: its best score against all
other people's samples is what a stranger like it would score. The quantile of those scores for
the target (strangers marked per 1,000) is the threshold. It never goes below the model's floor,
which also stands alone while the gallery is too small to say anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.gallery.match import GalleryMatcher

MIN_PEOPLE = 2  # with fewer, nobody can play the stranger
ROWS_PER_CHUNK = 1024  # samples scored at once (bounds memory at chunk x gallery floats)
MATERIAL_CHANGE = 0.05  # re-estimate once people or samples change by this fraction (or by one, when few)


@dataclass(frozen=True)
class ThresholdEstimate:
    threshold: float  # what the matcher uses: max(floor, from_gallery)
    floor: float
    from_gallery: float | None  # None: too few people to estimate
    strangers_per_1000: float
    people: int
    samples: int

    def describe(self) -> str:
        if self.from_gallery is None:
            return (f"threshold {self.threshold:.3f} (the model's floor: {self.people} "
                    f"{'person' if self.people == 1 else 'people'} are too few to estimate from)")
        source = "from the gallery" if self.from_gallery >= self.floor else "the model's floor"
        return (f"threshold {self.threshold:.3f} ({source}; target {self.strangers_per_1000:g} strangers per 1,000, "
                f"estimated on {self.people} people, {self.samples} samples; gallery alone says "
                f"{self.from_gallery:.3f}, floor {self.floor:.3f})")

    def is_current(self, people: int, samples: int) -> bool:
        """Still valid for a gallery of this size (no material change)."""
        def close(old: int, new: int) -> bool:
            return abs(new - old) < max(1.0, MATERIAL_CHANGE * old)
        return close(self.people, people) and close(self.samples, samples)


def stranger_scores(matcher: GalleryMatcher) -> np.ndarray:
    """Each sample's best score against the samples of everyone else in the gallery."""
    people = matcher.sample_people
    vectors = matcher.vectors
    best = np.empty(len(vectors), np.float32)
    for start in range(0, len(vectors), ROWS_PER_CHUNK):
        rows = slice(start, start + ROWS_PER_CHUNK)
        scores = matcher.sample_scores(vectors[rows])
        scores[people[rows, None] == people[None, :]] = -np.inf
        best[rows] = scores.max(axis=1)
    return best


def estimate_threshold(matcher: GalleryMatcher, strangers_per_1000: float, floor: float) -> ThresholdEstimate:
    people, samples = matcher.people_count, matcher.sample_count
    if people < MIN_PEOPLE:
        return ThresholdEstimate(float(floor), float(floor), None, strangers_per_1000, people, samples)
    quantile = 1.0 - float(strangers_per_1000) / 1000.0
    from_gallery = float(np.quantile(stranger_scores(matcher), min(max(quantile, 0.0), 1.0)))
    return ThresholdEstimate(max(float(floor), from_gallery), float(floor), from_gallery, strangers_per_1000,
                             people, samples)
