"""The GUI's view of the gallery-calibrated threshold and of a degraded fused model (issue 12)."""

from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from tests.kits.paths import MODELS_CACHE  # noqa: E402


def test_settings_dialog_shows_the_estimate_and_edits_the_strangers_target(qtbot, window, engine):
    from core.base.settings import Settings
    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(engine, window)
    qtbot.addWidget(dialog)
    estimate = engine.threshold_estimate()
    assert estimate is not None
    assert estimate.describe() in dialog.threshold_note.text()
    assert dialog.strangers.value() == engine.settings.recognition.strangers_per_1000
    dialog.strangers.setValue(5.0)
    dialog.accept()
    assert Settings.load().recognition.strangers_per_1000 == 5.0
    assert engine.settings.recognition.strangers_per_1000 == 5.0
    assert engine.threshold_estimate().strangers_per_1000 == 5.0, "re-estimated for the new target"


def test_status_bar_says_when_the_fused_model_runs_on_facenet_alone(
    qtbot, default_weights, rollcall_home, tmp_path, monkeypatch, dialogs
):
    from core.app.engine import Engine
    from core.base.settings import Settings
    from core.vision.fusion_specs import FACENET_MODEL
    from core.vision.models import ModelRegistry
    from core.vision.sface import SFACE_MODEL
    from gui.main_window import MainWindow

    cache = tmp_path / "models"
    cache.mkdir()
    for source in MODELS_CACHE.glob(f"{FACENET_MODEL}*"):
        (cache / source.name).symlink_to(source.resolve())
    sface = ModelRegistry(MODELS_CACHE).ensure_weights(SFACE_MODEL)
    shutil.copy(sface.with_name(sface.name + ".json"), cache)
    monkeypatch.setenv("ROLLCALL_MODELS_DIR", str(cache))  # SFace's weights are missing
    with Engine(Settings()) as engine:
        main = MainWindow(engine)
        qtbot.addWidget(main)
        engine.warm_up()  # what starting recognition does: the fused model falls back to FaceNet
        main.update_status()
        assert engine.fusion_notices()
        assert main.notice_label.isVisibleTo(main)
        assert "FaceNet alone" in main.notice_label.text()
        main.close()


def test_status_bar_shows_no_notice_when_both_members_load(qtbot, window, engine):
    engine.warm_up()
    window.update_status()
    assert engine.fusion_notices() == []
    assert not window.notice_label.isVisibleTo(window)
