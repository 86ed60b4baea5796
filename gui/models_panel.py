"""The Models panel of the kiosk edition (no torch, no trainer): the models this station has, switching
between them, and installing a model the full edition trained (a `.rollcall-model` file)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine
from core.base.errors import RollcallError

from .dialogs import show_error
from .files import open_file
from .model_activation import ActivatesModels
from .widgets import Card, hbox, panel_header
from .workers import Job

TRAINING_ELSEWHERE = (
    "Training runs on the full edition of Rollcall (or the site's admin station). There, "
    "`rollcall models export MODEL -o FILE` writes the trained model as one file; install it "
    "here with Import model file…, then activate it. In a site, the admin station's models "
    "arrive from the site server by themselves."
)


class KioskModelsPanel(ActivatesModels, QWidget):
    model_activated = Signal(str)

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.activation: Job | None = None
        self.model_box = QComboBox()
        self.active_label = QLabel()
        self.activate_button = QPushButton("Activate")
        self.activate_button.setProperty("primary", True)
        self.import_button = QPushButton("Import model file…")
        self.note_label = QLabel(TRAINING_ELSEWHERE)
        self.note_label.setWordWrap(True)
        self.note_label.setObjectName("muted")
        self.status_label = QLabel("")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        card = Card("Models")
        card.body.addWidget(self.active_label)
        card.body.addLayout(hbox(self.model_box, self.activate_button, self.import_button, stretch_at=1))
        card.body.addWidget(self.progress_bar)
        card.body.addWidget(self.status_label)
        layout = QVBoxLayout(self)
        layout.addWidget(panel_header("Models", "Kiosk edition: recognition models, no training"))
        layout.addWidget(card)
        layout.addWidget(self.note_label)
        layout.addStretch(1)
        self.activate_button.clicked.connect(lambda: self.activate_selected())
        self.import_button.clicked.connect(lambda: self.import_file())
        self.refresh_models()

    def is_busy(self) -> bool:
        return self.activation is not None and not self.activation.has_ended()

    def refresh_models(self, select: str | None = None) -> None:
        active = self.fill_model_box(select)
        if active is None:
            return
        self.active_label.setText(f"Active: {active}")
        self.activate_button.setEnabled(self.activation is None and self.model_box.count() > 0)
        self.import_button.setEnabled(self.activation is None)

    def import_file(self, path: str | None = None) -> None:
        if path is None:
            path = open_file(self, "Import a trained model", "Rollcall models (*.rollcall-model)")
            if not path:
                return
        try:
            record = self.engine.import_model_file(path).value
        except RollcallError as exc:
            show_error(self, str(exc))
            return
        self.status_label.setText(f"{record.id} is installed; activate it to recognise with it.")
        self.refresh_models(select=record.id)

    def activate_selected(self) -> None:
        model_id = self.model_box.currentData()
        if not model_id or self.activation is not None or not self.confirm_activation(model_id):
            return
        self.start_activation(model_id)
        self.refresh_models()

    def on_changes(self, changes: Changes) -> None:
        if changes.touches(ChangeKind.MODELS):
            self.refresh_models()

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        if self.activation is not None:
            self.activation.stop(timeout_ms)
