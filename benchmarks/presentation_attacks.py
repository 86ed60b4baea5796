"""Presentation attacks and bona fide presentations for the liveness benchmark and its tests.

Attacks (ISO/IEC 30107-3 "presentation attack instruments"), made from the shared `dev` photos:
- printed photo: the photo on a sheet with a white margin, held in a hand in front of a
  background: it drifts, trembles, rolls, comes closer, and is turned and tilted in 3-D (the way an
  attacker tries to "turn the head" of a print to answer the challenge), seen through a pinhole
  camera, with sensor noise and flickering light;
- screen replay: the photo on a phone held the same way: a black bezel, the display's gamma and
  brightness, a pixel grid, and moiré between the grid and the camera's sensor.

Every attack frame is a projective view of one flat picture, which is what the landmark parallax
check relies on; a bent print is not here (see core/vision/challenge.py for that limit).

Bona fide: the Hamilton clip's close-up (frames 82-210), where the performer turns to his right
and tilts his head up (read off the frames: turned furthest and chin up at about 114-134), and
the same frames mirrored, where a real head turns to its left.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.base.records import ChallengeOutcome
from core.base.settings import LivenessSettings
from core.live.challenge import Challenge
from core.vision.challenge import HeadMove, PoseChange
from core.vision.detect import central_face
from core.vision.liveness import LivenessChecker

CANVAS = (480, 360)  # width, height of the simulated camera frame
FPS = 10.0  # frame rate of the simulated attacks (a slow kiosk: fewer chances to pass)
SCREEN_ZOOM = 2  # display pixels per photo pixel

# Hamilton close-up: where the challenge can start (the face is frontal enough and recognised),
# and the two-step challenges the movement after it satisfies, read off the frames by eye:
# to his right from about frame 106, chin up from about 114 until 134.
HAMILTON_CLOSE_UP = (82, 211)
HAMILTON_STARTS = range(84, 107)
HAMILTON_ANSWERS = (HeadMove.TURN_RIGHT, HeadMove.LOOK_UP)
MIRRORED = {
    HeadMove.TURN_RIGHT: HeadMove.TURN_LEFT,
    HeadMove.TURN_LEFT: HeadMove.TURN_RIGHT,
    HeadMove.LOOK_UP: HeadMove.LOOK_UP,
}


@dataclass(frozen=True)
class Presentation:
    """One attempt at the kiosk: BGR frames at `fps` and the challenge the kiosk asked for."""

    name: str
    frames: list[np.ndarray]
    moves: tuple[HeadMove, ...]
    fps: float
    attack: str | None  # None = bona fide; else the attack instrument ("print", "screen")
    frame_keys: tuple | None = None  # names of the frames, for presentations that share frames


def _background(rng: np.random.Generator) -> np.ndarray:
    """A smooth, coloured room-like background."""
    w, h = CANVAS
    small = rng.uniform(40, 200, (6, 8, 3)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    about_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    about_x = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    about_z = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return about_z @ about_y @ about_x


def _view(
    size: tuple[int, int],
    yaw: float,
    pitch: float,
    roll: float,
    distance: float,
    shift: tuple[float, float],
    focal: float,
) -> np.ndarray:
    """Homography from the picture (w x h pixels, a plane) to the camera frame."""
    w, h = size
    corners = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]])
    moved = corners @ _rotation(yaw, pitch, roll).T + np.array([shift[0], shift[1], distance])
    projected = focal * moved[:, :2] / moved[:, 2:] + np.array(CANVAS) / 2
    return cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), projected.astype(np.float32))


def _ease(t: float, start: float, length: float) -> float:
    """0 -> 1 -> 0 over [start, start + length]: a movement out and back."""
    if not start <= t <= start + length:
        return 0.0
    return float(np.sin(np.pi * (t - start) / length))


# How an attacker tries each movement with a flat picture: (yaw, pitch, roll) in radians at the peak.
# Turning a print about its vertical axis is the obvious try; bending the wrist adds roll and tilt.
_ANSWER_POSES = {
    HeadMove.TURN_LEFT: (0.6, 0.0, 0.1),
    HeadMove.TURN_RIGHT: (-0.6, 0.0, -0.1),
    HeadMove.LOOK_UP: (0.0, 0.55, 0.0),
}


def _hand_path(moves: tuple[HeadMove, ...], seconds: float, fps: float, rng: np.random.Generator):
    """Per-frame (yaw, pitch, roll, distance scale, dx, dy): a hand holding a picture and
    answering the challenge with it, both directions tried when the first does not pass."""
    count = int(seconds * fps)
    wobble = rng.normal(0, 1, (count + 30, 6)).cumsum(axis=0)
    wobble = cv2.GaussianBlur(wobble, (1, 15), 4)[15 : 15 + count]
    wobble -= wobble.mean(axis=0)
    wobble /= np.abs(wobble).max(axis=0) + 1e-9
    strength = rng.uniform(0.5, 1.0)
    slot = seconds / (2 * len(moves))  # each move tried the asked way, then the other way
    for i in range(count):
        t = i / fps
        yaw, pitch, roll = 0.08 * wobble[i, 0], 0.08 * wobble[i, 1], 0.1 * wobble[i, 2]
        for k, move in enumerate(moves):
            peak = np.array(_ANSWER_POSES[move]) * strength
            yaw_, pitch_, roll_ = peak * _ease(t, 2 * k * slot, slot) - peak * _ease(t, (2 * k + 1) * slot, slot)
            yaw, pitch, roll = yaw + yaw_, pitch + pitch_, roll + roll_
        yield yaw, pitch, roll, 1 + 0.12 * wobble[i, 3], 25 * wobble[i, 4], 15 * wobble[i, 5]


def _printed(photo_rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo on paper: a white margin, slightly washed-out ink."""
    ink = photo_rgb.astype(np.float32) * rng.uniform(0.8, 0.95) + rng.uniform(10, 30)
    return cv2.copyMakeBorder(ink, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=(245, 245, 240))


