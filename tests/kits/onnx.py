"""Copies of the models folder and the kiosk probe run in a fresh process (ONNX, no torch)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.kits.paths import MODELS_CACHE, REPO


def copy_models(target: Path, with_embedders: bool = True) -> Path:
    """A models folder with copies of the MTCNN files (cheap to damage) and links to the large files."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in MODELS_CACHE.iterdir():
        if entry.name.startswith("mtcnn-"):
            shutil.copy2(entry, target / entry.name)
        elif with_embedders and entry.is_file():
            (target / entry.name).symlink_to(entry)
    return target


def probe(args: list[str], home: Path, models: Path = MODELS_CACHE, timeout: float = 300) -> tuple[dict, str]:
    """Run tests/kits/kiosk_probe.py in a fresh process; returns its report and stderr."""
    env = dict(
        os.environ,
        ROLLCALL_HOME=str(home),
        ROLLCALL_MODELS_DIR=str(models),
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.kits.kiosk_probe", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, f"no report; stdout {done.stdout[-2000:]}\nstderr {done.stderr[-3000:]}"
    return json.loads(lines[-1][len("PROBE ") :]), done.stderr
