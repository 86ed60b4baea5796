"""The gallery scene: dev people and the demo clip's performer enrolled; the panels, Settings and the kiosk prompts."""

from __future__ import annotations

import shutil
from pathlib import Path

from scripts.shots.common import (
    FACES,
    HOME,
    VIDEO,
    Shot,
    dev_photos,
    engine_in,
    enroll_performer,
    main_window,
    wait,
    wait_until,
)

PEOPLE = [
    "Amelie_Mauresmo",
    "Angelina_Jolie",
    "Ariel_Sharon",
    "Arnold_Schwarzenegger",
    "Colin_Powell",
    "Gloria_Macapagal_Arroyo",
    "Hugo_Chavez",
]
PANELS = ["recognize", "enroll", "import", "people", "attendance", "retrain"]
SETTINGS = [
    "settings",
    "settings-camera",
    "settings-recognition",
    "settings-liveness",
    "settings-model-and-compute",
    "settings-attendance",
    "settings-storage",
    "settings-site",
    "settings-admin-pin",
]
PROMPTS = ["challenge", "uncertain", "uncover"]
WIDE_THIN_MARGIN_STD = 100.0  # every accepted match counts as a thin lead: the performer is asked


def populate(engine) -> None:
    for index, name in enumerate(PEOPLE):
        engine.enroll_files(name.replace("_", " "), dev_photos(name)[:4], external_id=f"S{1001 + index * 7}")
    enroll_performer(engine)


def take(pages: list[str], shot: Shot) -> None:
    engine = engine_in("gallery")
    populate(engine)
    with main_window(engine, shot) as window:
        window.people_panel.refresh()
        window.update_status()
        for page in pages:
            if page in PANELS:
                PANEL_SHOTS[page](window, engine, shot)
        settings_pages = [page for page in pages if page in SETTINGS]
        if settings_pages:
            settings(window, engine, shot, settings_pages)
    for page in pages:
        if page in PROMPTS:
            prompt(page, shot)


def recognize(window, engine, shot: Shot) -> None:
    """First an image folder of a few enrolled people (fills the marked list), then the clip."""
    panel = window.show_panel("recognize")
    panel.sound_box.setChecked(False)
    for n, name in enumerate(PEOPLE[:4]):  # one run per person: each gets its own track
        frames = HOME / f"frames{n}"
        frames.mkdir()
        for i, photo in enumerate(dev_photos(name)[4:8]):
            shutil.copy(photo, frames / f"{i}_{photo.name}")
        panel.start(str(frames))
        wait_until(lambda: not panel.is_running())
    panel.source_picker.set_spec(str(VIDEO), f"Demo video ({VIDEO.name})")
    panel.start()
    wait_until(lambda: any(o.kind == "known" for o in panel.view._overlays) and panel.view.frames_shown > 40, 30)
    wait(400)
    shot.save(window, "recognize")
    panel.stop(wait=True)


def enroll(window, engine, shot: Shot) -> None:
    """Capture from the clip: quality guidance and accepted samples."""
    panel = window.show_panel("enroll")
    panel.name_edit.setText("Ada Lovelace")
    panel.external_id_edit.setText("S1815")
    panel.capture_source.set_spec(str(VIDEO), f"Demo video ({VIDEO.name})")
    panel.sample_count.setValue(6)
    panel.start_capture()
    wait_until(lambda: len(panel.samples) >= 4, 30)
    shot.save(window, "enroll")
    panel.stop_capture(wait=True)
    panel.clear_samples()
    panel.name_edit.clear()
    panel.external_id_edit.clear()


def import_tree(window, engine, shot: Shot) -> None:
    """A folder-per-person tree with one refused photo (a group photo)."""
    tree = HOME / "import"
    for name in ("Ariel_Sharon", "Jennifer_Capriati", "Kofi_Annan"):
        (tree / name).mkdir(parents=True)
        for photo in dev_photos(name)[:4]:
            shutil.copy(photo, tree / name / photo.name)
    shutil.copy(FACES / "group" / "six_faces.jpg", tree / "Kofi_Annan" / "team_photo.jpg")
    panel = window.show_panel("enroll")
    panel.tabs.setCurrentIndex(1)
    panel.import_folder(str(tree))
    wait_until(lambda: panel.job is None)
    wait(200)
    shot.save(window, "import")


