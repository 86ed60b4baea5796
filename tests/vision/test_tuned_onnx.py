"""ONNX Runtime's copies of the networks tuned for this CPU (core.vision.tuned_onnx): made once, the same
embeddings as the original file, made again when damaged or made for another CPU, and never in the way
(a folder that cannot be written falls back to the original)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from core.vision import tuned_onnx
from core.vision.fused import SfaceEmbedder
from core.vision.images import load_image
from core.vision.onnx_files import data_file, sidecar
from tests.kits.paths import MODELS_CACHE

SFACE = MODELS_CACHE / "sface-128.onnx"


def aligned_crops(engine, faces: Path, count: int = 6) -> list[np.ndarray]:
    """SFace's own 112x112 aligned crops of real dev faces."""
    from core.vision.fused import model_input

    crops = []
    for path in sorted((faces / "dev").glob("*/*.jpg"))[:count]:
        rgb = load_image(path)
        found = engine.detector.detect(rgb, with_crops=False)
        crops.append(model_input(engine.embedder("sface-128"), rgb, found[0]))
    return crops


def tuned_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.tuned-*"))


def test_a_tuned_copy_is_made_once_and_embeds_as_the_original(engine, faces, tmp_path):
    crops = aligned_crops(engine, faces)
    original = SfaceEmbedder(SFACE, engine.embedder("sface-128").info, tuned_dir=None).embed(crops)
    folder = tmp_path / "tuned"
    tuned = SfaceEmbedder(SFACE, engine.embedder("sface-128").info, tuned_dir=folder)
    files = tuned_files(folder)
    assert [f.name.split(".tuned-")[1].split(".", 1)[1] for f in files] == ["onnx", "onnx.data", "onnx.json"]
    assert data_file(files[0]).stat().st_size > 10_000_000  # the weights live apart, mapped
    vectors = tuned.embed(crops)
    assert np.abs(vectors - original).max() < 1e-4
    assert (vectors * original).sum(axis=1).min() > 0.99999

    stamps = [f.stat().st_mtime_ns for f in files]
    assert tuned_onnx.tuned_copy(SFACE, folder) == files[0]  # checked and reused, not rewritten
    assert [f.stat().st_mtime_ns for f in files] == stamps


def test_a_damaged_copy_or_one_for_another_cpu_is_made_again(monkeypatch, tmp_path, caplog):
    folder = tmp_path / "tuned"
    first = tuned_onnx.tuned_copy(SFACE, folder)
    weights = bytearray(data_file(first).read_bytes())
    weights[len(weights) // 2] ^= 0xFF
    data_file(first).write_bytes(bytes(weights))
    with caplog.at_level(logging.WARNING, logger="core.vision.tuned_onnx"):
        again = tuned_onnx.tuned_copy(SFACE, folder)
    assert again == first and "damaged" in caplog.text
    assert tuned_onnx._check(again, full=True)

    monkeypatch.setattr(tuned_onnx, "cpu_fingerprint", lambda: "another-cpu")
    other = tuned_onnx.tuned_copy(SFACE, folder)
    assert other != first
    assert tuned_files(folder) == sorted([other, data_file(other), sidecar(other)])  # the old copy is gone


def test_a_folder_that_cannot_be_written_loads_the_original(engine, faces, tmp_path, caplog):
    crops = aligned_crops(engine, faces, count=2)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the tuned folder would go")
    with caplog.at_level(logging.WARNING, logger="core.vision.runtime"):
        embedder = SfaceEmbedder(SFACE, engine.embedder("sface-128").info, tuned_dir=blocker / "tuned")
    assert "loading it untuned" in caplog.text
    vectors = embedder.embed(crops)
    assert vectors.shape == (2, 128) and np.isfinite(vectors).all()


def test_the_engine_tunes_unless_the_settings_say_no(default_weights, rollcall_home):
    from core.app.engine import Engine
    from core.base.settings import ComputeSettings, Settings

    with Engine(Settings()) as engine:
        assert engine.tuned_dir == engine.registry.cache_dir / tuned_onnx.TUNED_FOLDER
    with Engine(Settings(compute=ComputeSettings(tune_for_cpu=False))) as engine:
        assert engine.tuned_dir is None


def test_the_copy_name_carries_the_cpu_and_the_source(monkeypatch, tmp_path):
    name = tuned_onnx.tuned_path(SFACE, tmp_path).name
    assert name.startswith("sface-128.tuned-") and name.endswith(".onnx")
    monkeypatch.setattr(tuned_onnx, "cpu_fingerprint", lambda: "another-cpu")
    assert tuned_onnx.tuned_path(SFACE, tmp_path).name != name
    monkeypatch.setattr(tuned_onnx, "source_checksums", lambda path: "another:file")
    assert tuned_onnx.tuned_path(SFACE, tmp_path).name != name


def test_making_the_onnx_files_at_setup_makes_their_tuned_copies(default_weights, tmp_path):
    """`rollcall models export-onnx` (setup) leaves a tuned copy of every network, so the first start
    makes none."""
    pytest.importorskip("facenet_pytorch")  # exporting needs the full edition
    from core.app.engine import Engine
    from core.base.settings import Settings, StorageSettings
    from core.vision.models import ModelRegistry
    from tests.kits.onnx import copy_models

    models = copy_models(tmp_path / "models")
    with Engine(
        Settings(storage=StorageSettings(data_dir=str(tmp_path / "home"))), registry=ModelRegistry(models)
    ) as engine:
        made = engine.export_all_onnx()
        expected = {tuned_onnx.tuned_path(p, engine.tuned_dir).name for p in [*made, SFACE]}
        assert {p.name for p in engine.tuned_dir.glob("*.onnx")} == expected
        assert len(expected) == 5  # MTCNN's three, FaceNet, SFace
