"""A threshold that follows the gallery's size, estimated from the gallery itself.

Every enrolled person is one more chance for a stranger to match someone. The threshold is the
highest of three, for a target of strangers marked per 1,000 (rate r):

- **The gallery's own strangers.** Each enrolled sample plays a stranger: its best score against
  all other people's samples. A normal tail is fitted to those scores with robust statistics
  (median, and the interquartile range as the spread) and read at 1 - r. The empirical quantile
  of ~30 people is set by its one or two highest scores, typically a pair of look-alikes (two
  sisters) who, both enrolled, protect each other through the margin; the robust fit is not.
- **The model's impostor distribution and the gallery's size.** On the model's own scale, one
  impostor sample scores above t with probability q(t) = 1 - Phi((t - mean) / std) (the impostor
  constants fitted on LFW `pairsDevTest`). A stranger is compared with all S samples, so they are
  marked with probability 1 - (1 - q(t))^S; solving that for r gives a threshold that rises with S,
  however alike or unalike the enrolled people happen to be.
- **The model's floor**, which also stands alone while the gallery is too small to say anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from core.gallery.match import GalleryMatcher

MIN_PEOPLE = 2  # with fewer, nobody can play the stranger
ROWS_PER_CHUNK = 1024  # samples scored at once (bounds memory at chunk x gallery floats)
MATERIAL_CHANGE = 0.05  # re-estimate once people or samples change by this fraction (or by one, when few)
QUARTILES = (0.25, 0.5, 0.75)
IQR_PER_STD = 2.0 * NormalDist().inv_cdf(QUARTILES[2])  # a normal's interquartile range in standard deviations
PER_1000 = 1000.0


@dataclass(frozen=True)
class Impostors:
    """A model's impostor scores (different people, one sample each), on the matcher's own scale."""

    mean: float
    std: float


@dataclass(frozen=True)
class ThresholdEstimate:
    threshold: float  # what the matcher uses: max(floor, from_gallery, from_size)
    floor: float
    from_gallery: float | None  # None: too few people to estimate
    strangers_per_1000: float
    people: int
    samples: int
    from_size: float | None = None  # the model's impostor tail for this many samples; None: no constants

    def describe(self) -> str:
        if self.from_gallery is None and self.from_size is None:
            return (f"threshold {self.threshold:.3f} (the model's floor: {self.people} "
                    f"{'person' if self.people == 1 else 'people'} are too few to estimate from)")
        parts = {"from the gallery": self.from_gallery, "from the gallery's size": self.from_size,
                 "the model's floor": self.floor}
        source = max((value, name) for name, value in parts.items() if value is not None)[1]
        said = [f"gallery alone says {self.from_gallery:.3f}" if self.from_gallery is not None
                else "too few people for the gallery to say"]
        if self.from_size is not None:
            said.append(f"its size says {self.from_size:.3f}")
        return (f"threshold {self.threshold:.3f} ({source}; target {self.strangers_per_1000:g} strangers per 1,000, "
                f"estimated on {self.people} people, {self.samples} samples; {', '.join(said)}, "
                f"floor {self.floor:.3f})")

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


def robust_tail(scores: np.ndarray, rate: float) -> float:
    """The (1 - rate) quantile of a normal fitted by median and interquartile range."""
    low, median, high = np.quantile(scores, QUARTILES)
    return float(median + (high - low) / IQR_PER_STD * _normal_isf(rate))


def size_threshold(impostors: Impostors, samples: int, rate: float) -> float:
    """The t at which a stranger's best of `samples` impostor scores exceeds t with probability `rate`."""
    per_sample = -np.expm1(np.log1p(-rate) / samples)  # 1 - (1 - rate)^(1/S), exact for tiny rates
    return float(impostors.mean + impostors.std * _normal_isf(per_sample))


def _normal_isf(rate: float) -> float:
    """The standard normal's upper `rate` quantile (scipy.stats.norm.isf), exact for tiny rates."""
    return -NormalDist().inv_cdf(float(rate))


def estimate_threshold(matcher: GalleryMatcher, strangers_per_1000: float, floor: float,
                       impostors: Impostors | None = None) -> ThresholdEstimate:
    people, samples = matcher.people_count, matcher.sample_count
    rate = min(max(float(strangers_per_1000) / PER_1000, np.finfo(np.float64).tiny), np.nextafter(1.0, 0.0))
    from_size = size_threshold(impostors, samples, rate) if impostors is not None and samples else None
    from_gallery = robust_tail(stranger_scores(matcher), rate) if people >= MIN_PEOPLE else None
    threshold = max([float(floor)] + [v for v in (from_gallery, from_size) if v is not None])
    return ThresholdEstimate(threshold, float(floor), from_gallery, strangers_per_1000, people, samples, from_size)