def _on_screen(photo_rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo on a phone: display gamma and brightness, a visible pixel grid, a black bezel."""
    gamma = rng.uniform(0.7, 1.4)
    shown = 255 * (photo_rgb.astype(np.float32) / 255) ** gamma * rng.uniform(1.0, 1.3)
    shown *= np.float32([rng.uniform(0.9, 1.0), 1.0, rng.uniform(1.0, 1.1)])  # a cool white point
    shown = cv2.resize(shown, None, fx=SCREEN_ZOOM, fy=SCREEN_ZOOM, interpolation=cv2.INTER_NEAREST)
    shown[::3, :] *= 0.75  # the sub-pixel rows: beats with the camera's sensor as moiré
    shown[:, ::3] *= 0.85
    return cv2.copyMakeBorder(np.clip(shown, 0, 255), 30, 30, 16, 16, cv2.BORDER_CONSTANT, value=(12, 12, 12))


def attack_presentation(
    photo_rgb: np.ndarray,
    moves: tuple[HeadMove, ...],
    instrument: str,
    seconds: float,
    seed: int,
    name: str = "",
    fps: float = FPS,
) -> Presentation:
    """A printed photo ("print") or a phone screen ("screen") answering `moves` for `seconds`."""
    rng = np.random.default_rng(seed)
    picture = _printed(photo_rgb, rng) if instrument == "print" else _on_screen(photo_rgb, rng)
    h, w = picture.shape[:2]
    shown_width = photo_rgb.shape[1] * (1 if instrument == "print" else SCREEN_ZOOM)
    background = _background(rng)
    focal = 500.0
    # Distance so that the face (about 45% of an LFW photo's width) is 90-140 px wide in the frame.
    face_fraction = 0.45 * shown_width / w
    base_distance = focal * w * face_fraction / rng.uniform(90, 140)
    moire = None
    if instrument == "screen":
        yy, xx = np.mgrid[0 : CANVAS[1], 0 : CANVAS[0]].astype(np.float32)
        angle, period = rng.uniform(0, np.pi), rng.uniform(3.0, 7.0)
        moire = 1 + 0.08 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)[..., None]
    frames = []
    for i, (yaw, pitch, roll, scale, dx, dy) in enumerate(_hand_path(moves, seconds, fps, rng)):
        homography = _view(
            (w, h),
            yaw,
            pitch,
            roll,
            base_distance * scale,
            (dx * base_distance / focal, dy * base_distance / focal),
            focal,
        )
        warped = cv2.warpPerspective(picture, homography, CANVAS, flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(np.ones((h, w), np.float32), homography, CANVAS)[..., None]
        frame = background * (1 - mask) + warped * mask
        if moire is not None:
            frame = frame * moire
        frame = frame * (1 + 0.04 * np.sin(i / 5)) + rng.normal(0, 2.5, frame.shape)
        frames.append(cv2.cvtColor(np.clip(frame, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    return Presentation(name, frames, moves, fps, instrument)


def hamilton_presentations(
    clip_bgr: list[np.ndarray], starts=HAMILTON_STARTS, seconds: float = 6.0, fps: float = 30.0
) -> list[Presentation]:
    """Bona fide: the performer from each start frame, asked for what he then does, and the same
    frames mirrored (a real head turning the other way)."""
    end = HAMILTON_CLOSE_UP[1]
    presentations = []
    mirrored = {}
    for start in starts:
        indices = range(start, min(end, start + int(seconds * fps)))
        frames = [clip_bgr[i] for i in indices]
        presentations.append(
            Presentation(
                f"hamilton@{start}", frames, HAMILTON_ANSWERS, fps, None, tuple(("hamilton", i) for i in indices)
            )
        )
        flipped = [mirrored.setdefault(i, np.ascontiguousarray(clip_bgr[i][:, ::-1])) for i in indices]
        presentations.append(
            Presentation(
                f"hamilton-mirrored@{start}",
                flipped,
                tuple(MIRRORED[m] for m in HAMILTON_ANSWERS),
                fps,
                None,
                tuple(("hamilton-mirrored", i) for i in indices),
            )
        )
    return presentations


@dataclass(frozen=True)
class Verdict:
    name: str
    attack: str | None
    accepted: bool
    outcome: str  # ChallengeOutcome's value
    seconds: float  # from the prompt to the outcome
    steps_passed: int = 0


@dataclass(frozen=True)
class Observed:
    """A presentation as the kiosk saw it: per frame, the central face's landmarks and size (None
    when no face was found) and the passive check's verdict so far."""

    presentation: Presentation
    landmarks: list[np.ndarray | None]
    face_px: list[int]
    passive: list[bool | None]


