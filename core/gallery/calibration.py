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

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

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
            return (
                f"threshold {self.threshold:.3f} (the model's floor: {self.people} "
                f"{'person' if self.people == 1 else 'people'} are too few to estimate from)"
            )
        parts = {
            "from the gallery": self.from_gallery,
            "from the gallery's size": self.from_size,
            "the model's floor": self.floor,
        }
        source = max((value, name) for name, value in parts.items() if value is not None)[1]
        said = [
            f"gallery alone says {self.from_gallery:.3f}"
            if self.from_gallery is not None
            else "too few people for the gallery to say"
        ]
        if self.from_size is not None:
            said.append(f"its size says {self.from_size:.3f}")
        return (
            f"threshold {self.threshold:.3f} ({source}; target {self.strangers_per_1000:g} strangers per 1,000, "
            f"estimated on {self.people} people, {self.samples} samples; {', '.join(said)}, "
            f"floor {self.floor:.3f})"
        )

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


_ERFC = np.vectorize(math.erfc, otypes=[np.float64])


def _normal_sf(z: np.ndarray) -> np.ndarray:
    """The standard normal's upper tail (scipy.stats.norm.sf), accurate far into the tail."""
    return 0.5 * _ERFC(np.asarray(z, np.float64) / math.sqrt(2.0))


def _normal_isf(rate: float) -> float:
    """The standard normal's upper `rate` quantile (scipy.stats.norm.isf), exact for tiny rates."""
    return -NormalDist().inv_cdf(float(rate))


def estimate_threshold(
    matcher: GalleryMatcher, strangers_per_1000: float, floor: float, impostors: Impostors | None = None
) -> ThresholdEstimate:
    people, samples = matcher.people_count, matcher.sample_count
    rate = min(max(float(strangers_per_1000) / PER_1000, np.finfo(np.float64).tiny), np.nextafter(1.0, 0.0))
    from_size = size_threshold(impostors, samples, rate) if impostors is not None and samples else None
    from_gallery = robust_tail(stranger_scores(matcher), rate) if people >= MIN_PEOPLE else None
    threshold = max([float(floor)] + [v for v in (from_gallery, from_size) if v is not None])
    return ThresholdEstimate(threshold, float(floor), from_gallery, strangers_per_1000, people, samples, from_size)


# ---- the calibration report (`rollcall calibrate`, the Settings dialog's plot) ----

CURVE_POINTS = 61  # thresholds on the report's curve


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    strangers_per_1000: float


@dataclass(frozen=True)
class StrangerQueries:
    """Faces that play strangers: each query's best and second-best person score, and how many
    gallery samples it was compared with."""

    best: np.ndarray
    runner_up: np.ndarray
    compared: np.ndarray  # samples each query was scored against (its own person's left out)

    def __len__(self) -> int:
        return int(len(self.best))


@dataclass(frozen=True)
class CalibrationReport:
    """How many strangers per 1,000 the matcher would mark, and the threshold for a target.

    The estimate at threshold t, for the gallery's real size S:
    - each enrolled sample plays a stranger against everyone else (its own person left out), and
      each reviewed unknown face against the whole gallery: its best person score b and runner-up r;
    - P(b >= t) is read from a normal fitted to b by median and interquartile range (as the
      threshold estimate does), then raised to the real size: a query that saw s samples stands for
      S/s such draws, so P_S = 1 - (1 - P_s)^(S/s) with s the queries' mean;
    - the margin rule passes a share of those: among the queries with b >= t, the share with
      b - r >= margin, smoothed by one passing query (so it tends to 1 where no query reaches t);
    - estimate(t) = 1000 * P_S(b >= t) * share(t), kept non-increasing in t.
    The enrolled people of a gallery tend to be more alike than walk-in strangers, so the estimate
    leans high (measured on the dev faces: about twice dev_unknown's rate below the threshold).
    `measured_per_1000` is the plain count of queries that the current rule would accept (no fit).
    Missed: each enrolled sample matched against the gallery without itself; missed when the best
    person is someone else or the score or margin falls short at the proposed threshold.
    """

    model_id: str
    people: int
    samples: int  # the gallery's real size
    queries: int  # enrolled samples playing strangers
    reviewed_unknowns: int  # reviewed unknown faces added as strangers (0: none, or no such table)
    threshold: float  # current
    margin: float
    estimated_per_1000: float  # at the current threshold and margin
    measured_per_1000: float  # queries the current rule accepts, per 1,000 (no fit, no size term)
    target_per_1000: float
    proposed_threshold: float
    missed_samples: int  # enrolled samples missed at the proposed threshold
    missed_people: int  # people with at least one missed sample
    enrolled_queries: int  # samples that could be matched (their person has another one)
    curve: tuple[CurvePoint, ...]

    def describe(self) -> list[str]:
        return [
            f"model {self.model_id}: gallery of {self.people} people, {self.samples} samples",
            f"strangers: {self.queries} enrolled samples against everyone else"
            + (f", plus {self.reviewed_unknowns} reviewed unknown faces" if self.reviewed_unknowns else ""),
            f"current threshold {self.threshold:.3f}, margin {self.margin:.3f}: about "
            f"{self.estimated_per_1000:.1f} strangers per 1,000 marked as someone "
            f"(accepted among the queries themselves: {self.measured_per_1000:.1f} per 1,000)",
            f"for {self.target_per_1000:g} per 1,000: threshold {self.proposed_threshold:.3f}; then "
            f"{self.missed_samples} of {self.enrolled_queries} enrolled samples would be missed "
            f"({self.missed_people} of {self.people} people)",
        ]

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def _top_two(person_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if person_scores.shape[1] == 0:
        empty = np.full(len(person_scores), -np.inf, np.float32)
        return empty, empty
    if person_scores.shape[1] == 1:
        return person_scores[:, 0], np.full(len(person_scores), -np.inf, np.float32)
    part = -np.partition(-person_scores, 1, axis=1)
    return part[:, 0], part[:, 1]


def _person_starts(people: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, people[1:] != people[:-1]]) if len(people) else np.zeros(0, np.int64)


