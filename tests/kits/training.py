"""Galleries and engines for training tests: dev people enrolled once, engines on copies, a trained file."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from core.app.engine import Engine
from core.base.errors import InvalidInputError
from core.base.settings import ComputeSettings, Settings, StorageSettings
from core.vision.models import DEFAULT_MODEL, ModelRegistry
from tests.kits.paths import MODELS_CACHE, dev_people, dev_photos

# These tests train and switch FaceNet versions, so they run on FaceNet alone (not the fused default).
TINY = dict(P=4, K=2, epochs=1, steps_per_epoch=2, frozen_blocks=7)  # only the head trains: ~1 s a step


def enroll_people(folder: Path, count: int, default_weights: Path) -> Path:
    """A gallery of `count` dev people with all 8 photos each; returns the database file."""
    engine = Engine(
        Settings(storage=StorageSettings(data_dir=str(folder)), compute=ComputeSettings(active_model=DEFAULT_MODEL)),
        registry=ModelRegistry(MODELS_CACHE),
    )
    try:
        enroller = engine.enroller()
        for person in dev_people()[:count]:
            enroller.enroll_files(person.name.replace("_", " "), dev_photos(person))
        return engine.settings.database_path
    finally:
        engine.close()


def engine_from(database: Path, tmp_path: Path) -> Engine:
    """A fresh engine on a copy of `database`, with its own models folder (weights linked in)."""
    home = tmp_path / "train-home"
    home.mkdir()
    source, target = sqlite3.connect(database), sqlite3.connect(home / "rollcall.db")
    source.backup(target)
    source.close()
    target.close()
    models = tmp_path / "models"
    models.mkdir()
    (MODELS_CACHE / "lfw").mkdir(parents=True, exist_ok=True)
    for name in (f"{DEFAULT_MODEL}.pt", f"{DEFAULT_MODEL}.pt.json", "lfw"):
        try:
            os.symlink(MODELS_CACHE / name, models / name)
        except OSError:
            (shutil.copytree if name == "lfw" else shutil.copy)(MODELS_CACHE / name, models / name)
    return Engine(
        Settings(storage=StorageSettings(data_dir=str(home)), compute=ComputeSettings(active_model=DEFAULT_MODEL)),
        registry=ModelRegistry(models),
    )


@pytest.fixture(scope="session")
def eight_people(tmp_path_factory, default_weights) -> Path:
    return enroll_people(tmp_path_factory.mktemp("gallery8"), 8, default_weights)


@pytest.fixture(scope="module")
def trained_file(eight_people, tmp_path_factory):
    """A really trained FaceNet version (a few head steps), exported as a model file."""
    from trainer.job import TrainConfig, run_training  # torch: only the tests that train import it

    folder = tmp_path_factory.mktemp("trained")
    engine = engine_from(eight_people, folder)
    try:
        result = run_training(engine, TrainConfig(**TINY, learning_rate=1e-3, margin=1.0, lfw=False))
        assert result.saved
        with pytest.raises(InvalidInputError, match="ships with every edition"):
            engine.export_model_file("facenet-keras-128", folder / "builtin")
        path = engine.export_model_file(result.model_id, folder / "trained")
        yield path, result.model_id
    finally:
        engine.close()