def observe(presentation: Presentation, detector, rules: LivenessSettings, seen: dict | None = None) -> Observed:
    """Detect the face in every frame (MTCNN, as the recognizer does) and run the passive check.

    seen: detections by frame key, shared by presentations made of the same frames."""
    passive = LivenessChecker.from_settings(rules)
    landmarks, sizes, verdicts = [], [], []
    keys = presentation.frame_keys or [None] * len(presentation.frames)
    for bgr, key in zip(presentation.frames, keys):
        if seen is not None and key is not None and key in seen:
            face = seen[key]
        else:
            faces = detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), with_crops=False)
            face = central_face(faces, bgr.shape) if faces else None
            if seen is not None and key is not None:
                seen[key] = face
        if face is not None:
            passive.add(bgr, face.landmarks, "bgr")
        landmarks.append(None if face is None else face.landmarks)
        sizes.append(0 if face is None else face.size_px)
        verdicts.append(passive.verdict())
    return Observed(presentation, landmarks, sizes, verdicts)


def judge(observed: Observed, rules: LivenessSettings) -> Verdict:
    """What the kiosk decides: the challenge starts at the first detection of the face (as it
    would once recognised); the passive check is a first filter when the rules say so."""
    presentation = observed.presentation
    challenge = Challenge(presentation.moves, 0.0, rules)
    looks_flat = False
    for i, (landmarks, size, passive) in enumerate(zip(observed.landmarks, observed.face_px, observed.passive)):
        now = i / presentation.fps
        looks_flat = rules.passive_with_challenge and passive is False
        if landmarks is None or size < rules.challenge_min_face_px:
            challenge.expired(now, looks_flat)
        else:
            challenge.observe(landmarks, now, looks_flat)
        if challenge.outcome is not None:
            break
    else:  # the recording ended: the rest of the time limit passes without the movement
        challenge.expired(float("inf"), looks_flat)
        challenge.ended_at = rules.challenge_time_s
    accepted = challenge.outcome is ChallengeOutcome.PASSED
    return Verdict(
        presentation.name, presentation.attack, accepted, challenge.outcome.value, challenge.seconds(), challenge.step
    )


def passive_only(observed: Observed) -> Verdict:
    """The passive check by itself (liveness.photo_filter without the challenge): accepted as soon as
    it calls the face live."""
    presentation = observed.presentation
    for i, verdict in enumerate(observed.passive):
        if verdict is True:
            return Verdict(presentation.name, presentation.attack, True, "passed", i / presentation.fps)
    return Verdict(presentation.name, presentation.attack, False, "failed", len(observed.passive) / presentation.fps)


def peak_parallax(observed: Observed, rules: LivenessSettings) -> float:
    """The largest nose parallax, in any direction a step can ask for, that a presentation held
    for `challenge_hold` detections in a row against its neutral pose: how close it came."""
    first = [
        lm
        for lm, px in zip(observed.landmarks, observed.face_px)
        if lm is not None and px >= rules.challenge_min_face_px
    ]
    count = max(1, rules.challenge_neutral_frames)
    if len(first) <= count:
        return 0.0
    neutral = np.median(np.stack(first[:count]), axis=0)
    changes = [PoseChange.between(neutral, lm) for lm in first[count:]]
    hold = max(1, rules.challenge_hold)
    peak = 0.0
    for move in HeadMove:
        series = [c.movement(move)[1] if c else 0.0 for c in changes]
        for i in range(len(series) - hold + 1):
            peak = max(peak, min(series[i : i + hold]))
    return peak
