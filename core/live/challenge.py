"""The challenge liveness check, per track: ask a recognised person for head movements, verify
them from the landmarks (core.vision.challenge), and say when the person may be marked.

A `Challenge` is one prompt: a random order of different movements (turn left, turn right, look
up), a time limit, and the face's neutral landmarks from its first observation. A step is done
when the nose has moved the asked way against the eyes *and* stands off the plane of the other
four landmarks the same way (a flat picture cannot do that), for `challenge_hold` detections in a
row. All steps done in time: passed. Time up: failed when the face moved the asked way without
any parallax (a picture being turned), or the passive check called it a photo; timed out otherwise.

`ChallengeDesk` keeps the challenges of one recognizer's tracks, records every outcome in the
store (a failed one with its snapshot, for review; never as an attendance event), and remembers
who passed today so nobody is asked twice a day unless the admin wants that.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np

from core.base.records import ChallengeAttempt, ChallengeOutcome
from core.base.settings import LivenessSettings
from core.gallery.store import GalleryStore
from core.vision.challenge import HeadMove, PoseChange


def draw_moves(rng: random.Random, steps: int) -> tuple[HeadMove, ...]:
    """`steps` different movements in a random order."""
    return tuple(rng.sample(list(HeadMove), min(max(1, steps), len(HeadMove))))


@dataclass
class Challenge:
    """One prompt to one face: feed it the face's landmarks at each detection."""

    moves: tuple[HeadMove, ...]
    started_at: float
    rules: LivenessSettings
    person_id: int | None = None
    neutral: np.ndarray | None = None
    _first: list[np.ndarray] = field(default_factory=list)  # the first detections, for the neutral pose
    step: int = 0
    held: int = 0  # detections in a row the current step has held
    flat_moves: int = 0  # detections that moved the asked way without parallax (a picture turned)
    outcome: ChallengeOutcome | None = None
    ended_at: float | None = None

    @property
    def current(self) -> HeadMove | None:
        """The movement being asked for now; None once the challenge ended."""
        return None if self.outcome is not None or self.step >= len(self.moves) else self.moves[self.step]

    def remaining_s(self, now: float) -> float:
        return max(0.0, self.started_at + self.rules.challenge_time_s - now)

    def seconds(self) -> float:
        return (self.ended_at if self.ended_at is not None else self.started_at) - self.started_at

    def _needed(self, move: HeadMove) -> tuple[float, float]:
        """(movement, parallax) a step needs."""
        rules = self.rules
        if move is HeadMove.LOOK_UP:
            return rules.challenge_lift, rules.challenge_lift_parallax
        return rules.challenge_turn, rules.challenge_parallax

    def observe(self, landmarks: np.ndarray, now: float, looks_flat: bool = False) -> ChallengeOutcome | None:
        """Judge one detection; returns the outcome once the challenge ends.

        looks_flat: the passive check currently calls this face a photo (a step cannot pass then).
        """
        if self.outcome is not None:
            return self.outcome
        if self.expired(now, looks_flat):
            return self.outcome
        if self.neutral is None:
            # The neutral pose: the median of the first few detections (one frame's landmarks jitter).
            self._first.append(np.asarray(landmarks, np.float32).reshape(5, 2).copy())
            if len(self._first) >= max(1, self.rules.challenge_neutral_frames):
                self.neutral = np.median(np.stack(self._first), axis=0)
            return None
        change = PoseChange.between(self.neutral, landmarks)
        move = self.moves[self.step]
        movement, parallax = (0.0, 0.0) if change is None else change.movement(move)
        movement_needed, parallax_needed = self._needed(move)
        moved = movement >= movement_needed
        if moved and parallax >= parallax_needed and not looks_flat:
            self.held += 1
        else:
            self.held = 0
            if moved and parallax < parallax_needed / 2:
                self.flat_moves += 1
        if self.held >= max(1, self.rules.challenge_hold):
            self.step, self.held = self.step + 1, 0
            if self.step == len(self.moves):
                self._end(ChallengeOutcome.PASSED, now)
        return self.outcome

    def expired(self, now: float, looks_flat: bool = False) -> bool:
        """End the challenge if its time is up; True when it has ended (for any reason)."""
        if self.outcome is None and self.remaining_s(now) <= 0.0:
            flat = looks_flat or self.flat_moves >= max(1, self.rules.challenge_hold)
            self._end(ChallengeOutcome.FAILED if flat else ChallengeOutcome.TIMED_OUT, now)
        return self.outcome is not None

    def _end(self, outcome: ChallengeOutcome, now: float) -> None:
        self.outcome, self.ended_at = outcome, now


class Admission(enum.StrEnum):
    """What the desk says about marking a recognised track now."""

    MARK = "mark"  # passed (or passed earlier today): mark the person
    WAIT = "wait"  # a challenge is running (started now if one was due)
    REFUSED = "refused"  # the last challenge on this track failed or timed out; the next starts after challenge_retry_s


@dataclass(frozen=True)
class ChallengePrompt:
    """What the kiosk shows a face during its challenge."""

    move: HeadMove
    step: int  # 0-based
    steps: int
    remaining_s: float
    time_s: float


