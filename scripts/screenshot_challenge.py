"""Take docs/screenshot-challenge.png: the kiosk's liveness prompt, from a real window.

    xvfb-run -a .venv/bin/python scripts/screenshot_challenge.py

Enrolls the demo clip's performer in a temporary gallery, switches the challenge on, plays the clip
in the Recognize panel and grabs the window while the performer is asked to move his head.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
HOME = Path(tempfile.mkdtemp(prefix="rollcall-shots-"))
os.environ["ROLLCALL_HOME"] = str(HOME)
os.environ.setdefault("ROLLCALL_MODELS_DIR", str(REPO / ".cache" / "models"))

from PySide6.QtWidgets import QApplication  # noqa: E402

from scripts.screenshots import DOCS, FACES, VIDEO, save, wait, wait_until  # noqa: E402


def main() -> int:
    if not FACES.is_dir():
        print(f"Face data not found at {FACES}", file=sys.stderr)
        return 1
    app = QApplication(sys.argv)
    from core.app.engine import Engine
    from core.vision.images import to_rgb
    from core.live.sources import VideoFileSource
    from gui.main_window import MainWindow
    from gui.style import apply_style
    from gui.widgets import icon

    app.setApplicationName("Rollcall")
    app.setWindowIcon(icon("rollcall"))
    apply_style(app)
    engine = Engine()
    enroller = engine.enroller()
    with VideoFileSource(VIDEO) as video:
        frames = [to_rgb(f.image, "bgr") for f in video if f.index in (100, 130, 160)]
    enroller.save("Demo Performer", [enroller.candidate_from_frame(rgb, f"frame {i}") for i, rgb in enumerate(frames)])
    engine.settings.liveness.challenge = True
    engine.settings.liveness.challenge_time_s = 8.0  # long enough to be caught on a slow machine

    window = MainWindow(engine)
    window.resize(1280, 720)
    window.show()
    wait(300)
    recognize = window.show_panel("recognize")
    recognize.sound_box.setChecked(False)
    recognize.source_picker.set_spec(str(VIDEO), f"Demo video ({VIDEO.name})")
    recognize.start()
    prompt = recognize.challenge_prompt
    shown = wait_until(lambda: prompt.isVisible() and prompt.prompt.remaining_s < 6.5, 60)
    wait(150)
    if shown:
        DOCS.mkdir(exist_ok=True)
        save(window, "challenge")
    recognize.stop(wait=True)
    window.close()
    engine.close()
    shutil.rmtree(HOME, ignore_errors=True)
    return 0 if shown else 1


if __name__ == "__main__":
    sys.exit(main())
