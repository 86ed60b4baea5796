"""1-to-N matching against the enrolled gallery: cosine similarity, a per-person score, a
threshold and a margin over the second-best person. "Unknown" is a first-class result."""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass

import numpy as np

from core.base.records import GalleryMatrix, Occlusion
from core.gallery.fusion import ScoreScale


class MatchDecision(enum.StrEnum):
    """What the threshold, the margin and the uncertain band make of the best person (b: their score,
    r: the second-best's; t, m: threshold and margin; below, thin: the band's widths):

    ACCEPTED   b >= t and b - r >= m + thin
    UNCERTAIN  t - below <= b < t and b - r >= m (a near miss), or b >= t and m <= b - r < m + thin
    REJECTED   anything else
    An uncertain result names nobody (person_id None): it is an unknown face unless someone asks.
    """

    ACCEPTED = "accepted"
    UNCERTAIN = "uncertain"
    REJECTED = "rejected"


@dataclass(frozen=True)
class MatchResult:
    person_id: int | None  # None = unknown (rejected or uncertain)
    name: str | None
    similarity: float  # best person's score
    runner_up: float  # second-best person's score (-1 when there is none)
    best_person_id: int | None  # best candidate even when refused (for diagnostics and duplicates)
    decision: MatchDecision = MatchDecision.REJECTED
    occlusion: Occlusion | None = None  # what the best person's winning template has drawn on it: the face's cover

    @property
    def is_known(self) -> bool:
        return self.person_id is not None

    @property
    def margin(self) -> float:
        return self.similarity - self.runner_up


