"""The second detection pass for still photos: covered faces and faces cropped tight to their box (issue 34)."""

from __future__ import annotations

import numpy as np
import pytest

from core.vision.detect import FaceDetector, central_face
from core.vision.images import load_image
from core.vision.occlusion import Occlusion, draw_occlusion
from core.vision.still_faces import find_still_face, padded, touches_edge
from tests.kits.paths import dev_people, dev_photos


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def test_masked_faces_the_first_pass_misses_are_found(detector):
    first, second = 0, 0
    for index, person in enumerate(dev_people()[:16]):
        photo = load_image(dev_photos(person)[5])
        face = central_face(detector.detect(photo, with_crops=False), photo.shape)
        masked = draw_occlusion(photo, face.landmarks, Occlusion.CLOTH_MASK, np.random.default_rng([34, index]))
        first += central_face(detector.detect(masked, with_crops=False), masked.shape) is not None
        found = find_still_face(detector, masked)
        if found is not None:
            second += 1
            assert np.linalg.norm(found.landmarks[2] - face.landmarks[2]) < 0.25 * face.size_px  # the same face
    assert second > first and second >= 14


def test_a_face_cropped_to_its_box_is_found_in_the_photos_coordinates(detector):
    photo = load_image(dev_photos(dev_people()[1])[5])
    face = central_face(detector.detect(photo, with_crops=False), photo.shape)
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    tight = photo[y1:y2, x1:x2].copy()
    canvas, pad = padded(tight)
    assert canvas.shape[0] == tight.shape[0] + 2 * pad and pad > 0
    found = find_still_face(detector, tight, with_crop=True)
    assert found is not None and found.crop is not None
    assert np.allclose(found.landmarks, face.landmarks - [x1, y1], atol=0.2 * face.size_px)
    assert touches_edge(found, tight.shape) and not touches_edge(face, photo.shape)
