"""The recognise view asks a covered face to lower the mask (issue 34), and People counts derived templates."""

from __future__ import annotations

import cv2
import numpy as np

from core.vision.detect import FaceDetector
from core.vision.images import load_image
from core.vision.occlusion import Occlusion, draw_occlusion
from core.vision.still_faces import find_still_face
from tests.kits.paths import dev_people, dev_photos

WAIT_MS = 120_000


def test_a_masked_visitor_is_asked_to_lower_the_mask(qtbot, window, engine, tmp_path):
    person = dev_people()[1]
    engine.enroll_files(person.name.replace("_", " "), dev_photos(person)[:3])
    people = window.show_panel("people")
    people.refresh()
    qtbot.waitUntil(lambda: people.people_list.count() == 1, timeout=WAIT_MS)
    assert "3 samples + 6 derived" in people.people_list.item(0).text()  # counted apart from the photos

    rgb = cv2.resize(load_image(dev_photos(person)[6]), (500, 500))  # a held-out photo, masked: near, not named
    face = find_still_face(FaceDetector(), rgb)
    masked = draw_occlusion(rgb, face.landmarks, Occlusion.MEDICAL_MASK, np.random.default_rng(34))
    folder = tmp_path / "masked"
    folder.mkdir()
    for i in range(30):
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), masked[:, :, ::-1])
    engine.settings.recognition.uncover_prompt_s = 60.0  # the prompt outlasts the folder
    engine.apply_settings(engine.settings)
    panel = window.show_panel("recognize")
    panel.sound_box.setChecked(False)
    panel.source_picker.set_spec(str(folder))
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.view.banner == "Please lower your mask for a moment", timeout=WAIT_MS)
    labels = [o.label for o in panel.view._overlays]
    assert "Please lower your mask for a moment" in labels
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=WAIT_MS)
    assert panel.unknown_list.count() == 0 and panel.marked_list.count() == 0  # asked, not marked unknown
