"""Run a kiosk task in this (fresh) process and report, as one JSON line, whether torch was imported.

    python -m tests.kits.kiosk_probe cli ARGS...       the `rollcall` CLI
    python -m tests.kits.kiosk_probe selftest          `python -m gui --self-test`
    python -m tests.kits.kiosk_probe gui VIDEO         the main window: Recognize (running VIDEO), Enroll,
                                                  People and Attendance panels opened, offscreen
    python -m tests.kits.kiosk_probe ... --no-torch    as an edition without torch: importing it fails

Used by tests/vision/test_onnx_inference.py and benchmarks/startup.py (time to a usable window).
"""

from __future__ import annotations

import json
import os
import sys
import time

STARTED = time.perf_counter()
TORCH_MODULES = ("torch", "torchvision", "facenet_pytorch")


def loaded_torch_modules() -> list[str]:
    return [name for name in TORCH_MODULES if sys.modules.get(name) is not None]


def run_cli(args: list[str]) -> dict:
    from core.app.cli import main

    return {"rc": main(args)}


def run_selftest() -> dict:
    from gui.app import main

    return {"rc": main(["rollcall-gui", "--self-test"])}


def run_gui(video: str) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from core.app.engine import Engine
    from core.base.settings import Settings
    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    engine = Engine(Settings.load())
    window = MainWindow(engine)
    window.show()
    app.processEvents()
    usable = time.perf_counter() - STARTED
    recognize = window.show_panel("recognize")
    recognize.start(video)
    deadline = time.monotonic() + 120
    while recognize.is_running() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    recognized = not recognize.is_running()
    for name in ("enroll", "people", "attendance"):
        window.show_panel(name)
        app.processEvents()
    window.shutdown()
    window.close()
    engine.close()
    return {"rc": 0 if recognized else 1, "window_s": usable}


def main(argv: list[str]) -> int:
    if "--no-torch" in argv:
        argv = [a for a in argv if a != "--no-torch"]
        for name in TORCH_MODULES:
            sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    kind, rest = argv[0], argv[1:]
    try:
        result = {"cli": lambda: run_cli(rest), "selftest": run_selftest, "gui": lambda: run_gui(rest[0])}[kind]()
    except SystemExit as exc:
        result = {"rc": exc.code}
    result["torch_modules"] = loaded_torch_modules()
    result["seconds"] = time.perf_counter() - STARTED
    print("PROBE " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
