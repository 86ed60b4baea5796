"""`rollcall recognize` outside site mode never loads the PostgreSQL driver (about 0.5 s of start-up)."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import pytest

from tests.kits.cli import HAMILTON
from tests.kits.paths import MODELS_CACHE, REPO

RUN_RECOGNIZE = """
import sys
from core.app.cli import main
code = main(["recognize", sys.argv[1], "--max-frames", "1"])
print("psycopg loaded:", "psycopg" in sys.modules)
sys.exit(code)
"""


@pytest.mark.slow
def test_recognize_outside_site_mode_imports_no_psycopg(default_weights, faces, tmp_path):
    capture = cv2.VideoCapture(str(faces / HAMILTON))
    for _ in range(120):  # the performer, close up
        ok, frame = capture.read()
    capture.release()
    assert ok
    video = tmp_path / "one_frame.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30, (frame.shape[1], frame.shape[0]))
    writer.write(frame)
    writer.release()
    env = dict(os.environ, ROLLCALL_HOME=str(tmp_path / "home"), ROLLCALL_MODELS_DIR=str(MODELS_CACHE))
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-c", RUN_RECOGNIZE, str(video)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "0 marked" in result.stdout
    assert "psycopg loaded: False" in result.stdout, result.stdout
