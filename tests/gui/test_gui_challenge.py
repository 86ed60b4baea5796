"""The kiosk's challenge prompt and its switch in Settings."""

from __future__ import annotations

import numpy as np
import pytest

from core.live.challenge import ChallengePrompt
from core.live.recognize import FaceResult, FaceState
from core.vision.challenge import HeadMove


@pytest.mark.parametrize(
    "move, tip", [(HeadMove.TURN_LEFT, (0.0, 0.5)), (HeadMove.TURN_RIGHT, (1.0, 0.5)), (HeadMove.LOOK_UP, (0.5, 0.0))]
)
def test_the_arrow_points_the_way_to_move(qtbot, move, tip):
    from PySide6.QtCore import QRectF

    from gui.challenge_prompt import arrow_polygon

    polygon = arrow_polygon(move, QRectF(0, 0, 100, 100))
    points = np.array([(p.x(), p.y()) for p in polygon]) / 100
    extreme = {
        HeadMove.TURN_LEFT: points[:, 0].argmin(),
        HeadMove.TURN_RIGHT: points[:, 0].argmax(),
        HeadMove.LOOK_UP: points[:, 1].argmin(),
    }[move]
    assert np.allclose(points[extreme], tip)


def test_the_prompt_shows_over_the_video_and_hides_when_done(qtbot):
    from gui.challenge_prompt import ACCENT, LOW_TIME, ChallengePromptOverlay
    from gui.widgets import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    prompt = ChallengePromptOverlay(view)
    assert not prompt.isVisible()
    prompt.show_prompt(ChallengePrompt(HeadMove.TURN_LEFT, 0, 2, 4.6, 6.0), "Ada")
    assert prompt.isVisible() and prompt.instruction() == "Turn your head to your left"
    assert prompt.width() == view.width() and 150 <= prompt.height() <= 230
    assert prompt.geometry().bottom() == view.rect().bottom()  # below the face, over the bottom of the video
    image = prompt.grab().toImage()
    colours = {image.pixelColor(x, y).name() for x in range(0, image.width(), 4) for y in range(0, image.height(), 4)}
    assert ACCENT.name() in colours  # the arrow and the time bar
    prompt.show_prompt(ChallengePrompt(HeadMove.LOOK_UP, 1, 2, 1.2, 6.0), "Ada")
    image = prompt.grab().toImage()
    colours = {image.pixelColor(x, y).name() for x in range(0, image.width(), 4) for y in range(0, image.height(), 4)}
    assert LOW_TIME.name() in colours and ACCENT.name() not in colours  # little time left: amber
    view.resize(1200, 700)
    qtbot.waitUntil(lambda: prompt.width() == 1200)
    prompt.show_prompt(None)
    assert not prompt.isVisible()


def test_a_challenged_face_is_labelled_with_its_instruction(qtbot):
    from gui.panels.recognize import face_overlay

    face = FaceResult(
        3,
        np.float32([10, 10, 90, 90]),
        FaceState.CHALLENGED,
        7,
        "Ada",
        0.8,
        ChallengePrompt(HeadMove.LOOK_UP, 1, 2, 3.0, 6.0),
    )
    assert face_overlay(face).label == "Ada: look up"
    refused = FaceResult(3, np.float32([10, 10, 90, 90]), FaceState.NOT_LIVE, 7, "Ada", 0.8)
    assert face_overlay(refused).kind == "unknown"


def test_settings_switch_the_challenge_on_and_off(qtbot, engine):
    from core.base.settings import Settings
    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(engine)
    qtbot.addWidget(dialog)
    assert not dialog.challenge.isChecked()
    dialog.challenge.setChecked(True)
    dialog.accept()
    assert Settings.load().liveness.challenge and engine.settings.liveness.challenge
    dialog = SettingsDialog(engine)
    qtbot.addWidget(dialog)
    assert dialog.challenge.isChecked()
    dialog.challenge.setChecked(False)
    dialog.accept()
    assert not Settings.load().liveness.challenge
