"""Head-movement geometry for the challenge liveness check, from MTCNN's five landmarks.

The five points are the two eyes, the nose tip and the two mouth corners. Four of them (eyes and
mouth corners) lie close to one plane on a real face; the nose tip stands 2-3 cm in front of it,
about 0.4 inter-ocular distances (IOD).

What a real head movement does
- Turning (yaw) moves the nose tip sideways against the line of the eyes. `yaw_offset` is the
  nose's offset from the eyes' midpoint along the eye line, in IODs: 0 facing the camera.
- Looking up (pitch) moves the nose tip towards the eye line. `nose_height` is the nose's
  distance below the eye line as a share of the mouth line's distance: smaller when looking up.
Both are measured relative to the face's own neutral pose, taken when the challenge starts, so a
face that is not frontal to begin with, or has a long nose, is judged by its own change.

What a flat picture cannot do
A printed photo or a screen is a plane. However it is moved, tilted, rotated or seen in
perspective, the camera sees a projective transform of it: one homography maps *all five* points
from the neutral frame to the current one. `nose_parallax` fits that homography exactly to the
four coplanar points (eyes, mouth corners) and reports where the nose is against where the plane
predicts it: the parallax of a point off the plane. For a real head turning by an angle a it is
about 0.4 IOD * sin(a) in the direction of the turn (0.2-0.5 IOD in the Hamilton clip); for a
picture it would be zero if the landmarks were exact. Tilting a print does move the nose against
the eyes in 2-D (a shear), which is why the movement alone is never enough: a step counts only when
the movement *and* the parallax both point the asked way, for several detections in a row.

MTCNN's landmarks are regressed, not measured, and on a strongly foreshortened picture they drift
towards a typical face layout: that is the attacks' residual parallax. On benchmarks/liveness.py's
256 attacks it stayed below 0.13 IOD for turns, but a phone tilted back ~30 degrees held
0.19 IOD "up" for two detections (the threshold is 0.15) and passed a look-up step, though never a
whole challenge. The margins are thin both ways; the two steps in a random order carry the result.

Limits (what this geometry cannot tell from a live person)
- A video replay of the right person making the right movement: its frames carry real
  parallax. The random order of two steps and the time limit make a prepared recording less
  likely to fit, nothing more; a live replay (a video call with the person) passes.
- A 3-D mask, or a head-shaped model: it has a real nose in front of real eyes.
- A photo bent around a vertical cylinder: the nose region then stands in front of the eye
  corners, so turning the bent print gives some parallax. The thresholds are set for flat and
  slightly curled prints; a strongly bent print is a known weakness.
- Landmark noise: MTCNN's points jitter by a few pixels, so faces smaller than
  `ChallengeSettings.min_face_px` are not judged, and a step must hold for several detections.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import cv2
import numpy as np

LEFT_EYE, RIGHT_EYE, NOSE, MOUTH_LEFT, MOUTH_RIGHT = range(5)  # MTCNN order; "left" = image left
PLANE_POINTS = [LEFT_EYE, RIGHT_EYE, MOUTH_LEFT, MOUTH_RIGHT]


class HeadMove(enum.StrEnum):
    """One step of a challenge, in the person's own terms (their left is the screen's left as they
    face it, which is the camera image's right)."""

    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    LOOK_UP = "look_up"


@dataclass(frozen=True)
class FaceFrame:
    """The face's own axes in the image: origin between the eyes, x along the eye line (image left
    eye to image right eye), y towards the mouth, unit = the inter-ocular distance."""

    origin: np.ndarray
    x_axis: np.ndarray
    y_axis: np.ndarray
    eye_distance: float

    @classmethod
    def of(cls, landmarks: np.ndarray) -> FaceFrame | None:
        points = np.asarray(landmarks, np.float64).reshape(5, 2)
        across = points[RIGHT_EYE] - points[LEFT_EYE]
        distance = float(np.hypot(*across))
        if distance < 1e-6:
            return None
        x_axis = across / distance
        return cls(points[[LEFT_EYE, RIGHT_EYE]].mean(axis=0), x_axis, np.array([-x_axis[1], x_axis[0]]), distance)

    def local(self, vector: np.ndarray) -> np.ndarray:
        """An image-space vector in face units (x along the eyes, y down the face)."""
        return np.array([vector @ self.x_axis, vector @ self.y_axis]) / self.eye_distance


def yaw_offset(landmarks: np.ndarray) -> float | None:
    """The nose's offset from the eyes' midpoint along the eye line, in IODs (+ = image right)."""
    frame = FaceFrame.of(landmarks)
    if frame is None:
        return None
    return float(frame.local(np.asarray(landmarks, np.float64)[NOSE] - frame.origin)[0])


def nose_height(landmarks: np.ndarray) -> float | None:
    """The nose's distance below the eye line as a share of the mouth line's (smaller = looking up)."""
    points = np.asarray(landmarks, np.float64).reshape(5, 2)
    frame = FaceFrame.of(points)
    if frame is None:
        return None
    mouth = frame.local(points[[MOUTH_LEFT, MOUTH_RIGHT]].mean(axis=0) - frame.origin)[1]
    if mouth <= 1e-6:
        return None
    return float(frame.local(points[NOSE] - frame.origin)[1] / mouth)


def nose_parallax(neutral: np.ndarray, current: np.ndarray) -> np.ndarray | None:
    """Where the nose is against where a plane through the other four points puts it, in the
    current face's units: (x, y), x + = image right, y + = down. About (0, 0) for a flat picture."""
    neutral = np.asarray(neutral, np.float32).reshape(5, 2)
    current = np.asarray(current, np.float32).reshape(5, 2)
    frame = FaceFrame.of(current)
    if frame is None:
        return None
    try:
        homography = cv2.getPerspectiveTransform(neutral[PLANE_POINTS], current[PLANE_POINTS])
    except cv2.error:
        return None
    if homography is None or not np.all(np.isfinite(homography)):
        return None
    predicted = cv2.perspectiveTransform(neutral[NOSE].reshape(1, 1, 2), homography)[0, 0]
    if not np.all(np.isfinite(predicted)):
        return None
    return frame.local(current[NOSE].astype(np.float64) - predicted.astype(np.float64))


@dataclass(frozen=True)
class PoseChange:
    """How a face moved since its neutral pose, in the person's terms.

    turn: + = towards the person's left (image right), in IODs of nose movement against the eyes.
    lift: + = looking up, as the drop of `nose_height`.
    turn_parallax / lift_parallax: the nose's parallax off the plane of the other four points in
    the same directions, in IODs: near zero for a flat picture however it moves.
    """

    turn: float
    lift: float
    turn_parallax: float
    lift_parallax: float

    @classmethod
    def between(cls, neutral: np.ndarray, current: np.ndarray) -> PoseChange | None:
        yaw0, yaw1 = yaw_offset(neutral), yaw_offset(current)
        height0, height1 = nose_height(neutral), nose_height(current)
        parallax = nose_parallax(neutral, current)
        if yaw0 is None or yaw1 is None or height0 is None or height1 is None or parallax is None:
            return None
        return cls(
            turn=yaw1 - yaw0,
            lift=height0 - height1,
            turn_parallax=float(parallax[0]),
            lift_parallax=float(-parallax[1]),
        )

    def movement(self, move: HeadMove) -> tuple[float, float]:
        """(movement, parallax) in the direction `move` asks for; both positive when it is done."""
        if move is HeadMove.TURN_LEFT:
            return self.turn, self.turn_parallax
        if move is HeadMove.TURN_RIGHT:
            return -self.turn, -self.turn_parallax
        return self.lift, self.lift_parallax
