"""Masks, glasses, a cap's shadow and a hallway's light drawn onto real faces (core.vision.occlusion, degrade)."""

from __future__ import annotations

import numpy as np
import pytest

from core.vision.degrade import FAR_SCALE, Degradation, degrade
from core.vision.detect import FaceDetector, central_face
from core.vision.images import load_image, sharpness
from core.vision.occlusion import Occlusion, draw_occlusion


@pytest.fixture(scope="module")
def face_photo(faces):
    photo = load_image(faces / "dev" / "Angelina_Jolie" / "Angelina_Jolie_0006.jpg")  # light skin round the eyes
    face = central_face(FaceDetector().detect(photo, with_crops=False), photo.shape)
    assert face is not None
    return photo, face


def _patch(image: np.ndarray, point: np.ndarray, half: int) -> np.ndarray:
    x, y = int(round(point[0])), int(round(point[1]))
    return image[y - half : y + half, x - half : x + half].astype(np.float32)


def _changed(before: np.ndarray, after: np.ndarray, point: np.ndarray, half: int) -> float:
    return float(np.abs(_patch(before, point, half) - _patch(after, point, half)).mean())


def test_each_cover_lands_on_its_part_of_the_face(face_photo):
    photo, face = face_photo
    eyes, mouth = face.landmarks[:2].mean(axis=0), face.landmarks[3:].mean(axis=0)
    half = max(3, face.size_px // 14)
    for kind in Occlusion:
        drawn = draw_occlusion(photo, face.landmarks, kind, np.random.default_rng(1))
        assert drawn.shape == photo.shape and drawn.dtype == np.uint8
        at_mouth, at_eyes = _changed(photo, drawn, mouth, half), _changed(photo, drawn, eyes, half)
        if kind.covers_mouth:
            assert at_mouth > 25 and at_eyes < 3, (kind, at_mouth, at_eyes)
        if kind is Occlusion.DARK_GLASSES:
            left_eye = _patch(drawn, face.landmarks[0], half).mean()
            assert left_eye < 0.6 * _patch(photo, face.landmarks[0], half).mean() and at_mouth < 3
        if kind is Occlusion.CAP_SHADOW:
            assert _patch(drawn, eyes - [0, 2 * half], half).mean() < _patch(photo, eyes - [0, 2 * half], half).mean()
            assert at_mouth < 3


def test_the_same_seed_draws_the_same_cover_and_others_vary(face_photo):
    photo, face = face_photo
    for kind in Occlusion:
        first = draw_occlusion(photo, face.landmarks, kind, np.random.default_rng(7))
        again = draw_occlusion(photo, face.landmarks, kind, np.random.default_rng(7))
        assert np.array_equal(first, again)
        others = [draw_occlusion(photo, face.landmarks, kind, np.random.default_rng(s)) for s in range(4)]
        assert len({o.tobytes() for o in others}) == 4, kind  # shape, size or colour differ


def test_a_cover_follows_the_face_when_it_moves(face_photo):
    photo, face = face_photo
    shifted = np.roll(photo, (12, -9), axis=(0, 1))
    landmarks = face.landmarks + np.array([-9, 12], np.float32)
    drawn = draw_occlusion(photo, face.landmarks, Occlusion.MEDICAL_MASK, np.random.default_rng(3))
    moved = draw_occlusion(shifted, landmarks, Occlusion.MEDICAL_MASK, np.random.default_rng(3))
    inner = (slice(40, -40), slice(40, -40))  # away from what np.roll wrapped round
    assert np.abs(np.roll(drawn, (12, -9), axis=(0, 1))[inner].astype(int) - moved[inner]).mean() < 1.0


def test_degradations_are_what_they_say(face_photo):
    photo, face = face_photo
    rng = np.random.default_rng(0)
    assert degrade(photo, Degradation.DIM, face.box, rng).mean() < 0.35 * photo.mean()
    far = degrade(photo, Degradation.FAR, face.box, rng)
    assert far.shape[0] == round(photo.shape[0] * FAR_SCALE)
    for kind in (Degradation.DEFOCUS, Degradation.MOTION_BLUR):
        assert sharpness(degrade(photo, kind, face.box, rng)) < 0.5 * sharpness(photo), kind
    lit = degrade(photo, Degradation.SIDE_LIGHT, face.box, rng).astype(np.float32) / np.maximum(photo, 1)
    x1, x2 = int(face.box[0]), int(face.box[2])
    assert abs(float(np.median(lit[:, x1 + 5])) - float(np.median(lit[:, x2 - 5]))) > 0.4
    assert np.abs(degrade(photo, Degradation.JPEG, face.box, rng).astype(int) - photo).mean() > 2
