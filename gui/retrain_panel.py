"""Models: fine-tune the face embedder on the enrolled people, compare before/after, activate or roll back.

Training (the trainer.job.training generator) and activation (Engine.activation: re-embedding the gallery, then the
switch) run in gui.workers jobs; this panel only shows their progress. The live plot is painted with QPainter.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine
from core.base.errors import RollcallError
from trainer.config import Optimizer, TrainConfig
from trainer.job import TrainResult, training
from trainer.mining import STRATEGIES
from trainer.network import MAX_FROZEN, STAGE_NAMES
from trainer.progress import TrainPhase, TrainProgress
from trainer.validate import default_lfw_dir

from .model_activation import ActivatesModels
from .widgets import Card, hbox, icon, panel_header, styled_label
from .workers import Job

LOSS_COLOR = QColor("#2563eb")
ACTIVE_COLOR = QColor("#f59e0b")
PLOT_MIN_PX = (320, 90)
SETTINGS_TEXT_MIN_PX = 360
RESULTS_MIN_PX = 90  # with the plot and the versions, the panel fits a 1280 x 720 laptop
STRATEGY_HELP = {
    "semihard": "FaceNet's choice: for every anchor-positive pair the nearest negative that is still farther "
    "than the positive. Safe from the start.",
    "hard": "Batch-hard: the farthest positive and nearest negative per anchor. Strong, but can collapse the "
    "model early in training; use a small learning rate.",
    "all": "Every valid triplet in the batch; the loss averages the active ones.",
}


class LossPlot(QWidget):
    """Training loss (left axis) and fraction of active triplets (right axis, 0–1) per step."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.active: list[float] = []
        self.total_steps = 0
        self.setMinimumSize(*PLOT_MIN_PX)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def clear(self, total_steps: int = 0) -> None:
        self.steps, self.losses, self.active = [], [], []
        self.total_steps = total_steps
        self.update()

    def add_point(self, step: int, loss: float, active_fraction: float) -> None:
        self.steps.append(step)
        self.losses.append(loss)
        self.active.append(active_fraction)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        left, right, top, bottom = 46, self.width() - 40, 22, self.height() - 26
        if right - left < 20 or bottom - top < 20:
            painter.end()
            return
        frame = QRectF(left, top, right - left, bottom - top)
        painter.setPen(QPen(QColor("#e5e7eb"), 1))
        for i in range(5):
            y = top + (bottom - top) * i / 4
            painter.drawLine(QPointF(left, y), QPointF(right, y))
        painter.setPen(QPen(QColor("#9ca3af"), 1))
        painter.drawRect(frame)

        finite = [v for v in self.losses if math.isfinite(v)]
        loss_max = max(finite) * 1.1 if finite and max(finite) > 0 else 0.25
        last_step = max(self.total_steps, self.steps[-1] if self.steps else 1, 1)

        def point(step: int, value: float, top_value: float) -> QPointF:
            x = left + (right - left) * (step / last_step)
            y = bottom - (bottom - top) * min(max(value / top_value, 0.0), 1.0)
            return QPointF(x, y)

        painter.setPen(QColor("#6b7280"))
        font = painter.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
        painter.setFont(font)
        painter.drawText(QRectF(0, top - 8, left - 4, 16), Qt.AlignmentFlag.AlignRight, f"{loss_max:.2f}")
        painter.drawText(QRectF(0, bottom - 8, left - 4, 16), Qt.AlignmentFlag.AlignRight, "0")
        painter.drawText(QRectF(right + 4, top - 8, 36, 16), Qt.AlignmentFlag.AlignLeft, "100%")
        painter.drawText(QRectF(right + 4, bottom - 8, 36, 16), Qt.AlignmentFlag.AlignLeft, "0%")
        painter.drawText(
            QRectF(left, bottom + 4, right - left, 16), Qt.AlignmentFlag.AlignCenter, f"step (of {last_step})"
        )

        for values, top_value, color in ((self.losses, loss_max, LOSS_COLOR), (self.active, 1.0, ACTIVE_COLOR)):
            path = QPainterPath()
            started = False
            for step, value in zip(self.steps, values):
                if not math.isfinite(value):
                    started = False
                    continue
                p = point(step, value, top_value)
                if started:
                    path.lineTo(p)
                else:
                    path.moveTo(p)
                    started = True
            painter.setPen(QPen(color, 2))
            painter.drawPath(path)
            if len(self.steps) == 1 and math.isfinite(values[0]):
                painter.setBrush(color)
                painter.drawEllipse(point(self.steps[0], values[0], top_value), 3, 3)
                painter.setBrush(Qt.BrushStyle.NoBrush)

        legend_y = 4
        for label, color, x in (("loss", LOSS_COLOR, left), ("active triplets", ACTIVE_COLOR, left + 70)):
            painter.setPen(QPen(color, 3))
            painter.drawLine(QPointF(x, legend_y + 7), QPointF(x + 14, legend_y + 7))
            painter.setPen(QColor("#374151"))
            painter.drawText(QPointF(x + 18, legend_y + 11), label)
        painter.end()


