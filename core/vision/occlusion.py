"""Masks, glasses and a cap's shadow drawn onto a face from its five landmarks.

Each shape is drawn in a canonical face frame (ArcFace's 112x112 landmark template) and mapped onto the
photo through the homography fitted from the template's five points to the detected ones, so it follows
the face's size, roll and perspective. Shape, size, colour and pattern come from a seeded generator:
a single fixed shape would teach a system to recognise the shape, not the face. Used by
benchmarks/conditions.py to measure, and reusable for training augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.base.records import Occlusion

# ArcFace's 112x112 template: left eye, right eye, nose tip, left and right mouth corners.
TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    np.float32,
)
_SUPERSAMPLE = 4  # shapes are drawn at 4x and blurred down: smooth edges at any face size


MEDICAL_COLOURS = ((170, 205, 230), (235, 238, 240), (40, 42, 48), (225, 180, 195), (165, 215, 190), (120, 150, 205))
CLOTH_COLOURS = (
    (30, 40, 90),
    (20, 20, 22),
    (150, 30, 40),
    (95, 110, 70),
    (200, 190, 170),
    (60, 60, 65),
    (230, 120, 40),
)
LENS_TINTS = ((25, 25, 28), (45, 35, 25), (30, 45, 35), (55, 50, 60))
FRAME_COLOURS = ((15, 15, 15), (90, 60, 35), (170, 170, 175), (120, 20, 30), (40, 40, 90))
CAP_COLOURS = ((20, 30, 70), (180, 30, 30), (25, 25, 25), (230, 230, 225), (60, 90, 50))


@dataclass(frozen=True)
class FaceFrame:
    """Maps the canonical 112x112 face frame onto the photo."""

    homography: np.ndarray  # (3, 3)
    scale: float  # photo pixels per canonical pixel (the inter-ocular distance's ratio)

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> FaceFrame:
        points = np.asarray(landmarks, np.float32).reshape(5, 2)
        homography, _ = cv2.findHomography(TEMPLATE, points, 0)
        if homography is None:  # degenerate landmarks: fall back to a similarity transform
            affine, _ = cv2.estimateAffinePartial2D(TEMPLATE, points)
            homography = np.vstack([affine, [0.0, 0.0, 1.0]])
        eyes = float(np.linalg.norm(points[1] - points[0]))
        template_eyes = float(np.linalg.norm(TEMPLATE[1] - TEMPLATE[0]))
        return cls(homography.astype(np.float64), max(eyes, 1.0) / template_eyes)

    def map(self, points: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, np.float32).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, self.homography).reshape(-1, 2)


def _alpha_polygon(shape: tuple[int, int], polygons: list[np.ndarray], feather: float) -> np.ndarray:
    """(H, W) float32 coverage of the filled polygons (photo pixels), edges feathered by `feather` px."""
    h, w = shape
    canvas = np.zeros((h * _SUPERSAMPLE, w * _SUPERSAMPLE), np.uint8)
    for poly in polygons:
        pts = np.round(poly * _SUPERSAMPLE).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA)
    alpha: np.ndarray = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    if feather > 0.3:
        alpha = np.asarray(cv2.GaussianBlur(alpha, (0, 0), feather), np.float32)
    return alpha


def _blend(rgb: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return rgb * (1.0 - a) + colour * a


def _lines_alpha(shape: tuple[int, int], lines: list[np.ndarray], width: float) -> np.ndarray:
    h, w = shape
    canvas = np.zeros((h * _SUPERSAMPLE, w * _SUPERSAMPLE), np.uint8)
    thickness = max(1, int(round(width * _SUPERSAMPLE)))
    for line in lines:
        pts = np.round(line * _SUPERSAMPLE).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [pts], False, 255, thickness, lineType=cv2.LINE_AA)
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _jitter(rng: np.random.Generator, colour: tuple[int, int, int], spread: float = 18) -> np.ndarray:
    return np.clip(np.asarray(colour, np.float32) + rng.normal(0, spread, 3), 0, 255)


def _mask_outline(rng: np.random.Generator, cloth: bool) -> np.ndarray:
    """The mask's outline in the canonical frame: over the nose bridge, round the jaw, under the chin."""
    top = rng.uniform(60, 68)  # over the nose bridge: the nose tip is at y 72, the eyes at 52
    half_width = rng.uniform(40, 47) if cloth else rng.uniform(42, 50)
    chin = rng.uniform(116, 128)
    side_drop = rng.uniform(0.0, 8.0)
    peak = rng.uniform(1.0, 4.0) if cloth else rng.uniform(0.0, 2.0)  # cloth masks rise over the nose
    xs = np.linspace(-1.0, 1.0, 15)
    top_edge = [(56 + x * half_width, top + side_drop * x * x - peak * (1 - abs(x))) for x in xs]
    belly = rng.uniform(0.55, 0.95) if cloth else rng.uniform(0.25, 0.6)  # how round the bottom is
    angles = np.linspace(0.0, np.pi, 17)
    bottom_edge = [
        (56 + half_width * np.cos(a), top + side_drop + (chin - top - side_drop) * (np.sin(a) ** belly)) for a in angles
    ]
    return np.array(top_edge + bottom_edge, np.float32)


