"""A weights file is hashed once per process while it stays unchanged, and again whenever it changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.base.errors import WeightsError
from core.vision import models
from core.vision.images import file_sha256


def weights_file(path: Path, content: bytes) -> Path:
    """A weights file with its sidecar."""
    path.write_bytes(content)
    path.with_name(path.name + ".json").write_text(json.dumps({"sha256": file_sha256(path)}))
    return path


def after_the_clock_ticks(path: Path) -> None:
    """Return once the file system stamps a change with a later time than the file's last change."""
    probe = path.with_name("clock-probe")
    while True:
        probe.write_bytes(b"")
        if probe.stat().st_ctime_ns > path.stat().st_ctime_ns:
            return


@pytest.fixture
def hashes(monkeypatch) -> list[Path]:
    """The files models.py hashes (the real file_sha256, counted)."""
    seen: list[Path] = []

    def counted(path: Path) -> str:
        seen.append(Path(path))
        return file_sha256(path)

    monkeypatch.setattr(models, "file_sha256", counted)
    return seen


@pytest.fixture
def settled(monkeypatch) -> None:
    """Files count as settled at once (else only RECENT_CHANGE_NS after their last change)."""
    monkeypatch.setattr(models, "RECENT_CHANGE_NS", 0)


def test_an_unchanged_file_is_hashed_once(tmp_path, hashes, settled):
    path = weights_file(tmp_path / "net.pt", b"weights" * 1000)
    assert models.verify_weights(path) == models.verify_weights(path) == file_sha256(path)
    assert hashes == [path]


def test_a_file_rewritten_to_the_same_size_and_time_is_hashed_again_and_refused(tmp_path, hashes, settled):
    path = weights_file(tmp_path / "net.pt", b"weights" * 1000)
    models.verify_weights(path)
    before = path.stat()
    after_the_clock_ticks(path)  # else even the change time could stay the same (what RECENT_CHANGE_NS is for)
    path.write_bytes(b"WEIGHTS" * 1000)  # same size; its modification time set back as well
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(WeightsError, match="corrupt or was changed"):
        models.verify_weights(path)
    assert hashes == [path, path]


def test_a_file_changed_a_moment_ago_is_hashed_every_time(tmp_path, hashes):
    path = weights_file(tmp_path / "net.pt", b"weights" * 1000)
    models.verify_weights(path)
    models.verify_weights(path)
    assert hashes == [path, path]
