"""`--self-test`: from source (a subprocess, offscreen), its failure reporting, the frozen-bundle weights
rule, and (opt-in, slow) `make package`, which builds the PyInstaller bundle and runs its self-test."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.kits.paths import REPO

CHECKS = (
    "resources",
    "image",
    "weights",
    "engine",
    "main window",
    "MTCNN",
    "embedder",
    "detect + embed",
    "enroll",
    "recognise",
)


def test_self_test_from_source_passes_with_no_arguments(default_weights, tmp_path):
    """As the installed app runs it: no --image, so the bundled public-domain photo is used."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO))
    env.pop("ROLLCALL_HOME", None)  # the self-test makes its own temporary home
    env.pop("ROLLCALL_SELFTEST_IMAGE", None)
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "gui", "--self-test"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    elapsed = time.monotonic() - start
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for name in CHECKS:
        assert any(line.startswith("OK") and f"  {name} " in line for line in out.splitlines()), (name, out)
    assert "FAIL" not in out
    assert "recognised 'Self Test'" in out
    assert str(REPO / "resources" / "selftest" / "eileen_collins.jpg") in out
    assert "Self-test passed" in out
    assert elapsed < 60, f"self-test took {elapsed:.0f} s"
    assert not list(tmp_path.iterdir()), "the self-test must not write into the working directory"


def test_self_test_reports_fail_and_restores_env(default_weights, rollcall_home, tmp_path):
    from core.app.selftest import run_self_test

    out = io.StringIO()
    before = os.environ["ROLLCALL_HOME"]
    rc = run_self_test(image=tmp_path / "missing.jpg", out=out)
    text = out.getvalue()
    assert rc == 1
    assert "FAIL  image" in text
    assert "OK    weights" in text  # the other checks still ran
    assert "FAIL  detect + embed   not run: needs image" in text
    assert "Self-test FAILED" in text
    assert os.environ["ROLLCALL_HOME"] == before


def _fake_bundle(tmp_path: Path, weights: Path | None) -> Path:
    bundle = tmp_path / "bundle"
    (bundle / "resources" / "icons").mkdir(parents=True)
    if weights is not None:
        models = bundle / "resources" / "models"
        models.mkdir()
        for src in (weights, weights.with_name(weights.name + ".json")):
            try:
                os.link(src, models / src.name)
            except OSError:
                shutil.copy(src, models / src.name)
    return bundle


@pytest.mark.parametrize("bundled", [True, False])
def test_frozen_weights_must_come_from_bundle(default_weights, tmp_path, monkeypatch, bundled):
    """Frozen, the self-test ignores ROLLCALL_MODELS_DIR and the user's cache: only the bundle counts."""
    from core.app.selftest import SelfTest

    bundle = _fake_bundle(tmp_path, default_weights if bundled else None)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    test = SelfTest(out=io.StringIO())
    test._isolate(tmp_path / "home")
    assert os.environ["ROLLCALL_MODELS_DIR"] == str(tmp_path / "home" / "empty-model-cache")
    ok = test.check("weights", test._check_weights)
    text = test.out.getvalue()
    if bundled:
        assert ok, text
        assert "from the bundle" in text
    else:
        assert not ok
        assert "FAIL  weights" in text and "WeightsError" in text


@pytest.mark.packaging
@pytest.mark.skipif(
    os.environ.get("ROLLCALL_TEST_PACKAGE") != "1",
    reason="builds the PyInstaller bundle (5-15 min); set ROLLCALL_TEST_PACKAGE=1",
)
def test_make_package_builds_and_self_tests(faces):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(["make", "package"], cwd=REPO, capture_output=True, text=True, timeout=3600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "Self-test passed" in out
    assert "from the bundle" in out
    assert (REPO / "dist" / "Rollcall" / "Rollcall").exists()
