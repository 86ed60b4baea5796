"""The import-linter contracts in pyproject.toml: core/ and trainer/ never import Qt; gui above trainer
above core; the stages inside core only import downwards; the GUI never reaches the store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.kits.paths import REPO

LINT = str(Path(sys.executable).with_name("lint-imports"))


def run_linter(cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.run(
        [LINT, "--config", str(cwd / "pyproject.toml")], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_contracts_hold_for_this_repo():
    result = run_linter(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


CORE_STAGES = ("app", "integrations", "site", "live", "attendance", "gallery", "vision", "base")


def make_tree(root: Path, files: dict[str, str]) -> None:
    packages = ["core", "trainer", "gui"] + [f"core/{stage}" for stage in CORE_STAGES] + ["core/gallery"]
    for package in packages:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    (root / "core" / "gallery" / "store.py").write_text("")
    for name, text in files.items():
        (root / name).write_text(text)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")


def test_contracts_catch_a_qt_import_in_core(tmp_path):
    make_tree(
        tmp_path, {"core/sneaky.py": "def f():\n    from PySide6 import QtCore\n", "trainer/reach.py": "import gui\n"}
    )
    result = run_linter(tmp_path)
    assert result.returncode != 0
    assert "core.sneaky -> PySide6" in result.stdout
    assert "trainer.reach -> gui" in result.stdout


def test_contracts_catch_an_upward_import_between_core_stages(tmp_path):
    make_tree(
        tmp_path, {"core/gallery/enroll.py": "from core.app import engine\n", "core/base/sneaky.py": "import trainer\n"}
    )
    result = run_linter(tmp_path)
    assert result.returncode != 0
    assert "core.gallery.enroll -> core.app" in result.stdout
    assert "core.base.sneaky -> trainer" in result.stdout


def test_contracts_catch_the_gui_reaching_the_store(tmp_path):
    make_tree(tmp_path, {"gui/panel.py": "from core.gallery.store import GalleryStore\n"})
    result = run_linter(tmp_path)
    assert result.returncode != 0
    assert "gui.panel -> core.gallery.store" in result.stdout


def test_contracts_keep_site_between_app_and_live(tmp_path):
    make_tree(
        tmp_path,
        {
            "core/live/sneaky.py": "from core.site import outbox\n",
            "core/site/ok.py": "from core.gallery import store\n",
        },
    )
    result = run_linter(tmp_path)
    assert result.returncode != 0
    assert "core.live.sneaky -> core.site" in result.stdout
    assert "core.site.ok" not in result.stdout