def enrolled_strangers(matcher: GalleryMatcher) -> StrangerQueries:
    """Every enrolled sample against everyone else's samples: best, runner-up and samples seen."""
    people, vectors = matcher.sample_people, matcher.vectors
    starts = _person_starts(people)
    counts = np.diff(np.r_[starts, len(people)])
    column_people = people[starts]
    best, second = np.empty(len(vectors), np.float32), np.empty(len(vectors), np.float32)
    for start in range(0, len(vectors), ROWS_PER_CHUNK):
        rows = slice(start, start + ROWS_PER_CHUNK)
        scores = np.maximum.reduceat(matcher.sample_scores(vectors[rows]), starts, axis=1)
        scores[people[rows, None] == column_people[None, :]] = -np.inf
        best[rows], second[rows] = _top_two(scores)
    own = counts[np.searchsorted(column_people, people)]
    return StrangerQueries(best, second, (len(people) - own).astype(np.float64))


def outside_strangers(matcher: GalleryMatcher, queries: np.ndarray) -> StrangerQueries:
    """Faces of people not enrolled (reviewed unknown visitors) against the whole gallery."""
    queries = np.asarray(queries, np.float32).reshape(-1, matcher.vectors.shape[1] if matcher.sample_count else 0)
    best, second = _top_two(matcher.person_scores(queries)) if len(queries) else (np.zeros(0), np.zeros(0))
    return StrangerQueries(
        np.asarray(best, np.float32), np.asarray(second, np.float32), np.full(len(queries), float(matcher.sample_count))
    )


def _joined(parts: list[StrangerQueries]) -> StrangerQueries:
    return StrangerQueries(
        *(np.concatenate([getattr(p, name) for p in parts]) for name in ("best", "runner_up", "compared"))
    )


@dataclass(frozen=True)
class StrangerModel:
    """The fitted estimate (see CalibrationReport): a normal tail for b, the size term, the margin share."""

    median: float
    spread: float  # the normal's standard deviation, from the interquartile range
    size_ratio: float  # the gallery's real size over the samples a query saw
    best: np.ndarray  # the queries' best scores, ascending
    passes: np.ndarray  # ... whether each also leads its runner-up by the margin (same order)

    @classmethod
    def fit(cls, queries: StrangerQueries, samples: int, margin: float) -> StrangerModel:
        finite = np.isfinite(queries.best)
        best, second = queries.best[finite].astype(np.float64), queries.runner_up[finite].astype(np.float64)
        order = np.argsort(best)
        low, median, high = np.quantile(best, QUARTILES)
        seen = float(np.mean(queries.compared[finite]))
        return cls(
            float(median),
            float(max(high - low, np.finfo(np.float32).eps) / IQR_PER_STD),
            samples / max(seen, 1.0),
            best[order],
            (best - second >= margin)[order],
        )

    def margin_share(self, threshold: np.ndarray, side: Literal["left", "right"] = "left") -> np.ndarray:
        """Of the queries scoring at least `threshold`, the share that also pass the margin, smoothed by
        one passing query (Laplace), so that it tends to 1 beyond the highest query."""
        first = np.searchsorted(self.best, threshold, side=side)  # "right": just above the threshold
        above = len(self.best) - first
        passing = np.r_[np.cumsum(self.passes[::-1])[::-1], 0][first]
        return (passing + 1.0) / (above + 1.0)

    def _raw_rate(self, threshold: np.ndarray, side: Literal["left", "right"] = "left") -> np.ndarray:
        per_query = np.minimum(_normal_sf((threshold - self.median) / self.spread), np.nextafter(1.0, 0.0))
        return -np.expm1(self.size_ratio * np.log1p(-per_query)) * self.margin_share(threshold, side)

    def rate(self, threshold: float | np.ndarray) -> np.ndarray:
        """Strangers marked per stranger at `threshold`: the product above, made non-increasing (the
        share steps at each query's score) by taking its highest value at any threshold at least as high."""
        threshold = np.asarray(threshold, np.float64)
        steps = np.maximum(self._raw_rate(self.best), self._raw_rate(self.best, "right"))
        at_queries = np.maximum.accumulate(steps[::-1])[::-1]
        beyond = np.r_[at_queries, 0.0][np.searchsorted(self.best, threshold, side="left")]
        return np.maximum(self._raw_rate(threshold), beyond)

    def threshold_for(self, rate: float, low: float, high: float) -> float:
        """The lowest threshold in [low, high] at which at most `rate` strangers per stranger are marked."""
        grid = np.linspace(low, high, CURVE_POINTS * CURVE_POINTS)
        ok = np.flatnonzero(self.rate(grid) <= rate)
        return float(grid[ok[0]]) if len(ok) else float(high)