def _draw_mask(rgb: np.ndarray, frame: FaceFrame, rng: np.random.Generator, cloth: bool) -> np.ndarray:
    shape = rgb.shape[:2]
    outline = frame.map(_mask_outline(rng, cloth))
    alpha = _alpha_polygon(shape, [outline], feather=0.4 * frame.scale)
    palette = CLOTH_COLOURS if cloth else MEDICAL_COLOURS
    colour = _jitter(rng, palette[int(rng.integers(len(palette)))])
    h, w = shape
    # shading: darker towards the jaw, plus fabric grain
    yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    shade = (1.0 - rng.uniform(0.05, 0.2) * yy) * np.ones((1, w), np.float32)
    grain = rng.normal(0.0, 6.0 if cloth else 2.5, (h, w)).astype(np.float32)
    paint = np.clip(colour[None, None, :] * shade[..., None] + grain[..., None], 0, 255)
    out = rgb * (1.0 - alpha[..., None]) + paint * alpha[..., None]
    lines = []
    if cloth and rng.random() < 0.5:  # a print: stripes across the mask
        stripe = _jitter(rng, CLOTH_COLOURS[int(rng.integers(len(CLOTH_COLOURS)))], 30)
        for y in np.arange(rng.uniform(70, 78), 125, rng.uniform(7, 12)):
            lines.append(frame.map(np.array([[8, y], [104, y]], np.float32)))
        stripes = _lines_alpha(shape, lines, max(0.8, 1.2 * frame.scale)) * alpha
        out = _blend(out, stripes, stripe)
    elif not cloth:  # pleats
        pleats = [frame.map(np.array([[14, y], [98, y]], np.float32)) for y in rng.uniform(78, 108, 3)]
        pleat_alpha = _lines_alpha(shape, pleats, max(0.6, 0.7 * frame.scale)) * alpha * 0.35
        out = _blend(out, pleat_alpha, colour * 0.6)
    # ear loops
    loops = [frame.map(np.array([[8 + 96 * s, 66], [4 + 104 * s, 58], [2 + 108 * s, 80]], np.float32)) for s in (0, 1)]
    loop_colour = np.full(3, 235.0) if not cloth else colour
    out = _blend(out, _lines_alpha(shape, loops, max(0.6, 0.6 * frame.scale)) * 0.8, loop_colour)
    return out


def _lens(centre: tuple[float, float], rng_shape: int, rx: float, ry: float) -> np.ndarray:
    angles = np.linspace(0.0, 2 * np.pi, 33)[:-1]
    c, s = np.cos(angles), np.sin(angles)
    if rng_shape == 1:  # rounded rectangle (superellipse)
        c, s = np.sign(c) * np.abs(c) ** 0.5, np.sign(s) * np.abs(s) ** 0.5
    elif rng_shape == 2:  # aviator: wider at the top
        s = np.where(s > 0, s * 1.15, s * 0.85)
    return np.stack([centre[0] + rx * c, centre[1] + ry * s], axis=1).astype(np.float32)


