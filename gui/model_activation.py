"""Switching the active model in a worker (the gallery is re-embedded first), for the Models panel of
either edition, and the list of models to choose from. The panel provides engine, activation,
progress_bar, status_label, active_label, model_box, the model_activated signal and refresh_models."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt

from core.app.changes import Outcome
from core.app.engine import ReembedProgress
from core.base.errors import RollcallError
from core.base.records import ModelRecord

from .dialogs import confirm
from .text import plural
from .workers import Job


class ActivatesModels:
    def fill_model_box(
        self, select: str | None = None, describe: Callable[[ModelRecord], str] = lambda r: "", with_names: bool = False
    ) -> str | None:
        """List the models, newest first, the active one marked, keeping the selection (or `select`).
        Returns the active model's id, or None after showing why the models cannot be read."""
        try:
            active = self.engine.active_model_id()
            records = self.engine.models()
        except RollcallError as exc:
            self.active_label.setText(str(exc))
            return None
        current = select or self.model_box.currentData()
        self.model_box.clear()
        for record in reversed(records):
            self.model_box.addItem(("● " if record.id == active else "") + record.id + describe(record), record.id)
            if with_names:
                self.model_box.setItemData(self.model_box.count() - 1, record.name, Qt.ItemDataRole.ToolTipRole)
        index = self.model_box.findData(current) if current else -1
        self.model_box.setCurrentIndex(max(index, 0))
        return active

    def confirm_activation(self, model_id: str, warning: str = "") -> bool:
        """Ask before switching: the consequence named, and how to go back."""
        try:
            samples = self.engine.stats().samples
        except RollcallError:
            samples = 0
        text = (
            f"Recognise with {model_id} from now on? The gallery's {plural(samples, 'face sample')} are "
            "re-embedded with it first, and recognition pauses until that is done. Its scores and threshold "
            "apply from then on; the current model stays installed, so you can switch back here."
        )
        return confirm(self, "Activate model", f"{warning}\n\n{text}" if warning else text, "Activate")

    def start_activation(self, model_id: str) -> None:
        self.activation = Job(self.engine.activation, model_id, name="activate model")
        self.activation.yielded.connect(self._on_reembed)
        self.activation.returned.connect(self._on_activated)
        self.activation.aborted.connect(lambda: self.status_label.setText("Switching models was cancelled."))
        self.activation.failed.connect(lambda message: self.status_label.setText(f"Could not switch: {message}"))
        self.activation.finished.connect(self._on_activation_finished)
        self.progress_bar.setRange(0, 0)
        self.status_label.setText(f"Re-embedding the gallery with {model_id}…")
        self.activation.start()

    def _on_reembed(self, step: object) -> None:
        if isinstance(step, ReembedProgress):
            self.progress_bar.setRange(0, max(step.total, 1))
            self.progress_bar.setValue(step.done)

    def _on_activated(self, outcome: Outcome[str]) -> None:
        self.status_label.setText(f"{outcome.value} is now the active model.")
        self.model_activated.emit(str(outcome.value))

    def _on_activation_finished(self) -> None:
        self.activation = None
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        self.refresh_models()
