"""The uncertain band (issue 16, part B): the decision rule, the recognizer's "Are you NAME?",
the engine's answers (Yes marks and keeps the face, No records a confusion) and the kiosk prompt."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.base.records import ConfusionSource, EventKind, GalleryMatrix
from core.gallery.match import GalleryMatcher, MatchDecision
from core.live.recognize import FaceState
from core.live.sources import Frame
from core.live.uncertain import UncertainAnswer, UncertainQuestion
from tests.kits.paths import FACES, dev_people, dev_photos

FRAME_STEP_S = 0.2
FRAMES = 15


def _matcher(threshold=0.6, margin=0.05) -> GalleryMatcher:
    vectors = np.eye(3, dtype=np.float32)
    gallery = GalleryMatrix("toy", vectors, np.arange(3), np.array([1, 2, 3]), {1: "a", 2: "b", 3: "c"})
    return GalleryMatcher(gallery, threshold, margin)


@pytest.mark.parametrize(
    "best, second, below, thin, expected",
    [
        (0.70, 0.10, 0.1, 0.0, MatchDecision.ACCEPTED),
        (0.55, 0.10, 0.1, 0.0, MatchDecision.UNCERTAIN),  # a near miss inside the band
        (0.49, 0.10, 0.1, 0.0, MatchDecision.REJECTED),  # below the band
        (0.55, 0.10, 0.0, 0.0, MatchDecision.REJECTED),  # no band: as before
        (0.55, 0.52, 0.1, 0.0, MatchDecision.REJECTED),  # margin not met
        (0.70, 0.64, 0.1, 0.02, MatchDecision.UNCERTAIN),  # accepted, but with a thin lead
        (0.70, 0.62, 0.1, 0.02, MatchDecision.ACCEPTED),
    ],
)
def test_the_decision_rule(best, second, below, thin, expected):
    matcher = _matcher().with_band(below, thin)
    assert matcher.decide(best, second) is expected
    query = np.array([[best, second, 0.0]], np.float32)
    result = matcher.match(query / 1.0)[0]
    assert result.decision is expected and (result.person_id is not None) == (expected is MatchDecision.ACCEPTED)


def _frames(path):
    bgr = cv2.imread(str(path))
    return [Frame(i, i * FRAME_STEP_S, bgr, "kiosk") for i in range(FRAMES)]


def _run(engine, path, ask: bool, **band):
    for key, value in band.items():
        setattr(engine.settings.recognition, key, value)
    engine.settings.recognition.ask_when_uncertain = ask
    engine.apply_settings(engine.settings)
    recognizer = engine.recognizer()
    return [recognizer.process(frame) for frame in _frames(path)]


@pytest.fixture
def two_people(engine, faces):
    enroller = engine.enroller()
    for person in dev_people()[:2]:
        enroller.enroll_files(person.name.replace("_", " "), dev_photos(person)[:3])
    return engine, [engine.store.find_person(p.name.replace("_", " ")) for p in dev_people()[:2]]


def test_a_stranger_near_someone_is_asked_and_no_records_a_confusion(two_people):
    engine, people = two_people
    stranger = sorted((FACES / "dev_unknown").glob("*.jpg"))[0]
    wide = dict(uncertain_below_std=50.0)  # every near miss of this stranger is in the band

    plain = _run(engine, stranger, ask=False, **wide)  # off: the band is unknown, and logged as such
    assert {f.state for r in plain for f in r.faces} <= {FaceState.PENDING, FaceState.UNKNOWN}
    assert [e.kind for r in plain for e in r.events] == [EventKind.UNKNOWN]

    results = _run(engine, stranger, ask=True, **wide)
    asked = [f for r in results for f in r.faces if f.state is FaceState.UNCERTAIN]
    assert asked and all(f.question is asked[0].question for f in asked)  # one question per track
    question = asked[0].question
    assert question.person_id in {p.id for p in people} and question.name == asked[0].name
    assert question.crop_jpeg and question.timeout_s == engine.settings.recognition.ask_timeout_s
    assert not [e for r in results for e in r.events], "asked, not logged as unknown"

    confusion = engine.refuse_uncertain(question, timed_out=True).value
    assert question.answer is UncertainAnswer.TIMED_OUT
    assert (confusion.shown_person_id, confusion.true_person_id, confusion.source) == (
        question.person_id,
        None,
        ConfusionSource.UNCERTAIN_NO,
    )
    assert engine.confusion_crop(confusion.id) == question.crop_jpeg
    with pytest.raises(Exception, match="answered already"):
        engine.confirm_uncertain(question)


def test_yes_marks_the_person_and_keeps_the_face_as_confirmed(two_people):
    engine, people = two_people
    photo = dev_photos(dev_people()[1])[5]  # not enrolled: the second person, another day
    thin = dict(uncertain_margin_std=100.0)  # every accepted match has a "thin" lead
    results = _run(engine, photo, ask=True, **thin)
    question = next(f.question for r in results for f in r.faces if f.question is not None)
    assert question.person_id == people[1].id
    assert not [e for r in results for e in r.events], "not marked before the answer"

    event, confirmed = engine.confirm_uncertain(question).value
    assert event.person_id == people[1].id and event.kind is EventKind.CHECK_IN
    assert confirmed.person_id == people[1].id and confirmed.event_id == event.id
    assert engine.store.confirmed_crop(confirmed.id) == question.crop_jpeg
    assert engine.confusions() == []


def test_the_prompt_asks_and_reports_yes_no_and_time_out(qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QWidget

    from gui.uncertain_prompt import UncertainPromptOverlay

    host = QWidget()
    host.resize(900, 600)
    qtbot.addWidget(host)
    prompt = UncertainPromptOverlay(host)
    host.show()
    answers = []
    prompt.answered.connect(lambda q, a: (answers.append((q, a)), setattr(q, "answer", a)))

    def ask(timeout_s=8.0):
        question = UncertainQuestion(1, 7, "Ada Lovelace", 3.0, None, "kiosk", 0.0, timeout_s)
        prompt.ask(question)
        return question

    first = ask()
    assert prompt.isVisible() and prompt.question_label.text() == "Are you Ada Lovelace?"
    assert prompt.yes_button.height() >= 64 and prompt.no_button.height() >= 64
    qtbot.mouseClick(prompt.yes_button, Qt.MouseButton.LeftButton)
    assert answers[-1] == (first, UncertainAnswer.YES) and not prompt.isVisible()
    second = ask()
    qtbot.mouseClick(prompt.no_button, Qt.MouseButton.LeftButton)
    assert answers[-1] == (second, UncertainAnswer.NO)
    third = ask(timeout_s=0.3)
    qtbot.waitUntil(lambda: len(answers) == 3, timeout=3000)
    assert answers[-1] == (third, UncertainAnswer.TIMED_OUT)
    assert len(answers) == 3  # each question answered once