@dataclass
class ChallengeDesk:
    """The challenges of one recognizer's tracks."""

    rules: LivenessSettings
    store: GalleryStore
    source_name: str = ""
    rng: random.Random = field(default_factory=random.SystemRandom)
    clock: Callable[[], datetime] = lambda: datetime.now().astimezone()
    _running: dict[int, Challenge] = field(default_factory=dict)  # track id -> its challenge
    _ended: dict[int, Challenge] = field(default_factory=dict)  # track id -> its last ended challenge
    _passed: dict[date, set[int]] = field(default_factory=dict)  # day -> people who passed
    required_people: frozenset[int] = frozenset()  # asked even when rules.challenge is off (their group requires it)

    @property
    def active(self) -> bool:
        """Someone may be asked: everyone (rules.challenge), or the people of a group that requires it."""
        return self.rules.challenge or bool(self.required_people)

    def required_for(self, person_id: int | None) -> bool:
        return person_id is not None and (self.rules.challenge or person_id in self.required_people)

    def challenge(self, track_id: int) -> Challenge | None:
        """The challenge running on a track (for the kiosk's prompt), if any."""
        return self._running.get(track_id)

    def prompt(self, track_id: int, now: float) -> ChallengePrompt | None:
        challenge = self._running.get(track_id)
        if challenge is None or challenge.current is None:
            return None
        return ChallengePrompt(
            challenge.current,
            challenge.step,
            len(challenge.moves),
            challenge.remaining_s(now),
            self.rules.challenge_time_s,
        )

    def last_outcome(self, track_id: int) -> ChallengeOutcome | None:
        ended = self._ended.get(track_id)
        return ended.outcome if ended else None

    def passed_today(self, person_id: int) -> bool:
        day = self.clock().date()
        if person_id in self._passed.get(day, set()):
            return True
        if self.store.challenges(day=day, person_id=person_id, outcomes=[ChallengeOutcome.PASSED]):
            self._passed.setdefault(day, set()).add(person_id)
            return True
        return False

    def admit(self, track_id: int, person_id: int, now: float) -> Admission:
        """May this recognised track be marked now? Starts a challenge when one is due."""
        if not self.required_for(person_id):
            return Admission.MARK
        if self.rules.challenge_once_per_day and self.passed_today(person_id):
            return Admission.MARK
        ended = self._ended.get(track_id)
        if ended is not None and ended.outcome is ChallengeOutcome.PASSED:
            return Admission.MARK
        running = self._running.get(track_id)
        if running is not None and running.person_id != person_id:  # the track changed identity
            del self._running[track_id]
            running = None
        if running is None:
            if ended is not None and now - (ended.ended_at or now) < self.rules.challenge_retry_s:
                return Admission.REFUSED
            moves = draw_moves(self.rng, self.rules.challenge_steps)
            self._running[track_id] = Challenge(moves, now, self.rules, person_id)
        return Admission.WAIT

    def observe(
        self,
        track_id: int,
        person_id: int,
        landmarks: np.ndarray | None,
        face_px: float,
        now: float,
        looks_flat: bool,
        snapshot: Callable[[], bytes | None],
    ) -> ChallengeOutcome | None:
        """Feed a detection of a track with a running challenge; records the outcome when it ends.

        Faces smaller than challenge_min_face_px only count towards the time limit.
        """
        challenge = self._running.get(track_id)
        if challenge is None:
            return None
        if landmarks is None or face_px < self.rules.challenge_min_face_px:
            challenge.expired(now, looks_flat)
        else:
            challenge.observe(landmarks, now, looks_flat)
        if challenge.outcome is None:
            return None
        self._finish(track_id, person_id, challenge, snapshot)
        return challenge.outcome

    def tick(
        self, track_id: int, person_id: int, now: float, looks_flat: bool, snapshot: Callable[[], bytes | None]
    ) -> ChallengeOutcome | None:
        """Between detections: end a challenge whose time is up."""
        challenge = self._running.get(track_id)
        if challenge is None or not challenge.expired(now, looks_flat):
            return None
        self._finish(track_id, person_id, challenge, snapshot)
        return challenge.outcome

    def _finish(
        self, track_id: int, person_id: int, challenge: Challenge, snapshot: Callable[[], bytes | None]
    ) -> None:
        del self._running[track_id]
        self._ended[track_id] = challenge
        outcome = challenge.outcome or ChallengeOutcome.TIMED_OUT  # _finish follows the end: set by then
        passed = outcome is ChallengeOutcome.PASSED
        when = self.clock()
        self.store.record_challenge(
            ChallengeAttempt(
                None,
                person_id,
                when,
                self.source_name,
                tuple(m.value for m in challenge.moves),
                outcome,
                challenge.seconds(),
                track_id,
                None if passed else snapshot(),
            )
        )
        if passed:
            self._passed.setdefault(when.date(), set()).add(person_id)

    def forget(self, live_track_ids: set[int]) -> None:
        """Drop the challenges of tracks that ended (a face that left mid-challenge is not recorded)."""
        for table in (self._running, self._ended):
            for stale in [k for k in table if k not in live_track_ids]:
                del table[stale]