class GalleryMatcher:
    """Gallery vectors grouped by person, scored as each person's best-matching sample."""

    def __init__(self, gallery: GalleryMatrix, threshold: float, margin: float, scale: ScoreScale | None = None):
        self.model_id = gallery.model_id
        self.scale = scale  # a fused model's: the score is the mean of the members' normalised cosines
        self.threshold = float(threshold)
        self.margin = float(margin)
        self.uncertain_below = 0.0  # the uncertain band's widths on the score scale (see MatchDecision)
        self.uncertain_margin = 0.0
        # a face whose best template is a derived one (a drawn mask or glasses) must reach this instead
        self.occluded_threshold: float | None = None
        self.names = dict(gallery.names)
        order = np.argsort(gallery.person_ids, kind="stable")
        self._vectors = np.ascontiguousarray(gallery.vectors[order], dtype=np.float32)
        derived = gallery.derived if gallery.derived is not None else np.full(len(order), "", dtype=object)
        self._derived = np.asarray(derived, dtype=object)[order]
        self._is_derived = self._derived != ""
        person_ids = gallery.person_ids[order]
        if len(person_ids):
            starts = np.flatnonzero(np.r_[True, person_ids[1:] != person_ids[:-1]])
        else:
            starts = np.zeros(0, np.int64)
        self._starts = starts
        self._people = person_ids[starts] if len(person_ids) else np.zeros(0, np.int64)

    @property
    def people_count(self) -> int:
        return int(len(self._people))

    @property
    def sample_count(self) -> int:
        return int(len(self._vectors))

    def person_scores(self, queries: np.ndarray) -> np.ndarray:
        """(M, P) per-person similarity for M query vectors (each person's best sample)."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if self.people_count == 0:
            return np.zeros((len(queries), 0), np.float32)
        return np.maximum.reduceat(self.sample_scores(queries), self._starts, axis=1)

    def sample_scores(self, queries: np.ndarray) -> np.ndarray:
        """(M, N) similarity of M query vectors to every gallery sample (ordered by person)."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if self.scale is None:
            return queries @ self._vectors.T
        return self.scale.scale_queries(queries) @ self._vectors.T - np.float32(self.scale.offset)

    @property
    def vectors(self) -> np.ndarray:
        """Gallery vectors ordered by person; `sample_people` gives each row's person."""
        return self._vectors

    @property
    def sample_people(self) -> np.ndarray:
        counts = np.diff(np.r_[self._starts, len(self._vectors)])
        return np.repeat(self._people, counts)

    @property
    def derived_count(self) -> int:
        return int(self._is_derived.sum())

    def _rows(self, keep: np.ndarray) -> GalleryMatcher:
        people = self.sample_people
        gallery = GalleryMatrix(
            self.model_id,
            self._vectors[keep],
            np.flatnonzero(keep).astype(np.int64),
            people[keep],
            self.names,
            self._derived[keep],
        )
        other = GalleryMatcher(gallery, self.threshold, self.margin, self.scale)
        other.uncertain_below, other.uncertain_margin = self.uncertain_below, self.uncertain_margin
        return other

    def photos_only(self) -> GalleryMatcher:
        """The same gallery without derived templates (what the threshold is calibrated on)."""
        return self._rows(~self._is_derived) if self.derived_count else self

    def derived_only(self) -> GalleryMatcher:
        """Only the derived templates: masked strangers against masked templates look alike."""
        return self._rows(self._is_derived)

    def with_occluded_threshold(self, threshold: float | None) -> GalleryMatcher:
        other = copy.copy(self)
        other.occluded_threshold = None if threshold is None else float(threshold)
        return other

    def with_decision(self, threshold: float, margin: float) -> GalleryMatcher:
        """The same gallery with another threshold and margin (no copy of the vectors)."""
        other = copy.copy(self)
        other.threshold, other.margin = float(threshold), float(margin)
        return other

    def with_band(self, below: float, thin_margin: float) -> GalleryMatcher:
        """The same gallery with an uncertain band (widths on the score scale; 0 = none)."""
        other = copy.copy(self)
        other.uncertain_below, other.uncertain_margin = float(below), float(thin_margin)
        return other

    def decide(self, best: float, second: float, occluded: bool = False) -> MatchDecision:
        lead = best - second
        if lead < self.margin:
            return MatchDecision.REJECTED
        threshold = self.threshold
        if occluded and self.occluded_threshold is not None:
            threshold = max(threshold, self.occluded_threshold)
        if best >= threshold:
            return MatchDecision.ACCEPTED if lead >= self.margin + self.uncertain_margin else MatchDecision.UNCERTAIN
        if self.uncertain_below > 0 and best >= threshold - self.uncertain_below:
            return MatchDecision.UNCERTAIN
        return MatchDecision.REJECTED

    def _winning_cover(self, sample_scores: np.ndarray, query: int, person_index: int) -> Occlusion | None:
        """What the person's best-scoring template has drawn on it (None when it is a photo)."""
        start = int(self._starts[person_index])
        end = int(self._starts[person_index + 1]) if person_index + 1 < len(self._starts) else len(self._vectors)
        drawn = str(self._derived[start + int(np.argmax(sample_scores[query, start:end]))])
        return Occlusion(drawn) if drawn else None

    @staticmethod
    def _top_two(row: np.ndarray) -> tuple[int, float, float]:
        if row.size == 1:
            return 0, float(row[0]), -1.0
        top2 = np.argpartition(-row, 1)[:2]
        top2 = top2[np.argsort(-row[top2])]
        return int(top2[0]), float(row[top2[0]]), float(row[top2[1]])

    def match(self, queries: np.ndarray) -> list[MatchResult]:
        """Per query: the person on their photos at the threshold; failing that, with a gallery that has
        derived templates, on every template, where a face whose best template is derived (a drawn mask or
        glasses) must reach the occluded threshold. So a clean face is decided as without derived templates."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if len(queries) == 0 or queries.shape[1] == 0:
            return []
        if self.people_count == 0:
            return [MatchResult(None, None, -1.0, -1.0, None) for _ in queries]
        sample_scores = self.sample_scores(queries)
        all_scores = np.maximum.reduceat(sample_scores, self._starts, axis=1)
        photo_scores = all_scores
        if self.derived_count:
            photo_scores = np.maximum.reduceat(
                np.where(self._is_derived[None, :], -np.inf, sample_scores), self._starts, axis=1
            )
        results = []
        for index in range(len(queries)):
            best_idx, best, second = self._top_two(photo_scores[index])
            decision = self.decide(best, second)
            cover: Occlusion | None = None
            if self.derived_count:
                any_idx, any_best, any_second = self._top_two(all_scores[index])
                cover = self._winning_cover(sample_scores, index, any_idx)
                if decision is not MatchDecision.ACCEPTED and cover is not None:
                    covered = self.decide(any_best, any_second, occluded=True)
                    if covered is MatchDecision.ACCEPTED or decision is MatchDecision.REJECTED:
                        best_idx, best, second, decision = any_idx, any_best, any_second, covered
            pid = int(self._people[best_idx])
            accepted = decision is MatchDecision.ACCEPTED
            results.append(
                MatchResult(
                    pid if accepted else None,
                    self.names.get(pid) if accepted else None,
                    best,
                    second,
                    pid,
                    decision,
                    cover,
                )
            )
        return results