class RetrainPanel(ActivatesModels, QWidget):
    model_activated = Signal(str)
    training_finished = Signal(object)  # the TrainResult of a completed (or collapsed) run

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.job: Job | None = None
        self.activation: Job | None = None
        self.last_result: TrainResult | None = None

        grid = QGridLayout()
        grid.setSpacing(10)
        grid.addWidget(self._settings_card(), 0, 0, 3, 1)
        grid.addWidget(self._progress_card(), 0, 1)
        grid.addWidget(self._results_card(), 1, 1)  # columns sized to their values: "100.00%", never "100…"
        grid.addWidget(self._versions_card(), 2, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(0, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addWidget(
            panel_header(
                "Models",
                "Fine-tune the face model with FaceNet's triplet loss on the people "
                "you enrolled, compare it with the current one, then switch or roll back.",
            )
        )
        layout.addLayout(grid, 1)

        self._strategy_changed()
        self._frozen_changed()
        self.refresh_models()

    # ---- building the panel ----

    def _settings_card(self) -> Card:
        card = Card("Training settings")
        card.body.addLayout(self._settings_form())
        self.strategy_help = styled_label("")
        self.strategy_help.setMinimumWidth(SETTINGS_TEXT_MIN_PX)  # wrapped at this width, not a narrow column
        card.body.addWidget(self.strategy_help)
        self.lfw_box = QCheckBox("Check LFW accuracy before and after")
        self.lfw_box.setChecked(default_lfw_dir() is not None)
        self.lfw_box.setEnabled(default_lfw_dir() is not None)
        self.lfw_box.setToolTip("LFW View 1 accuracy of the old and the new model (about a minute).")
        if default_lfw_dir() is None:
            self.lfw_box.setToolTip("LFW View 1 was not found; set ROLLCALL_LFW_DIR to enable this check.")
        card.body.addWidget(self.lfw_box)
        self.corrections_box = QCheckBox("Learn from corrections")
        self.corrections_box.setToolTip(
            "Confusions become hard negatives and faces confirmed at the kiosk are "
            "used too: every batch holds a pair of people the kiosk confused (recorded "
            "when an event was voided or reassigned, or someone answered No)."
        )
        card.body.addWidget(self.corrections_box)
        self.start_button = QPushButton(icon("play", light=True), "Start training")
        self.start_button.setProperty("primary", True)
        self.start_button.clicked.connect(self.start_training)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_training)
        card.body.addLayout(hbox(self.start_button, self.cancel_button, None))
        card.body.addStretch(1)
        return card

    def _settings_form(self) -> QFormLayout:
        self.strategy_box = QComboBox()
        for name in STRATEGIES:
            self.strategy_box.addItem(name, name)
            self.strategy_box.setItemData(
                self.strategy_box.count() - 1, STRATEGY_HELP[name], Qt.ItemDataRole.ToolTipRole
            )
        self.strategy_box.currentIndexChanged.connect(self._strategy_changed)
        self.p_spin = self._spin(2, 128, TrainConfig.P, "Identities per batch")
        self.k_spin = self._spin(
            2, 64, TrainConfig.K, "Faces per identity (repeated with augmentation when a person has fewer photos)"
        )
        self.margin_spin = QDoubleSpinBox()
        self.margin_spin.setRange(0.01, 2.0)
        self.margin_spin.setSingleStep(0.05)
        self.margin_spin.setValue(TrainConfig.margin)
        self.margin_spin.setToolTip(
            "α: how much farther a different person must be than the same person "
            "(squared distance of unit vectors, 0–4)"
        )
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(6)
        self.lr_spin.setRange(0.000001, 0.1)
        self.lr_spin.setSingleStep(0.00001)
        self.lr_spin.setValue(TrainConfig.learning_rate)
        self.optimizer_box = QComboBox()
        for optimizer in Optimizer:
            self.optimizer_box.addItem(optimizer.value, optimizer)
        self.epochs_spin = self._spin(1, 1000, TrainConfig.epochs, "Passes over the training photos")
        self.steps_spin = self._spin(0, 100000, 0, "Batches per epoch; 0 = photos / (P × K)")
        self.steps_spin.setSpecialValueText("auto")
        self.frozen_spin = self._spin(
            0, MAX_FROZEN, TrainConfig.frozen_blocks, "Early stages kept as they are (faster on a CPU, forgets less)"
        )
        self.frozen_label = QLabel()
        self.frozen_label.setObjectName("muted")
        self.frozen_spin.valueChanged.connect(self._frozen_changed)

        form = QFormLayout()
        form.addRow("Mining", self.strategy_box)
        form.addRow("P (people per batch)", self.p_spin)
        form.addRow("K (photos per person)", self.k_spin)
        form.addRow("Margin α", self.margin_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Optimizer", self.optimizer_box)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Steps per epoch", self.steps_spin)
        form.addRow("Frozen blocks", hbox(self.frozen_spin, self.frozen_label, None))
        return form

    def _progress_card(self) -> Card:
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.status_label = QLabel(
            "Fine-tune the model on the enrolled people. Each person's last two photos "
            "are held out to check the result."
        )
        self.status_label.setObjectName("muted")
        self.status_label.setWordWrap(True)
        self.plot = LossPlot()
        card = Card("Progress")
        card.body.addWidget(self.progress_bar)
        card.body.addWidget(self.status_label)
        card.body.addWidget(self.plot, 1)
        return card

    def _results_card(self) -> Card:
        self.results_table = QTableWidget(0, 3)
        self.results_table.setHorizontalHeaderLabels(["Before", "After", "Change"])
        self.results_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.results_table.horizontalHeader().setStretchLastSection(True)
        self.results_table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.results_table.setWordWrap(False)
        self.results_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.results_table.setMinimumHeight(RESULTS_MIN_PX)
        card = Card("Before / after")
        card.body.addWidget(self.results_table, 1)
        return card

    def _versions_card(self) -> Card:
        self.model_box = QComboBox()
        self.model_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(20)
        self.activate_button = QPushButton("Activate")
        self.activate_button.setProperty("primary", True)
        self.activate_button.clicked.connect(self.activate_selected)
        self.rollback_button = QPushButton("Roll back")
        self.rollback_button.clicked.connect(self.roll_back)
        self.active_label = styled_label("")
        card = Card("Model versions")
        card.body.addWidget(self.model_box)
        card.body.addLayout(hbox(self.activate_button, self.rollback_button, None))
        card.body.addWidget(self.active_label)
        return card

    @staticmethod
    def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        spin.setToolTip(tip)
        return spin

    def _strategy_changed(self) -> None:
        self.strategy_help.setText(STRATEGY_HELP.get(self.strategy_box.currentData(), ""))

    def _frozen_changed(self) -> None:
        n = self.frozen_spin.value()
        self.frozen_label.setText("none" if n == 0 else f"up to {STAGE_NAMES[n - 1]}")

    # ---- state ----

    def is_busy(self) -> bool:
        return any(job is not None and not job.has_ended() for job in (self.job, self.activation))

    def _set_busy(self) -> None:
        training = self.job is not None
        activating = self.activation is not None
        self.start_button.setEnabled(not training and not activating)
        self.cancel_button.setEnabled(training)
        self.activate_button.setEnabled(not training and not activating and self.model_box.count() > 0)
        self.rollback_button.setEnabled(not training and not activating and self._parent_of_active() is not None)

    def _parent_of_active(self) -> str | None:
        try:
            return self.engine.model(self.engine.active_model_id()).parent_id
        except RollcallError:
            return None

    def refresh_models(self, select: str | None = None) -> None:
        active = self.fill_model_box(select, _held_out_accuracy, with_names=True)
        if active is None:
            return
        parent = self._parent_of_active()
        self.active_label.setText(f"Active: {active}" + (f" (roll back goes to {parent})" if parent else ""))
        self._set_busy()

    def config(self) -> TrainConfig:
        return TrainConfig(
            strategy=self.strategy_box.currentData(),
            P=self.p_spin.value(),
            K=self.k_spin.value(),
            margin=self.margin_spin.value(),
            learning_rate=self.lr_spin.value(),
            optimizer=self.optimizer_box.currentData(),
            epochs=self.epochs_spin.value(),
            steps_per_epoch=self.steps_spin.value() or None,
            frozen_blocks=self.frozen_spin.value(),
            lfw=self.lfw_box.isChecked(),
            device=self.engine.settings.compute.device,
            with_corrections=self.corrections_box.isChecked(),
        )

    # ---- training ----

    def start_training(self) -> None:
        if self.job is not None or self.activation is not None:
            return
        try:
            config = self.config()
            config.check()
        except RollcallError as exc:
            self.status_label.setText(str(exc))
            return
        self.plot.clear()
        self.results_table.setRowCount(0)
        self.progress_bar.setRange(0, 0)
        self.status_label.setText("Starting…")
        self.job = Job(training, self.engine, config, name="retrain")  # each TrainProgress arrives on `yielded`
        self.job.yielded.connect(self._on_progress)
        self.job.returned.connect(self._on_result)
        self.job.aborted.connect(lambda: self.status_label.setText("Training cancelled; nothing was saved."))
        self.job.failed.connect(lambda message: self.status_label.setText(f"Training failed: {message}"))
        self.job.finished.connect(self._on_job_finished)
        self.job.start()
        self._set_busy()

    def cancel_training(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status_label.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    def _on_progress(self, progress: object) -> None:
        if not isinstance(progress, TrainProgress):
            return
        if progress.phase == TrainPhase.TRAIN:
            if self.plot.total_steps != progress.total_steps:
                self.plot.total_steps = progress.total_steps
            self.progress_bar.setRange(0, max(progress.total_steps, 1))
            self.progress_bar.setValue(progress.step)
            self.plot.add_point(progress.step, progress.loss, progress.active_fraction)
            self.status_label.setText(
                f"Epoch {progress.epoch}, step {progress.step}/{progress.total_steps}: loss {progress.loss:.4f}, "
                f"active triplets {progress.active_fraction * 100:.0f}%, d(a,p) {progress.mean_d_ap:.3f}, "
                f"d(a,n) {progress.mean_d_an:.3f}"
            )
        else:
            if progress.total_steps:
                self.progress_bar.setRange(0, progress.total_steps)
                self.progress_bar.setValue(progress.step)
            else:
                self.progress_bar.setRange(0, 0)
            self.status_label.setText(progress.message)

    def _on_result(self, result: object) -> None:
        if not isinstance(result, TrainResult):
            return
        self.last_result = result
        self.show_results(result)
        text = result.message
        if result.warnings:
            text += "\n" + "\n".join(result.warnings)
        self.status_label.setText(text)
        self.refresh_models(select=result.model_id)
        self.training_finished.emit(result)

    def _on_job_finished(self) -> None:
        self.job = None
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if self.last_result is not None and self.last_result.saved else 0)
        self._set_busy()

    def show_results(self, result: TrainResult) -> None:
        rows = result.results()
        self.results_table.setRowCount(len(rows))
        self.results_table.setVerticalHeaderLabels([row.label for row in rows])
        for index, row in enumerate(rows):
            for column, text in enumerate((row.before, row.after, row.change)):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.results_table.setItem(index, column, item)

    # ---- activation ----

    def activate_selected(self) -> None:
        model_id = self.model_box.currentData()
        if not model_id:
            return
        try:
            flagged = self.engine.model(model_id).metrics.get("training", {}).get("flagged", "")
        except RollcallError:
            flagged = ""
        warning = f"{model_id} was flagged when it was trained. {flagged}" if flagged else ""
        if not self.confirm_activation(model_id, warning):
            return
        self._start_activation(model_id)

    def roll_back(self) -> None:
        parent = self._parent_of_active()
        if parent is None:
            self.status_label.setText("The active model has no earlier version to roll back to.")
            return
        if not self.confirm_activation(parent):
            return
        self._start_activation(parent)

    def _start_activation(self, model_id: str) -> None:
        if self.job is not None or self.activation is not None:
            return
        self.start_activation(model_id)
        self._set_busy()

    def on_changes(self, changes: Changes) -> None:
        if changes.touches(ChangeKind.MODELS):
            self.refresh_models()

    # ---- shutdown ----

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Cancel any running job and join its thread (the main window calls this on close)."""
        for job in (self.job, self.activation):
            if job is not None:
                job.stop(timeout_ms)


def _held_out_accuracy(record) -> str:
    after = (record.metrics or {}).get("after", {})
    accuracy = after.get("identification_accuracy")
    return "" if accuracy is None else f" — held-out id {accuracy * 100:.1f}%"
