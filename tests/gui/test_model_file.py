"""A model trained on the full edition travels as one `.rollcall-model` file and runs on the kiosk
edition, which has no torch: through the CLI in a process where torch cannot be imported, and through
the kiosk Models panel."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from core.base.errors import WeightsError
from core.gallery.store import GalleryStore
from tests.kits.onnx import copy_models, probe
from tests.kits.paths import dev_people, dev_photos


def test_the_kiosk_edition_installs_activates_and_recognises_with_a_trained_model(trained_file, tmp_path):
    path, model_id = trained_file
    assert path.name == "trained.rollcall-model"
    models = copy_models(tmp_path / "models")
    home = tmp_path / "home"
    person = dev_people()[0]
    for args in (
        ["models", "import", str(path)],
        ["activate", model_id],
        ["enroll", "Kiosk Person", *map(str, dev_photos(person)[:3])],
        ["identify", str(dev_photos(person)[5])],
    ):
        report, stderr = probe(["cli", "--device", "cpu", *args, "--no-torch"], home, models)
        assert report["rc"] == 0, f"{args}: {stderr[-2000:]}"
        assert report["torch_modules"] == []
    with GalleryStore(home / "rollcall.db") as store:
        assert store.active_model_id() == model_id
        assert store.count_samples() == 3 and len(store.gallery(model_id)) == store.count_samples(derived=None)
    assert not (models / f"{model_id}.pt").exists()  # the kiosk has the ONNX export only


@pytest.fixture
def kiosk_engine(default_weights, tmp_path):
    """An engine with its own models folder (links to the shared files), so imports land there."""
    from core.app.engine import Engine
    from core.base.settings import Settings, StorageSettings
    from core.vision.models import ModelRegistry

    engine = Engine(
        Settings(storage=StorageSettings(data_dir=str(tmp_path / "home"))),
        registry=ModelRegistry(copy_models(tmp_path / "models")),
    )
    yield engine
    engine.close()


def test_a_damaged_or_foreign_file_is_refused_and_installs_nothing(trained_file, tmp_path, kiosk_engine):
    engine = kiosk_engine
    path, model_id = trained_file
    damaged = tmp_path / "damaged.rollcall-model"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith(".onnx.data"):
                data = data[:-10] + b"0123456789"
            target.writestr(item, data)
    with pytest.raises(WeightsError, match="corrupt|checksum|sha256"):
        engine.import_model_file(damaged)
    not_a_model = tmp_path / "photo.rollcall-model"
    shutil.copy(dev_photos(dev_people()[0])[0], not_a_model)
    with pytest.raises(WeightsError, match="not a Rollcall model file"):
        engine.import_model_file(not_a_model)
    assert model_id not in {m.id for m in engine.models()}
    assert not list(Path(engine.registry.cache_dir).glob(f"{model_id}*"))


def test_kiosk_models_panel_imports_and_activates(qtbot, trained_file, kiosk_engine, monkeypatch, dialogs):
    from PySide6.QtWidgets import QMessageBox

    from core.vision import onnx_files
    from gui.main_window import MainWindow
    from gui.models_panel import TRAINING_ELSEWHERE, KioskModelsPanel

    engine = kiosk_engine
    path, model_id = trained_file
    monkeypatch.setattr(onnx_files, "torch_available", lambda: False)  # as the kiosk bundle, which has no torch
    window = MainWindow(engine)
    qtbot.addWidget(window)
    panel = window.show_panel("models")
    assert isinstance(panel, KioskModelsPanel) and "full edition" in TRAINING_ELSEWHERE
    panel.import_file(str(path))
    assert panel.model_box.currentData() == model_id and "installed" in panel.status_label.text()
    dialogs.question_answer = QMessageBox.StandardButton.Yes  # activation asks first
    panel.activate_selected()
    qtbot.waitUntil(lambda: panel.activation is None, timeout=120_000)
    assert engine.active_model_id() == model_id
    window.close()
