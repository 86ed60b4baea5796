"""core/ and trainer/ never import Qt or gui/ (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LINT = str(Path(sys.executable).with_name("lint-imports"))


def run_linter(cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.run([LINT, "--config", str(cwd / "pyproject.toml")], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_contracts_hold_for_this_repo():
    result = run_linter(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


def test_contracts_catch_a_qt_import_in_core(tmp_path):
    for package in ("core", "trainer", "gui"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "core" / "sneaky.py").write_text("def f():\n    from PySide6 import QtCore\n")
    (tmp_path / "trainer" / "reach.py").write_text("import gui\n")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    result = run_linter(tmp_path)
    assert result.returncode != 0
    assert "core.sneaky -> PySide6" in result.stdout
    assert "trainer.reach -> gui" in result.stdout
