"""The challenge liveness check: the landmark geometry on a 3-D head model and on flat pictures,
the per-face state machine, and where outcomes are recorded (never as attendance events)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import numpy as np
import pytest

from core.base.records import ChallengeAttempt, ChallengeOutcome
from core.base.settings import LivenessSettings
from core.gallery.store import GalleryStore
from core.live.challenge import Admission, Challenge, ChallengeDesk, draw_moves
from core.vision.challenge import HeadMove, PoseChange, nose_parallax

# A head in inter-ocular units: eyes, nose tip 0.45 in front, mouth corners slightly in front of the eyes.
# x = image right (the person's left), y = down, z = towards the camera.
HEAD = np.array([[-0.5, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.6, 0.45], [-0.4, 1.1, 0.05], [0.4, 1.1, 0.05]])


def view(
    points: np.ndarray,
    yaw_deg: float = 0.0,
    pitch_deg: float = 0.0,
    roll_deg: float = 0.0,
    distance: float = 8.0,
    shift=(0.0, 0.0),
    focal: float = 600.0,
) -> np.ndarray:
    """Pinhole image (pixels) of 3-D points turned by yaw (+ = towards image right), pitch (+ = up)."""
    yaw, pitch, roll = np.radians([yaw_deg, pitch_deg, roll_deg])
    turn = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    nod = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    spin = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
    centre = np.array([0, 0.55, 0])
    moved = (points - centre) @ (spin @ turn @ nod).T + centre
    depth = distance - moved[:, 2]  # z points at the camera
    return np.float32(focal * (moved[:, :2] + np.array(shift)) / depth[:, None] + [320, 240])


def photo_of(
    head_view: np.ndarray,
    yaw_deg: float = 0.0,
    pitch_deg: float = 0.0,
    roll_deg: float = 0.0,
    distance: float = 8.0,
    shift=(0.0, 0.0),
    held_at_deg: float = 0.0,
) -> np.ndarray:
    """The same face printed flat (its picture on a plane), held rotated by `held_at_deg` in its
    own plane, then turned to a pose."""
    angle = np.radians(held_at_deg)
    in_plane = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    flat = np.column_stack([(head_view - [320, 240]) / 75.0 @ in_plane.T, np.zeros(5)])
    return view(flat, yaw_deg, pitch_deg, roll_deg, distance, shift)


def test_a_real_turn_moves_the_nose_off_the_plane_the_asked_way():
    neutral = view(HEAD)
    for move, pose in (
        (HeadMove.TURN_LEFT, dict(yaw_deg=25)),
        (HeadMove.TURN_RIGHT, dict(yaw_deg=-25)),
        (HeadMove.LOOK_UP, dict(pitch_deg=20)),
    ):
        change = PoseChange.between(neutral, view(HEAD, **pose))
        movement, parallax = change.movement(move)
        assert movement > 0.15 and parallax > 0.15, (move, change)
        opposite = {HeadMove.TURN_LEFT: HeadMove.TURN_RIGHT, HeadMove.TURN_RIGHT: HeadMove.TURN_LEFT}.get(move)
        if opposite:
            assert change.movement(opposite)[1] < -0.15  # a turn is not the other turn
        else:
            assert abs(change.turn_parallax) < 1e-6  # looking up is not a turn


@pytest.mark.parametrize(
    "pose",
    [
        dict(yaw_deg=40),
        dict(yaw_deg=-40),
        dict(pitch_deg=35),
        dict(roll_deg=30),
        dict(yaw_deg=30, pitch_deg=-25, roll_deg=15, distance=5.0, shift=(1.0, -0.5)),
    ],
)
def test_a_flat_picture_keeps_its_five_points_on_one_homography(pose):
    picture = photo_of(view(HEAD))
    parallax = nose_parallax(picture, photo_of(view(HEAD), **pose))
    assert np.abs(parallax).max() < 1e-3
    change = PoseChange.between(picture, photo_of(view(HEAD), **pose))
    assert abs(change.turn_parallax) < 1e-3 and abs(change.lift_parallax) < 1e-3


def test_tilting_a_picture_fakes_the_movement_but_not_the_parallax():
    """Turned in perspective about an oblique axis, a print shifts its nose against its eyes
    (a shear): the 2-D movement alone would pass, which is why the parallax is required."""
    picture = photo_of(view(HEAD, yaw_deg=10))
    tilted = photo_of(view(HEAD, yaw_deg=10), yaw_deg=35, roll_deg=25, pitch_deg=30, distance=3.0)
    change = PoseChange.between(picture, tilted)
    assert max(abs(change.turn), abs(change.lift)) > 0.05
    assert max(abs(change.turn_parallax), abs(change.lift_parallax)) < 1e-3


def rules(**changes) -> LivenessSettings:
    return LivenessSettings(challenge=True, **changes)


def play(challenge: Challenge, frames: list[np.ndarray], fps: float = 15.0) -> ChallengeOutcome | None:
    outcome = None
    for i, landmarks in enumerate(frames):
        outcome = challenge.observe(landmarks, i / fps)
    return outcome


def head_doing(moves, fps: float = 15.0, seconds_each: float = 1.0) -> list[np.ndarray]:
    poses = {
        HeadMove.TURN_LEFT: dict(yaw_deg=25),
        HeadMove.TURN_RIGHT: dict(yaw_deg=-25),
        HeadMove.LOOK_UP: dict(pitch_deg=20),
    }
    frames = [view(HEAD)] * 3
    for move in moves:
        steps = int(fps * seconds_each)
        pose = poses[move]
        frames += [view(HEAD, **{k: v * np.sin(np.pi * i / steps) for k, v in pose.items()}) for i in range(steps)]
    return frames


def test_the_asked_movements_in_order_pass():
    moves = (HeadMove.TURN_LEFT, HeadMove.LOOK_UP)
    challenge = Challenge(moves, 0.0, rules())
    assert play(challenge, head_doing(moves)) is ChallengeOutcome.PASSED
    assert 0.5 < challenge.seconds() < 2.2


def test_the_wrong_movements_time_out():
    challenge = Challenge((HeadMove.TURN_LEFT, HeadMove.LOOK_UP), 0.0, rules(challenge_time_s=4.0))
    frames = head_doing((HeadMove.TURN_RIGHT, HeadMove.LOOK_UP, HeadMove.TURN_RIGHT))
    frames += [view(HEAD)] * 30
    assert play(challenge, frames) is ChallengeOutcome.TIMED_OUT


def test_a_picture_turned_as_asked_fails():
    moves = (HeadMove.TURN_LEFT, HeadMove.TURN_RIGHT)
    challenge = Challenge(moves, 0.0, rules(challenge_time_s=3.0))
    frontal = view(HEAD)
    frames = [photo_of(frontal, yaw_deg=60 * np.sin(i / 6), held_at_deg=40) for i in range(60)]
    # The shear of a picture turned about an axis oblique to the face moves its nose against its eyes ...
    assert max(PoseChange.between(frames[0], f).movement(HeadMove.TURN_LEFT)[0] for f in frames) > 0.15
    # ... but never off the plane, so the challenge fails as a flat picture
    assert play(challenge, frames) is ChallengeOutcome.FAILED


def test_draws_are_different_movements_in_a_random_order():
    rng = random.Random(3)
    draws = {draw_moves(rng, 2) for _ in range(200)}
    assert len(draws) == 6 and all(len(set(d)) == 2 for d in draws)


def test_the_desk_records_outcomes_apart_from_attendance_and_asks_once_a_day():
    store = GalleryStore.memory()
    person = store.add_person("Ada")
    today = datetime(2026, 11, 30, 9, 0).astimezone()
    desk = ChallengeDesk(
        rules(challenge_time_s=2.0, challenge_retry_s=1.0), store, "kiosk", random.Random(0), clock=lambda: today
    )
    assert desk.admit(1, person.id, 0.0) is Admission.WAIT
    # a picture held still: the time runs out, the attempt is recorded with its snapshot
    for i in range(40):
        desk.observe(1, person.id, photo_of(view(HEAD)), 120, i / 15, False, lambda: b"jpeg")
    assert desk.last_outcome(1) is ChallengeOutcome.TIMED_OUT
    assert desk.admit(1, person.id, 40 / 15) is Admission.REFUSED  # the pause before a retry
    [attempt] = store.challenges(day=today.date(), person_id=person.id)
    assert attempt.outcome is ChallengeOutcome.TIMED_OUT and attempt.source == "kiosk"
    assert store.challenge_snapshot(attempt.id) == b"jpeg"
    assert store.events() == []
    # the retry: a real head doing what is asked
    assert desk.admit(1, person.id, 5.0) is Admission.WAIT
    moves = desk.challenge(1).moves
    for i, landmarks in enumerate(head_doing(moves)):
        if desk.observe(1, person.id, landmarks, 120, 5.0 + i / 15, False, lambda: b"jpeg"):
            break
    assert desk.last_outcome(1) is ChallengeOutcome.PASSED
    passed = store.challenges(outcomes=[ChallengeOutcome.PASSED])
    assert len(passed) == 1 and store.challenge_snapshot(passed[0].id) is None
    assert store.events() == []
    # later today, on a new track (or after a restart), the person is not asked again
    assert ChallengeDesk(rules(), store, "kiosk", clock=lambda: today).admit(7, person.id, 0.0) is Admission.MARK
    # ... unless the admin wants a challenge every time, or it is another day
    every_time = ChallengeDesk(rules(challenge_once_per_day=False), store, clock=lambda: today)
    assert every_time.admit(7, person.id, 0.0) is Admission.WAIT
    tomorrow = ChallengeDesk(rules(), store, clock=lambda: today + timedelta(days=1))
    assert tomorrow.admit(7, person.id, 0.0) is Admission.WAIT


def test_challenges_go_with_their_person_and_with_retention():
    store = GalleryStore.memory()
    person = store.add_person("Ada")
    old = datetime(2026, 1, 5, 9, 0).astimezone()
    store.record_challenge(
        ChallengeAttempt(
            None, person.id, old, "kiosk", ("turn_left", "look_up"), ChallengeOutcome.FAILED, 6.0, 3, b"jpeg"
        )
    )
    [saved] = store.challenges()
    assert saved.moves == ("turn_left", "look_up") and saved.outcome is ChallengeOutcome.FAILED
    store.purge(old + timedelta(seconds=1))
    assert store.challenges() == []
    store.record_challenge(ChallengeAttempt(None, person.id, old, "kiosk", ("look_up",), ChallengeOutcome.PASSED, 1.0))
    store.delete_person(person.id)
    assert store.challenges() == []