def people(window, engine, shot: Shot) -> None:
    panel = window.show_panel("people")
    panel.refresh()
    wait_until(lambda: not panel.is_refreshing())
    panel.select_person(engine.find_person("Demo Performer").id)
    wait(200)
    shot.save(window, "people")


def attendance(window, engine, shot: Shot) -> None:
    window.show_panel("attendance").refresh()
    wait(200)
    shot.save(window, "attendance")


def retrain(window, engine, shot: Shot) -> None:
    window.show_panel("models")
    wait(300)
    shot.save(window, "retrain")


PANEL_SHOTS = {
    "recognize": recognize,
    "enroll": enroll,
    "import": import_tree,
    "people": people,
    "attendance": attendance,
    "retrain": retrain,
}


def settings(window, engine, shot: Shot, pages: list[str]) -> None:
    """The Settings dialog, and each page of it named after its sidebar entry."""
    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(engine, window)
    dialog.show()
    wait(300)
    if "settings" in pages:
        shot.save(dialog, "settings")
    for row in range(dialog.pages.count()):
        page = "settings-" + dialog.pages.item(row).text().lower().replace(" ", "-")
        if page in pages:
            dialog.pages.setCurrentRow(row)
            wait(200)
            shot.save(dialog, page)
    dialog.reject()


def masked_frames(folder: Path, frames: int = 60) -> Path:
    """A folder of one masked, held-out photo of an enrolled person, repeated: near them, but not named."""
    import cv2
    import numpy as np

    from core.vision.detect import FaceDetector, central_face
    from core.vision.images import load_image
    from core.vision.occlusion import Occlusion, draw_occlusion

    rgb = cv2.resize(load_image(dev_photos(PEOPLE[1])[6]), (500, 500))
    face = central_face(FaceDetector().detect(rgb, with_crops=False), rgb.shape)
    masked = draw_occlusion(rgb, face.landmarks, Occlusion.MEDICAL_MASK, np.random.default_rng(34))
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), masked[:, :, ::-1])
    return folder


def prompt(page: str, shot: Shot) -> None:
    """The kiosk's liveness challenge or its "Are you NAME?" while the demo clip plays, or its request to a
    covered face to lower the mask."""
    engine = engine_in(page)
    if page != "uncover":  # the covered face is the only one shown
        enroll_performer(engine)
    if page == "challenge":
        engine.settings.liveness.challenge = True
        engine.settings.liveness.challenge_time_s = 8.0  # long enough to be caught on a slow machine
    elif page == "uncover":
        engine.enroll_files(PEOPLE[1].replace("_", " "), dev_photos(PEOPLE[1])[:3])
        engine.settings.recognition.uncover_prompt_s = 30.0  # long enough to be caught on a slow machine
        engine.apply_settings(engine.settings)
    else:
        engine.settings.recognition.ask_when_uncertain = True
        engine.settings.recognition.ask_timeout_s = 30.0
        engine.settings.recognition.uncertain_margin_std = WIDE_THIN_MARGIN_STD
        engine.apply_settings(engine.settings)
    with main_window(engine, shot) as window:
        panel = window.show_panel("recognize")
        panel.sound_box.setChecked(False)
        if page == "uncover":
            panel.source_picker.set_spec(str(masked_frames(HOME / "masked")), "Masked visitor")
        else:
            panel.source_picker.set_spec(str(VIDEO), f"Demo video ({VIDEO.name})")
        panel.start()
        if page == "challenge":
            box = panel.challenge_prompt
            shown = wait_until(lambda: box.isVisible() and box.prompt.remaining_s < 6.5, 60)
        elif page == "uncover":
            shown = wait_until(lambda: panel.view.banner.startswith("Please lower"), 60)
        else:
            shown = wait_until(lambda: panel.uncertain_prompt.isVisible(), 60)
        wait(300)
        if shown:
            shot.save(window, page)
        panel.stop(wait=True)
