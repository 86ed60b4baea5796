"""The one screenshot tool: it lists its pages, refuses an unknown one, and takes a page at the asked size."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6.QtGui import QImage

from tests.kits.paths import REPO

pytestmark = pytest.mark.gui  # a Qt window in a child process


def screenshots(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "scripts/screenshots.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_image_in_the_docs_is_a_page_of_the_tool():
    listed = screenshots("--list")
    assert listed.returncode == 0, listed.stderr
    pages = {page for line in listed.stdout.splitlines() for page in line.split(":", 1)[1].split()}
    images = {p.name.removeprefix("screenshot-").removesuffix(".png") for p in (REPO / "docs").glob("*.png")}
    assert images <= pages, f"images in docs/ that no page makes: {sorted(images - pages)}"


def test_an_unknown_page_is_refused_by_name():
    done = screenshots("no-such-page")
    assert done.returncode == 2
    assert "no such page: no-such-page" in done.stderr


def test_a_page_is_taken_at_the_asked_size(tmp_path, faces):
    done = screenshots("hr-roster", "--size", "1024x700", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    image = QImage(str(tmp_path / "screenshot-hr-roster.png"))
    assert (image.width(), image.height()) == (1024, 700)
