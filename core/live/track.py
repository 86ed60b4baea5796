"""Face tracking across frames and identity voting per track.

The recognition loop runs the detector, calls `IouTracker.update()` with the boxes and gets one
`Track` per detection. For each track where `needs_reidentification()` is True it embeds the face,
matches it against the gallery and calls `track.add_vote(person_id_or_None, similarity, at=now)`,
then `track.settle(votes_needed)`. A track's identity is trusted only once settled: several
consistent votes that are a clear majority of the recent ones. This stops one blurry frame from
marking the wrong person.

Between detections (detector running at a reduced rate) `IouTracker.predict(now)` moves boxes
by their constant-velocity estimate.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from core.base.settings import TrackingSettings

UNKNOWN: Literal["unknown"] = "unknown"  # settled_identity() result for a settled stranger
DEFAULT_VOTE_WINDOW = 10

Vote = tuple[int | None, float]  # (person id or None for "nobody enrolled", similarity)
Settled = int | Literal["unknown"] | None


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in a (N,4) with every box in b (M,4): (N,M) float32.

    Boxes are (x1, y1, x2, y2).
    """
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


@dataclass(eq=False)
class Track:
    """One face followed across frames.

    box: current (x1,y1,x2,y2) float32 box (predicted between detections).
    votes: the last `vote_window` (person_id | None, similarity) votes, newest last.
    identity: the settled person id (None while unsettled or when settled as unknown).
    settled_unknown: True when the votes settled on "nobody enrolled".
    needs_embedding: set by the tracker for new tracks and tracks that reappear after being
        missed (could be someone else); cleared by add_vote().
    marked / unknown_logged: for the caller (attendance marked / stranger logged for this track);
        reset by settle() when the identity changes.
    """

    id: int
    box: np.ndarray
    first_seen: float
    last_seen: float
    hits: int = 1
    misses: int = 0
    votes: deque[Vote] = field(default_factory=lambda: deque(maxlen=DEFAULT_VOTE_WINDOW))
    identity: int | None = None
    identity_similarity: float = 0.0
    settled_unknown: bool = False
    needs_embedding: bool = True
    last_embedded_at: float = float("-inf")
    marked: bool = False
    unknown_logged: bool = False
    landmarks: np.ndarray | None = None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, dtype=np.float32))  # px/s
    observed_box: np.ndarray | None = None  # last detected box (box may be a prediction)

    def __post_init__(self) -> None:
        self.box = np.asarray(self.box, dtype=np.float32).reshape(4)
        if self.observed_box is None:
            self.observed_box = self.box.copy()

    # identity voting -------------------------------------------------------------------------

    def add_vote(self, person_id: int | None, similarity: float, at: float | None = None) -> None:
        """Record one recognition result: the best-matching person (None = nobody enrolled matched)
        and its similarity. `at` (the frame time) updates last_embedded_at."""
        self.votes.append((None if person_id is None else int(person_id), float(similarity)))
        self.needs_embedding = False
        if at is not None:
            self.last_embedded_at = float(at)

    @property
    def vote_counts(self) -> Counter[int | None]:
        """How often each person id (None = unknown) appears among the recent votes."""
        return Counter(person for person, _ in self.votes)

    def settled_identity(self, votes_needed: int, min_fraction: float = 0.6) -> Settled:
        """What the recent votes agree on, without changing the track.

        Returns a person id when at least `votes_needed` of the recent votes name that person and
        they are at least `min_fraction` of the recent votes (and strictly more than any other
        choice); UNKNOWN ("unknown") when the same holds for None votes; None when not settled.
        """
        if not self.votes:
            return None
        ranked = self.vote_counts.most_common(2)
        winner, count = ranked[0]
        if len(ranked) > 1 and ranked[1][1] == count:
            return None  # a tie is not a decision
        if count < max(1, votes_needed) or count / len(self.votes) < min_fraction:
            return None
        return UNKNOWN if winner is None else winner

    def settle(self, votes_needed: int, min_fraction: float = 0.6) -> Settled:
        """Apply settled_identity() to the track: sets identity, identity_similarity (mean similarity
        of the winning votes) and settled_unknown. If the settled identity changes, marked and
        unknown_logged are reset. An unsettled result leaves a previous decision in place."""
        result = self.settled_identity(votes_needed, min_fraction)
        if result is None:
            return None
        person = None if result == UNKNOWN else result
        changed = person != self.identity or (person is None) != self.settled_unknown
        if changed:
            self.marked = False
            self.unknown_logged = False
        self.identity = person
        self.settled_unknown = person is None
        winning = [similarity for voted, similarity in self.votes if voted == person]
        self.identity_similarity = float(np.mean(winning))
        return result

    @property
    def is_settled(self) -> bool:
        return self.identity is not None or self.settled_unknown

    # geometry --------------------------------------------------------------------------------

    def predicted_box(self, timestamp: float, max_dt: float) -> np.ndarray:
        """The last detected box moved by the velocity estimate to `timestamp`."""
        dt = min(max(timestamp - self.last_seen, 0.0), max_dt)
        observed = self.box if self.observed_box is None else self.observed_box
        return (observed + self.velocity * dt).astype(np.float32)

    @property
    def center(self) -> tuple[float, float]:
        return float((self.box[0] + self.box[2]) / 2), float((self.box[1] + self.box[3]) / 2)