def missed_enrolled(matcher: GalleryMatcher, threshold: float, margin: float) -> tuple[int, int, int]:
    """(samples missed, people with a missed sample, samples tried): each sample against the gallery
    without itself, for people with at least two samples."""
    people, vectors = matcher.sample_people, matcher.vectors
    starts = _person_starts(people)
    column_people = people[starts]
    counts = np.diff(np.r_[starts, len(people)])
    tried = counts[np.searchsorted(column_people, people)] >= 2
    missed = np.zeros(len(vectors), bool)
    for start in range(0, len(vectors), ROWS_PER_CHUNK):
        rows = np.arange(start, min(start + ROWS_PER_CHUNK, len(vectors)))
        scores = matcher.sample_scores(vectors[rows])
        scores[np.arange(len(rows)), rows] = -np.inf  # itself
        per_person = np.maximum.reduceat(scores, starts, axis=1)
        order = np.argsort(-per_person, axis=1)
        best = per_person[np.arange(len(rows)), order[:, 0]]
        second = (
            per_person[np.arange(len(rows)), order[:, 1]] if per_person.shape[1] > 1 else np.full(len(rows), -np.inf)
        )
        right = column_people[order[:, 0]] == people[rows]
        missed[rows] = ~(right & (best >= threshold) & (best - second >= margin))
    missed &= tried
    return int(missed.sum()), int(len(np.unique(people[missed]))), int(tried.sum())


def calibration_report(
    matcher: GalleryMatcher, target_per_1000: float, reviewed_unknowns: np.ndarray | None = None
) -> CalibrationReport:
    """The report for the matcher's current threshold and margin (see CalibrationReport)."""
    if matcher.people_count < MIN_PEOPLE:
        raise ValueError(f"A calibration needs at least {MIN_PEOPLE} enrolled people.")
    parts = [enrolled_strangers(matcher)]
    extra = 0
    if reviewed_unknowns is not None and len(reviewed_unknowns):
        parts.append(outside_strangers(matcher, reviewed_unknowns))
        extra = len(parts[-1])
    queries = _joined(parts)
    model = StrangerModel.fit(queries, matcher.sample_count, matcher.margin)
    rate = min(max(float(target_per_1000) / PER_1000, np.finfo(np.float64).tiny), np.nextafter(1.0, 0.0))
    low = min(model.median, matcher.threshold)
    high = max(float(model.best[-1]), matcher.threshold) + model.spread * _normal_isf(np.finfo(np.float64).eps)
    proposed = model.threshold_for(rate, low, high)
    accepted = (queries.best >= matcher.threshold) & (queries.best - queries.runner_up >= matcher.margin)
    missed, missed_people, tried = missed_enrolled(matcher, proposed, matcher.margin)
    high = max(float(model.best[-1]), matcher.threshold, proposed) + model.spread
    grid = np.linspace(low, high, CURVE_POINTS)
    curve = tuple(CurvePoint(float(t), float(r * PER_1000)) for t, r in zip(grid, model.rate(grid)))
    return CalibrationReport(
        model_id=matcher.model_id,
        people=matcher.people_count,
        samples=matcher.sample_count,
        queries=len(parts[0]),
        reviewed_unknowns=extra,
        threshold=matcher.threshold,
        margin=matcher.margin,
        estimated_per_1000=float(model.rate(matcher.threshold) * PER_1000),
        measured_per_1000=float(accepted.mean() * PER_1000),
        target_per_1000=float(target_per_1000),
        proposed_threshold=proposed,
        missed_samples=missed,
        missed_people=missed_people,
        enrolled_queries=tried,
        curve=curve,
    )