def _draw_glasses(rgb: np.ndarray, frame: FaceFrame, rng: np.random.Generator, dark: bool) -> np.ndarray:
    shape = rgb.shape[:2]
    kind = int(rng.integers(3))
    rx, ry = rng.uniform(12.5, 17.0), rng.uniform(9.0, 14.0)
    if kind == 0:
        ry = rx * rng.uniform(0.85, 1.0)  # round
    lift = rng.uniform(-1.5, 2.5)
    centres = [(TEMPLATE[i, 0], TEMPLATE[i, 1] + lift) for i in (0, 1)]
    lenses = [frame.map(_lens(c, kind, rx, ry)) for c in centres]
    lens_alpha = _alpha_polygon(shape, lenses, feather=0.3 * frame.scale)
    out = rgb.astype(np.float32)
    if dark:
        tint = _jitter(rng, LENS_TINTS[int(rng.integers(len(LENS_TINTS)))], 8)
        out = _blend(out, lens_alpha * rng.uniform(0.82, 0.96), tint)
    else:
        out = _blend(out, lens_alpha * rng.uniform(0.05, 0.15), np.array([200.0, 215.0, 225.0]))
    # a glare streak across each lens
    glare = [
        frame.map(np.array([[cx - rx * 0.5, cy - ry * 0.2], [cx + rx * 0.1, cy - ry * 0.7]])) for cx, cy in centres
    ]
    out = _blend(
        out, _lines_alpha(shape, glare, 1.5 * frame.scale) * lens_alpha * rng.uniform(0.2, 0.5), np.full(3, 250.0)
    )
    rims = [np.vstack([lens, lens[:1]]) for lens in lenses]
    bridge_y = centres[0][1] - ry * rng.uniform(0.1, 0.5)
    bridge = frame.map(np.array([[centres[0][0] + rx, bridge_y], [56, bridge_y - 2], [centres[1][0] - rx, bridge_y]]))
    temples = [
        frame.map(np.array([[centres[0][0] - rx, centres[0][1] - 2], [6, centres[0][1] - 1]])),
        frame.map(np.array([[centres[1][0] + rx, centres[1][1] - 2], [106, centres[1][1] - 1]])),
    ]
    frame_colour = _jitter(rng, FRAME_COLOURS[int(rng.integers(len(FRAME_COLOURS)))], 10)
    thickness = rng.uniform(1.0, 2.6) * frame.scale
    return _blend(out, _lines_alpha(shape, rims + [bridge] + temples, thickness), frame_colour)


def _draw_cap_shadow(rgb: np.ndarray, frame: FaceFrame, rng: np.random.Generator) -> np.ndarray:
    shape = rgb.shape[:2]
    edge = rng.uniform(50, 60)  # the shadow's lower edge: across the eyes
    tilt = rng.uniform(-5, 5)
    shadow = frame.map(np.array([[-20, -60], [132, -60], [132, edge + tilt], [56, edge + 3], [-20, edge - tilt]]))
    alpha = _alpha_polygon(shape, [shadow], feather=rng.uniform(1.5, 3.5) * frame.scale)
    darkness = rng.uniform(0.55, 0.75)
    out = rgb.astype(np.float32) * (1.0 - darkness * alpha[..., None])
    brim_y = rng.uniform(24, 34)
    brim = frame.map(
        np.array([[-4, brim_y + 4], [56, brim_y - 4], [116, brim_y + 4], [108, brim_y - 14], [4, brim_y - 14]])
    )
    crown = frame.map(np.array([[4, brim_y - 10], [108, brim_y - 10], [94, brim_y - 38], [18, brim_y - 38]]))
    cap_alpha = _alpha_polygon(shape, [brim, crown], feather=0.4 * frame.scale)
    return _blend(out, cap_alpha, _jitter(rng, CAP_COLOURS[int(rng.integers(len(CAP_COLOURS)))]))


def draw_occlusion(rgb: np.ndarray, landmarks: np.ndarray, kind: Occlusion, rng: np.random.Generator) -> np.ndarray:
    """A copy of the RGB uint8 photo with `kind` drawn onto the face whose 5 landmarks are given."""
    frame = FaceFrame.from_landmarks(landmarks)
    image = rgb.astype(np.float32)
    if kind is Occlusion.MEDICAL_MASK or kind is Occlusion.CLOTH_MASK:
        out = _draw_mask(image, frame, rng, cloth=kind is Occlusion.CLOTH_MASK)
    elif kind is Occlusion.DARK_GLASSES or kind is Occlusion.CLEAR_GLASSES:
        out = _draw_glasses(image, frame, rng, dark=kind is Occlusion.DARK_GLASSES)
    else:
        out = _draw_cap_shadow(image, frame, rng)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