def needs_reidentification(track: Track, now: float, interval_s: float) -> bool:
    """Should the caller embed this track's face now?

    True for new tracks, tracks flagged needs_embedding and unsettled tracks; for settled tracks
    once every interval_s since the last embedding (so a changed person is caught).
    """
    if track.needs_embedding or not track.is_settled:
        return True
    return now - track.last_embedded_at >= interval_s


class IouTracker:
    """Matches detections to tracks by IoU (Hungarian assignment on the predicted boxes).

    A track survives up to `max_misses` consecutive updates without a match and at most
    `max_age_s` seconds since it was last seen; then it is dropped. The recognizer builds it from
    the `tracking` settings section (`from_settings`).
    """

    def __init__(
        self,
        iou_threshold: float = TrackingSettings.iou_threshold,
        max_misses: int = TrackingSettings.max_misses,
        max_age_s: float = TrackingSettings.max_age_s,
        vote_window: int = DEFAULT_VOTE_WINDOW,
        velocity_smoothing: float = TrackingSettings.velocity_smoothing,
    ):
        self.iou_threshold = iou_threshold
        self.max_misses = max_misses
        self.max_age_s = max_age_s
        self.vote_window = vote_window
        self.velocity_smoothing = velocity_smoothing  # weight of the newest velocity measurement
        self._tracks: list[Track] = []
        self._ids = itertools.count(1)

    @classmethod
    def from_settings(cls, tracking: TrackingSettings, votes_to_mark: int) -> IouTracker:
        """A tracker with the section's parameters; the vote window holds at least 2 * votes_to_mark - 1
        votes, so a majority of `votes_to_mark` is possible."""
        return cls(
            iou_threshold=tracking.iou_threshold,
            max_misses=tracking.max_misses,
            max_age_s=tracking.max_age_s,
            vote_window=max(tracking.min_vote_window, 2 * votes_to_mark - 1),
            velocity_smoothing=tracking.velocity_smoothing,
        )

    def reset(self) -> None:
        self._tracks.clear()

    def active_tracks(self) -> list[Track]:
        """Tracks still alive (seen now or missed for less than max_misses / max_age_s)."""
        return list(self._tracks)

    def predict(self, timestamp: float) -> list[Track]:
        """Move every track's box to where its velocity puts it at `timestamp` (no detection)."""
        for track in self._tracks:
            track.box = track.predicted_box(timestamp, self.max_age_s)
        return self.active_tracks()

    def update(
        self,
        boxes: np.ndarray,
        timestamp: float,
        landmarks: np.ndarray | list | None = None,
    ) -> list[Track]:
        """Feed one frame's detections; returns the track of each detection, in the same order.

        boxes: (N,4) x1,y1,x2,y2. landmarks: optional per-detection landmarks, stored on the track.
        Unmatched detections start new tracks; unmatched tracks age and are dropped when too old.
        """
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        predicted = np.array(
            [t.predicted_box(timestamp, self.max_age_s) for t in self._tracks], dtype=np.float32
        ).reshape(-1, 4)
        overlaps = iou_matrix(predicted, boxes)
        matched: dict[int, int] = {}  # detection index -> track index
        if overlaps.size:
            rows, cols = linear_sum_assignment(-overlaps)
            for row, col in zip(rows, cols):
                if overlaps[row, col] >= self.iou_threshold:
                    matched[int(col)] = int(row)

        result: list[Track] = []
        seen_tracks: set[int] = set()
        for det, box in enumerate(boxes):
            det_landmarks = None if landmarks is None else np.asarray(landmarks[det], dtype=np.float32)
            if det in matched:
                track = self._tracks[matched[det]]
                self._observe(track, box, timestamp, det_landmarks)
                seen_tracks.add(id(track))
            else:
                track = Track(
                    id=next(self._ids),
                    box=box.copy(),
                    first_seen=timestamp,
                    last_seen=timestamp,
                    votes=deque(maxlen=self.vote_window),
                    landmarks=det_landmarks,
                )
                self._tracks.append(track)
                seen_tracks.add(id(track))
            result.append(track)

        survivors = []
        for track in self._tracks:
            if id(track) not in seen_tracks:
                track.misses += 1
                track.box = track.predicted_box(timestamp, self.max_age_s)
                if track.misses > self.max_misses or timestamp - track.last_seen > self.max_age_s:
                    continue
            survivors.append(track)
        self._tracks = survivors
        return result

    def _observe(self, track: Track, box: np.ndarray, timestamp: float, landmarks: np.ndarray | None) -> None:
        """Update a matched track with its new detection."""
        dt = timestamp - track.last_seen
        if dt > 0:
            measured = (box - track.observed_box) / dt
            weight = self.velocity_smoothing if track.hits > 1 else 1.0
            track.velocity = ((1 - weight) * track.velocity + weight * measured).astype(np.float32)
        if track.misses > 0:
            track.needs_embedding = True  # after an occlusion it may be someone else
        track.box = box.astype(np.float32).copy()
        track.observed_box = track.box.copy()
        track.last_seen = timestamp
        track.hits += 1
        track.misses = 0
        if landmarks is not None:
            track.landmarks = landmarks


