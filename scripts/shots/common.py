"""What every scene shares: the temporary home, the face data, the window at the shot's size, waiting."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

REPO = Path(__file__).resolve().parents[2]
FACES = REPO.parent / "shared" / "data" / "faces"
VIDEO = FACES / "video" / "hamilton_640x360.mp4"
HOME = Path(tempfile.mkdtemp(prefix="rollcall-shots-"))
os.environ["ROLLCALL_HOME"] = str(HOME)
os.environ.setdefault("ROLLCALL_MODELS_DIR", str(REPO / ".cache" / "models"))


@dataclass
class Shot:
    """Where the pictures go and at what size; `save` writes one."""

    out: Path
    width: int
    height: int
    written: list[Path]

    def save(self, widget: QWidget, page: str) -> None:
        QApplication.processEvents()
        path = self.out / f"screenshot-{page}.png"
        widget.grab().save(str(path))
        self.written.append(path)
        print("wrote", path)


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        wait(20)
    print("timed out waiting", file=sys.stderr)
    return False


def engine_in(scene: str):
    """An engine on its own data folder under the temporary home."""
    from core.app.engine import Engine
    from core.base.settings import Settings

    settings = Settings()
    settings.storage.data_dir = str(HOME / scene)
    return Engine(settings)


@contextmanager
def main_window(engine, shot: Shot) -> Iterator:
    """The real main window on `engine` at the shot's size; closed, with the engine, at the end."""
    from gui.main_window import MainWindow

    window = MainWindow(engine)
    window.move(0, 0)
    window.resize(shot.width, shot.height)
    window.show()
    wait(300)
    window.resize(shot.width, shot.height)  # the window first fits its screen; then the shot's size wins
    wait(300)
    try:
        yield window
    finally:
        window.close()
        engine.close()


def dev_photos(name: str) -> list[Path]:
    return sorted((FACES / "dev" / name).glob("*.jpg"))


def enroll_performer(engine) -> None:
    """The demo clip's performer, enrolled from three close-up frames."""
    from core.base.errors import EnrollmentError
    from core.live.sources import VideoFileSource
    from core.vision.images import to_rgb

    enroller = engine.enroller()
    candidates = []
    with VideoFileSource(VIDEO) as video:
        for frame in video:
            if 110 <= frame.index <= 200 and frame.index % 15 == 0:
                try:
                    candidates.append(
                        enroller.candidate_from_frame(to_rgb(frame.image, "bgr"), f"{VIDEO.name} frame {frame.index}")
                    )
                except EnrollmentError:
                    pass
    if candidates:
        engine.enroll_candidates("Demo Performer", candidates, external_id="GUEST-1")
