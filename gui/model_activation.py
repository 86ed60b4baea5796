"""Switching the active model in a worker (the gallery is re-embedded first), for the Models panel of
either edition. The panel provides engine, activation, progress_bar, status_label, the model_activated
signal and refresh_models."""

from __future__ import annotations

from core.app.changes import Outcome
from core.app.engine import ReembedProgress

from .workers import Job


class ActivatesModels:
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
