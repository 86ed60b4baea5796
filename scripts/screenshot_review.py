"""Take the README screenshots of the Review panel: docs/screenshot-review.png, a real X screenshot, then
docs/screenshot-review-added.png ("Add to person" done, with its Undo) and docs/screenshot-review-dismissed.png
(the Dismissed visitors dialog), grabbed from the window.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshot_review.py
    QT_QPA_PLATFORM=offscreen:configfile=SCREEN.json .venv/bin/python scripts/screenshot_review.py  # no X: grabbed

(SCREEN.json: {"screens": [{"name": "s", "x": 0, "y": 0, "width": 1280, "height": 800}]}, so the window opens
at 1280×720 as on a laptop; the window fits the screen it opens on.)

A temporary data folder enrolls a few people from ../shared/data/faces/dev; a video made of other
people's photos (never enrolled) runs through the real recognizer twice, as the north door at 08:00
and the south door at 17:00 (the attendance book's clock), so each stranger is kept twice. The Review
panel then groups them, and ImageMagick's `import -window root` takes the screen.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "data" / "faces"
DOCS = REPO / "docs"
sys.path.insert(0, str(REPO))

HOME = Path(tempfile.mkdtemp(prefix="rollcall-review-shot-"))
os.environ["ROLLCALL_HOME"] = str(HOME)
os.environ.setdefault("ROLLCALL_MODELS_DIR", str(REPO / ".cache" / "models"))

import cv2  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

ENROLLED = ["Colin_Powell", "Laura_Bush", "Tony_Blair", "Serena_Williams", "Vladimir_Putin"]
STRANGERS = ["Naomi_Watts", "Hugo_Chavez", "Jackie_Chan", "Amelie_Mauresmo"]
FPS, SECONDS_PER_PHOTO = 8, 1.5


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        wait(20)


def shot(widget, name: str) -> None:
    target = DOCS / name
    widget.grab().save(str(target))
    print("wrote", target.relative_to(REPO))


def photos(name: str) -> list[Path]:
    return sorted((FACES / "dev" / name).glob("*.jpg"))


def video(path: Path, shown: list[Path]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (250, 250))
    for photo in shown:
        frame = cv2.resize(cv2.imread(str(photo)), (250, 250))
        for _ in range(round(FPS * SECONDS_PER_PHOTO)):
            writer.write(frame)
    writer.release()
    return path


def populate(engine) -> None:
    from core.attendance.book import AttendanceBook
    from core.live.recognize import Recognizer, recognize_source

    for name in ENROLLED:
        engine.enroll_files(name.replace("_", " "), photos(name)[:4])
    today = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    for door, hour, picks in (("north door", 8, slice(0, 2)), ("south door", 17, slice(2, 4))):
        shown = [p for k in range(picks.start, picks.stop) for p in (photos(n)[k] for n in STRANGERS)]
        clip = video(HOME / f"{door}.mp4", shown)
        start = time.monotonic()
        clock = lambda: today + timedelta(hours=hour, seconds=(time.monotonic() - start) * 60)  # noqa: E731
        book = AttendanceBook(engine.store, engine.settings.attendance, clock=clock)
        recognizer = Recognizer(engine.parts, engine.settings.recognition, book, source_name=door,
                                tracking=engine.settings.tracking, enrollment=engine.settings.enrollment)
        with engine.open_source(str(clip)) as source:
            for _ in recognize_source(recognizer, source):
                pass


def main() -> int:
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
    window.move(0, 0)
    window.resize(1280, 720)
    window.show()
    panel = window.show_panel("review")
    wait_until(lambda: not panel.is_refreshing() and panel.group_list.count() > 0)
    biggest = max(panel.groups, key=lambda g: (g.count, g.last_seen))
    panel.select_group(biggest.id)
    wait(800)
    DOCS.mkdir(exist_ok=True)
    target = DOCS / "screenshot-review.png"
    if shutil.which("import") and not os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        subprocess.run(["import", "-window", "root", str(target)], check=True)
    else:
        window.grab().save(str(target))
    print("wrote", target.relative_to(REPO), f"({len(panel.groups)} groups)")

    colin = engine.find_person("Colin Powell")
    panel.assign_current(person_id=colin.id)  # what the admin chose (wrongly): Undo is offered beside it
    wait_until(lambda: panel.job is None)
    wait(400)
    shot(window, "screenshot-review-added.png")
    if panel.groups:
        panel.select_group(panel.groups[-1].id)
        panel.dismiss_current(ask=False)
        wait_until(lambda: panel.job is None)
    dialog = panel.open_dismissed()
    wait(400)
    shot(dialog, "screenshot-review-dismissed.png")
    dialog.reject()
    window.close()
    engine.close()
    shutil.rmtree(HOME, ignore_errors=True)  # the temporary data folder holds faces
    return 0


if __name__ == "__main__":
    sys.exit(main())
