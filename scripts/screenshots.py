"""Take the README screenshots from a real window at 1280x720 (a laptop): docs/screenshot-<panel>.png.

    xvfb-run -a .venv/bin/python scripts/screenshots.py
    xvfb-run -a .venv/bin/python scripts/screenshots.py settings-integrations   # that picture only

Populates a temporary gallery (a few people from ../shared/data/faces/dev, plus the performer of the
demo clip enrolled from its frames), runs the real panels and workers, and grabs each panel.
Nothing is written outside a temp folder except the PNGs.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "data" / "faces"
DOCS = REPO / "docs"
sys.path.insert(0, str(REPO))

HOME = Path(tempfile.mkdtemp(prefix="rollcall-shots-"))
os.environ["ROLLCALL_HOME"] = str(HOME)
os.environ.setdefault("ROLLCALL_MODELS_DIR", str(REPO / ".cache" / "models"))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

PEOPLE = ["Amelie_Mauresmo", "Angelina_Jolie", "Ariel_Sharon", "Arnold_Schwarzenegger", "Colin_Powell",
          "Gloria_Macapagal_Arroyo", "Hugo_Chavez"]
VIDEO = FACES / "video" / "hamilton_640x360.mp4"


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(condition, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        wait(20)
    print("timed out waiting", file=sys.stderr)
    return False


def save(widget: QWidget, name: str) -> None:
    QApplication.processEvents()
    path = DOCS / f"screenshot-{name}.png"
    widget.grab().save(str(path))
    print("wrote", path.relative_to(REPO))


def dev_people() -> list[Path]:
    available = {p.name: p for p in (FACES / "dev").iterdir() if p.is_dir()}
    return [available[name] for name in PEOPLE if name in available]


def populate(engine) -> None:
    """Enroll dev people from photos and the demo clip's performer from its frames."""
    from core.base.errors import EnrollmentError
    from core.vision.images import to_rgb
    from core.live.sources import VideoFileSource

    for index, person in enumerate(dev_people()):
        engine.enroll_files(person.name.replace("_", " "), sorted(person.glob("*.jpg"))[:4],
                            external_id=f"S{1001 + index * 7}")
    enroller = engine.enroller()
    candidates = []
    with VideoFileSource(VIDEO) as video:
        for frame in video:
            if 110 <= frame.index <= 200 and frame.index % 15 == 0:
                try:
                    candidates.append(enroller.candidate_from_frame(to_rgb(frame.image, "bgr"),
                                                                    f"{VIDEO.name} frame {frame.index}"))
                except EnrollmentError:
                    pass
    if candidates:
        engine.enroll_candidates("Demo Performer", candidates, external_id="GUEST-1")