def linear_sum_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy.optimize.linear_sum_assignment (minimum cost, rectangular), the same shortest augmenting
    path algorithm and tie-breaking, vectorised over columns. Importing scipy.optimize for it alone
    would cost a kiosk ~50 MB of memory and a slower start; a frame has a few tracks."""
    cost = np.asarray(cost, np.float64)
    transposed = cost.shape[0] > cost.shape[1]
    if transposed:
        cost = cost.T
    n_rows, n_cols = cost.shape
    u, v = np.zeros(n_rows), np.zeros(n_cols)
    col4row, row4col = np.full(n_rows, -1), np.full(n_cols, -1)
    for current in range(n_rows):
        shortest = np.full(n_cols, np.inf)
        path = np.full(n_cols, -1)
        seen_rows, seen_cols = np.zeros(n_rows, bool), np.zeros(n_cols, bool)
        row, lowest, sink = current, 0.0, -1
        while sink == -1:
            seen_rows[row] = True
            reduced = lowest + cost[row] - u[row] - v
            better = ~seen_cols & (reduced < shortest)
            path[better] = row
            shortest[better] = reduced[better]
            remaining = np.flatnonzero(~seen_cols)
            lowest = shortest[remaining].min()
            if not np.isfinite(lowest):
                raise ValueError("cost matrix is infeasible")
            ties = remaining[shortest[remaining] == lowest]
            free = ties[row4col[ties] == -1]
            col = free[0] if len(free) else ties[0]  # the first unassigned column among the cheapest
            seen_cols[col] = True
            if row4col[col] == -1:
                sink = col
            else:
                row = row4col[col]
        u[current] += lowest
        others = np.flatnonzero(seen_rows)
        others = others[others != current]
        u[others] += lowest - shortest[col4row[others]]
        v[seen_cols] -= lowest - shortest[seen_cols]
        col = sink
        while True:
            row = path[col]
            row4col[col] = row
            col4row[row], col = col, col4row[row]
            if row == current:
                break
    if transposed:
        order = np.argsort(col4row)
        return col4row[order], order
    return np.arange(n_rows), col4row
