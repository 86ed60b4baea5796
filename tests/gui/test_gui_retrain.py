"""The Models (retrain) panel: cancel a run, complete one, activate the result and roll back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from core.app.engine import Engine  # noqa: E402
from core.base.settings import ComputeSettings, Settings, StorageSettings  # noqa: E402
from core.vision.models import DEFAULT_MODEL, ModelRegistry  # noqa: E402
from gui import workers  # noqa: E402
from gui.retrain_panel import RetrainPanel  # noqa: E402
from tests.kits.paths import MODELS_CACHE, dev_people, dev_photos  # noqa: E402

LONG = 240_000  # ms; a 2-core CPU shared with other work can be slow


@pytest.fixture
def panel_engine(tmp_path, default_weights):
    models = tmp_path / "models"
    models.mkdir()
    for name in (f"{DEFAULT_MODEL}.pt", f"{DEFAULT_MODEL}.pt.json"):
        os.symlink(MODELS_CACHE / name, models / name)
    engine = Engine(
        Settings(
            storage=StorageSettings(data_dir=str(tmp_path / "home")),
            compute=ComputeSettings(active_model=DEFAULT_MODEL),
        ),
        registry=ModelRegistry(models),
    )
    enroller = engine.enroller()
    for person in dev_people()[:4]:
        enroller.enroll_files(person.name.replace("_", " "), dev_photos(person))
    yield engine
    engine.close()


def files_in(engine: Engine) -> set[str]:
    return {p.name for p in Path(engine.registry.cache_dir).iterdir()}


def test_panel_cancels_trains_activates_and_rolls_back(qtbot, panel_engine, dialogs):
    engine = panel_engine
    panel = RetrainPanel(engine)
    qtbot.addWidget(panel)
    panel.show()
    panel.lfw_box.setChecked(False)
    panel.p_spin.setValue(4)
    panel.k_spin.setValue(2)
    panel.margin_spin.setValue(1.0)  # a large margin keeps triplets active, so the weights change
    panel.lr_spin.setValue(0.001)
    panel.epochs_spin.setValue(1)
    panel.frozen_spin.setValue(7)
    assert panel.frozen_label.text() == "up to block8"
    models_before = [m.id for m in engine.store.list_models()]
    files_before = files_in(engine)

    # 1. start a long run and cancel it after its first step
    panel.steps_spin.setValue(200)
    panel.start_button.click()
    assert panel.job is not None and not panel.start_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: len(panel.plot.steps) >= 1, timeout=LONG)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.job is None, timeout=LONG)
    assert "cancelled" in panel.status_label.text().lower()
    assert len(panel.plot.steps) < 200
    assert [m.id for m in engine.store.list_models()] == models_before and files_in(engine) == files_before

    # 2. a short run to the end
    panel.steps_spin.setValue(2)
    with qtbot.waitSignal(panel.training_finished, timeout=LONG) as finished:
        panel.start_button.click()
    result = finished.args[0]
    qtbot.waitUntil(lambda: panel.job is None, timeout=LONG)
    assert result.saved and result.steps == 2
    assert panel.plot.steps == [1, 2] and len(panel.plot.losses) == 2
    assert panel.results_table.rowCount() >= 3
    assert panel.results_table.item(0, 0).text().endswith("%")
    assert panel.model_box.currentData() == result.model_id
    assert panel.start_button.isEnabled() and panel.activate_button.isEnabled()
    assert not panel.rollback_button.isEnabled()  # the active built-in model has no parent

    # 3. activate it: the gallery is re-embedded, the signal carries the id
    with qtbot.waitSignal(panel.model_activated, timeout=LONG) as activated:
        panel.activate_button.click()
    assert activated.args == [result.model_id]
    qtbot.waitUntil(lambda: panel.activation is None, timeout=LONG)
    assert engine.active_model_id() == result.model_id
    assert len(engine.store.gallery(result.model_id)) == engine.store.count_samples(derived=None)  # and derived
    assert panel.rollback_button.isEnabled() and DEFAULT_MODEL in panel.active_label.text()

    # 4. roll back to the parent
    with qtbot.waitSignal(panel.model_activated, timeout=LONG) as rolled:
        panel.rollback_button.click()
    assert rolled.args == [DEFAULT_MODEL]
    qtbot.waitUntil(lambda: panel.activation is None, timeout=LONG)
    assert engine.active_model_id() == DEFAULT_MODEL

    panel.shutdown()
    assert not panel.is_busy()
    assert workers.live_jobs() == []
