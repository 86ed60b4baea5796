"""The kiosk asks a covered face, once, to lower the mask or take off the glasses (issue 34)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.base.records import EventKind
from core.gallery.match import MatchDecision, MatchResult
from core.live.recognize import FaceState
from core.live.sources import Frame
from core.live.uncover import Cover, UncoverDesk, cover_of
from core.vision.images import load_image
from core.vision.occlusion import Occlusion, draw_occlusion
from core.vision.still_faces import find_still_face
from tests.kits.paths import dev_people, dev_photos

FRAME_STEP_S = 0.2
FRAMES = 40


def _result(person_id, occlusion, decision=None):
    decision = decision or (MatchDecision.ACCEPTED if person_id else MatchDecision.UNCERTAIN)
    return MatchResult(person_id, None, 2.0, 0.0, 5, decision, occlusion)


def test_the_desk_asks_once_per_track_for_what_covers_the_face():
    desk = UncoverDesk(wait_s=3.0)
    desk.observe(1, _result(None, None), 0.0)  # a plain miss: nothing to ask
    desk.observe(2, _result(9, Occlusion.MEDICAL_MASK), 0.0)  # recognised: nothing to ask
    desk.observe(3, _result(None, Occlusion.CAP_SHADOW), 0.0)  # a cap's shadow: nothing to take off
    assert desk.prompt(1, 0.5) is None and desk.prompt(2, 0.5) is None and desk.prompt(3, 0.5) is None
    desk.observe(5, _result(None, Occlusion.CLOTH_MASK, MatchDecision.REJECTED), 1.0)  # near nobody: a passer-by
    assert desk.prompt(5, 1.5) is None
    desk.observe(4, _result(None, Occlusion.CLOTH_MASK), 1.0)
    asked = desk.prompt(4, 1.5)
    assert asked is not None and asked.cover is Cover.MASK and asked.text == "Please lower your mask for a moment"
    desk.observe(4, _result(None, Occlusion.DARK_GLASSES), 2.0)  # once: the first prompt stays
    assert desk.prompt(4, 3.9) is asked and desk.prompt(4, 4.0) is None
    desk.observe(4, _result(None, Occlusion.DARK_GLASSES), 5.0)
    assert desk.prompt(4, 5.5) is None  # never asked twice
    desk.forget([])
    desk.observe(4, _result(None, Occlusion.DARK_GLASSES), 6.0)  # a new track under the old id
    assert desk.prompt(4, 6.5).cover is Cover.GLASSES
    assert cover_of(Occlusion.CLEAR_GLASSES) is Cover.GLASSES and cover_of(None) is None
    off = UncoverDesk(wait_s=0.0)
    off.observe(1, _result(None, Occlusion.MEDICAL_MASK), 0.0)
    assert off.prompt(1, 0.1) is None


@pytest.fixture
def masked_then_clean_frames():
    """An enrolled person's held-out photo: masked for 3 s, then with the mask lowered."""
    from core.vision.detect import FaceDetector

    rgb = cv2.resize(load_image(dev_photos(dev_people()[1])[6]), (500, 500), interpolation=cv2.INTER_CUBIC)
    face = find_still_face(FaceDetector(), rgb)
    masked = draw_occlusion(rgb, face.landmarks, Occlusion.MEDICAL_MASK, np.random.default_rng(34))
    images = [masked[:, :, ::-1].copy()] * 15 + [rgb[:, :, ::-1].copy()] * (FRAMES - 15)
    return [Frame(i, i * FRAME_STEP_S, image, "kiosk") for i, image in enumerate(images)]


def _run(engine, frames, wait_s):
    engine.settings.recognition.uncover_prompt_s = wait_s
    engine.apply_settings(engine.settings)
    recognizer = engine.recognizer()
    return [recognizer.process(frame) for frame in frames]


def test_a_masked_member_is_asked_once_and_named_once_the_mask_is_lowered(engine, masked_then_clean_frames):
    people = [
        engine.enroll_files(p.name.replace("_", " "), dev_photos(p)[:3]).value.person_ids for p in dev_people()[:2]
    ]
    member = people[1][dev_people()[1].name.replace("_", " ")]
    plain = _run(engine, masked_then_clean_frames, 0.0)  # off: never asked
    assert FaceState.UNCOVER not in {f.state for r in plain for f in r.faces}

    results = _run(engine, masked_then_clean_frames, 5.0)
    asked = [f.uncover for r in results for f in r.faces if f.state is FaceState.UNCOVER]
    assert asked, "the covered face was not asked to uncover"
    assert len({id(p) for p in asked}) == 1 and asked[0].cover is Cover.MASK  # once per track
    events = [e for r in results for e in r.events]
    assert [e.kind for e in events] == [EventKind.CHECK_IN] and events[0].person_id == member  # never unknown