def main() -> int:
    if not FACES.is_dir():
        print(f"Face data not found at {FACES}", file=sys.stderr)
        return 1
    DOCS.mkdir(exist_ok=True)
    app = QApplication(sys.argv)
    from gui.style import apply_style
    from gui.widgets import icon

    app.setApplicationName("Rollcall")
    app.setWindowIcon(icon("rollcall"))
    apply_style(app)

    from core.app.engine import Engine
    from gui.main_window import MainWindow

    engine = Engine()
    populate(engine)
    window = MainWindow(engine)
    window.resize(1280, 720)
    window.show()
    window.people_panel.refresh()
    window.update_status()
    wait(300)

    # Recognize: first an image folder of a few enrolled people (fills the marked list), then the clip.
    recognize = window.show_panel("recognize")
    recognize.sound_box.setChecked(False)
    for n, person in enumerate(dev_people()[:4]):  # one run per person: each gets its own track
        frames = HOME / f"frames{n}"
        frames.mkdir()
        for i, photo in enumerate(sorted(person.glob("*.jpg"))[4:8]):
            shutil.copy(photo, frames / f"{i}_{photo.name}")
        recognize.start(str(frames))
        wait_until(lambda: not recognize.is_running())
    recognize.source_picker.set_spec(str(VIDEO), f"Demo video ({VIDEO.name})")
    recognize.start()

    def performer_known() -> bool:
        return any(o.kind == "known" for o in recognize.view._overlays) and recognize.view.frames_shown > 40

    wait_until(performer_known, 30)
    wait(400)
    save(window, "recognize")
    recognize.stop(wait=True)
    wait(200)

    # Enroll: capture from the clip (quality guidance and accepted samples).
    enroll = window.show_panel("enroll")
    enroll.name_edit.setText("Ada Lovelace")
    enroll.external_id_edit.setText("S1815")
    enroll.capture_source.set_spec(str(VIDEO), f"Demo video ({VIDEO.name})")
    enroll.sample_count.setValue(6)
    enroll.start_capture()
    wait_until(lambda: len(enroll.samples) >= 4, 30)
    save(window, "enroll")
    enroll.stop_capture(wait=True)
    enroll.clear_samples()
    enroll.name_edit.clear()
    enroll.external_id_edit.clear()

    # Enroll / import: a folder-per-person tree with one refused photo.
    tree = HOME / "import"
    for person in (FACES / "dev").iterdir():
        if person.name in ("Ariel_Sharon", "Jennifer_Capriati", "Kofi_Annan"):
            (tree / person.name).mkdir(parents=True)
            for photo in sorted(person.glob("*.jpg"))[:4]:
                shutil.copy(photo, tree / person.name / photo.name)
    if (tree / "Kofi_Annan").is_dir():
        shutil.copy(FACES / "group" / "six_faces.jpg", tree / "Kofi_Annan" / "team_photo.jpg")
    enroll.tabs.setCurrentIndex(1)
    enroll.import_folder(str(tree))
    wait_until(lambda: enroll.job is None)
    wait(200)
    save(window, "import")

    people = window.show_panel("people")
    people.refresh()
    wait_until(lambda: not people.is_refreshing())
    people.select_person(engine.find_person("Demo Performer").id)
    wait(200)
    save(window, "people")

    attendance = window.show_panel("attendance")
    attendance.refresh()
    wait(200)
    save(window, "attendance")

    window.show_panel("models")
    wait(300)
    save(window, "retrain")

    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(engine, window)
    dialog.show()
    wait(300)
    save(dialog, "settings")
    for row in range(dialog.pages.count()):  # every page of the dialog, named after its sidebar entry
        if dialog.pages.item(row).text() == "Integrations":
            continue  # its own picture, with targets: settings_integrations()
        dialog.pages.setCurrentRow(row)
        wait(200)
        save(dialog, "settings-" + dialog.pages.item(row).text().lower().replace(" ", "-"))
    dialog.reject()

    window.close()
    engine.close()
    settings_integrations()
    shutil.rmtree(HOME, ignore_errors=True)
    return 0


def settings_integrations() -> None:
    """Settings → Integrations after a delivery round: a webhook and an ERPNext target (the tests' local
    receivers, on 127.0.0.1) that have each received a morning's sightings, 0 queued and 0 dead."""
    from datetime import datetime, timedelta

    from core.app.engine import Engine
    from core.base.records import AttendanceEvent, EventKind
    from core.base.settings import Settings
    from core.integrations.targets import Target, TargetKind
    from gui.settings_dialog import SettingsDialog
    from tests.kits.fake_erpnext import FakeErpnext
    from tests.kits.fake_webhook import FakeWebhook

    settings = Settings()
    settings.storage.data_dir = str(HOME / "integrations")
    engine = Engine(settings)
    with FakeWebhook() as hook, FakeErpnext() as erp:
        engine.add_integration(Target("door-relay", TargetKind.WEBHOOK, hook.url + "/rollcall"), hook.secret)
        engine.add_integration(Target("payroll", TargetKind.ERPNEXT, erp.url), erp.token.removeprefix("token "))
        start = datetime.now().astimezone().replace(hour=8, minute=0, second=0, microsecond=0)
        for n, name in enumerate(PEOPLE[:5]):
            person = engine.store.add_person(name.replace("_", " "), external_id=f"E{n:03d}")
            erp.add_employee(person.name, attendance_device_id=person.external_id)
            moment = start + timedelta(minutes=3 * n)
            engine.store.record_event(AttendanceEvent(None, person.id, None, EventKind.CHECK_IN, moment, "door", 0.9))
        dialog = SettingsDialog(engine)
        dialog.show()
        titles = [dialog.pages.item(row).text() for row in range(dialog.pages.count())]
        dialog.pages.setCurrentRow(titles.index("Integrations"))
        page = dialog.integrations
        page.deliver_button.click()
        wait_until(lambda: page.job is None and all(row.queued == 0 for row in engine.integration_status()))
        page.table.selectRow(0)
        wait(200)
        save(dialog, "settings-integrations")
        dialog.reject()
        dialog.deleteLater()
        wait(50)
    engine.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["settings-integrations"]:  # this one picture only: no face data or models needed
        app = QApplication(sys.argv[:1])
        from gui.style import apply_style

        apply_style(app)
        settings_integrations()
        shutil.rmtree(HOME, ignore_errors=True)
        sys.exit(0)
    sys.exit(main())
