"""The settings of one training run (TrainConfig), checked before anything runs, and the optimizer they choose."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.base.errors import InvalidInputError
from core.base.settings import Device

from .loss import DEFAULT_MARGIN
from .mining import DEFAULT_STRATEGY, STRATEGIES
from .network import DEFAULT_FROZEN, MAX_FROZEN


class Optimizer(enum.StrEnum):
    ADAM = "adam"
    ADAMW = "adamw"
    SGD = "sgd"  # with momentum SGD_MOMENTUM


SGD_MOMENTUM = 0.9
ADAMW_WEIGHT_DECAY = 0.01  # AdamW's weight decay when the config leaves it at 0


@dataclass
class TrainConfig:
    strategy: str = DEFAULT_STRATEGY  # "semihard" | "hard" | "all" (see trainer.mining)
    P: int = 8  # identities per batch
    K: int = 4  # faces per identity (drawn with replacement when a person has fewer)
    margin: float = DEFAULT_MARGIN  # alpha, on squared L2 distances of unit vectors
    learning_rate: float = 1e-4
    optimizer: Optimizer = Optimizer.ADAM
    epochs: int = 3
    steps_per_epoch: int | None = None  # None = training samples / (P * K), rounded up
    frozen_blocks: int = DEFAULT_FROZEN  # early stages frozen (see trainer.network; 4 = up to repeat_2)
    held_out_per_person: int = 2  # each person's last samples, used only for validation
    device: str = Device.AUTO  # a Device, or "cuda:N" for one GPU of several
    seed: int = 0
    base_model: str | None = None  # None = the engine's active model
    from_scratch: bool = False  # random initialisation instead of the base model's weights
    lfw: bool = False  # also measure LFW View 1 accuracy before/after (about 1 min on a CPU)
    lfw_dir: str | None = None  # None = trainer.validate.default_lfw_dir()
    augment: bool = True  # flip, small crop/shift and colour jitter
    weight_decay: float = 0.0
    dropout: float | None = 0.2  # before the embedding layer while training (the Keras FaceNet used 0.2)
    with_corrections: bool = False  # confusions as hard negatives, kiosk-confirmed faces as positives
    max_lfw_drop: float = 0.005  # a model losing more LFW View 1 accuracy is flagged (activation asks first)

    def check(self) -> None:
        """Raise InvalidInputError for a value the trainer cannot use."""
        problems = []
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy must be one of {', '.join(STRATEGIES)}")
        if self.optimizer not in set(Optimizer):
            problems.append(f"optimizer must be one of {', '.join(Optimizer)}")
        if int(self.P) < 2:
            problems.append("P (identities per batch) must be at least 2")
        if int(self.K) < 2:
            problems.append("K (faces per identity) must be at least 2")
        if not (0 < float(self.margin) <= 4):
            problems.append("margin must be between 0 and 4")
        if not (0 < float(self.learning_rate) < 1):
            problems.append("learning rate must be between 0 and 1")
        if int(self.epochs) < 1:
            problems.append("epochs must be at least 1")
        if self.steps_per_epoch is not None and int(self.steps_per_epoch) < 1:
            problems.append("steps per epoch must be at least 1")
        if not (0 <= int(self.frozen_blocks) <= MAX_FROZEN):
            problems.append(f"frozen blocks must be 0 … {MAX_FROZEN}")
        if int(self.held_out_per_person) < 0:
            problems.append("held-out samples per person cannot be negative")
        if str(self.device).lower().split(":")[0] not in set(Device):
            problems.append(f"device must be one of {', '.join(Device)}")
        if self.dropout is not None and not (0 <= float(self.dropout) < 1):
            problems.append("dropout must be between 0 and 1")
        if problems:
            raise InvalidInputError("Training settings: " + "; ".join(problems) + ".")


def make_optimizer(config: TrainConfig, params: Iterable[Any]) -> Any:
    """The torch optimizer the config names, over `params`."""
    import torch

    lr, wd = float(config.learning_rate), float(config.weight_decay)
    if config.optimizer == Optimizer.SGD:
        return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM, weight_decay=wd)
    if config.optimizer == Optimizer.ADAMW:
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd or ADAMW_WEIGHT_DECAY)
    return torch.optim.Adam(params, lr=lr, weight_decay=wd)
