"""The before/after table of a training run, as text (the CLI and the Models panel show the same)."""

from __future__ import annotations

import math
from dataclasses import dataclass

METRIC_LABELS = {
    "identification_accuracy": "Held-out identification accuracy",
    "verification_accuracy": "Held-out verification accuracy",
    "verification_auc": "Held-out verification AUC",
    "train_triplet_loss": "Training triplet loss (all triplets)",
    "confusion_accuracy": "Recorded confusions told apart",
    "lfw_accuracy": "LFW View 1 accuracy",
    "lfw_auc": "LFW View 1 AUC",
}
NO_VALUE = "—"


@dataclass(frozen=True)
class ResultRow:
    """One metric of the before/after table, as text."""

    label: str
    before: str
    after: str
    change: str


def _metric_text(value: object, percent: bool, signed: bool = False) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return NO_VALUE
    if percent:
        return f"{value * 100:+.2f}" if signed else f"{value * 100:.2f}%"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def results_rows(before: dict, after: dict) -> list[ResultRow]:
    """The before/after table: one row per measured metric, accuracies in percent."""
    rows = []
    for key, label in METRIC_LABELS.items():
        if key not in before and key not in after:
            continue
        old, new, percent = before.get(key), after.get(key), "accuracy" in key
        change = new - old if isinstance(old, (int, float)) and isinstance(new, (int, float)) else None
        rows.append(
            ResultRow(
                label,
                _metric_text(old, percent),
                _metric_text(new, percent),
                _metric_text(change, percent, signed=True),
            )
        )
    return rows
