"""What a training run reports while it runs (TrainProgress, by phase), and how a caller drives a generator."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class TrainPhase(enum.StrEnum):
    PREPARE = "prepare"  # reading the gallery, building the network
    LFW = "lfw"  # preparing LFW View 1 crops (detection, once per machine)
    VALIDATE = "validate"  # held-out (and LFW) metrics before and after
    TRAIN = "train"  # one optimizer step
    SAVE = "save"  # writing the new model version


@dataclass
class TrainProgress:
    epoch: int  # 1-based; 0 outside the training loop
    step: int  # steps done so far (1-based while training)
    total_steps: int
    loss: float
    active_fraction: float
    mean_d_ap: float
    mean_d_an: float
    distance_spread: float
    phase: TrainPhase = TrainPhase.TRAIN
    message: str = ""


def phase_note(phase: TrainPhase, message: str, step: int = 0, total: int = 0) -> TrainProgress:
    """A progress report outside the training steps: a phase and what is happening."""
    return TrainProgress(0, step, total, math.nan, math.nan, math.nan, math.nan, math.nan, phase, message)


def drive(generator: Generator[Item, None, Result], on_item: Callable[[Item], None] | None = None) -> Result:
    """Run a generator to its end in the caller's thread, handing every yielded item to `on_item`."""
    while True:
        try:
            item = next(generator)
        except StopIteration as done:
            return done.value
        if on_item is not None:
            on_item(item)
