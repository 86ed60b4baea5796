"""The InceptionResnetV1 seen as a chain of stages, so early stages can be frozen and run once.

Stage order (what `frozen_blocks` counts from the input side):

    0 stem      conv2d_1a … conv2d_4b  (160x160 -> 17x17x256)
    1 repeat_1  5 x Block35
    2 mixed_6a  reduction (-> 8x8x896)
    3 repeat_2  10 x Block17
    4 mixed_7a  reduction (-> 3x3x1792)
    5 repeat_3  5 x Block8
    6 block8    last Block8
    7 head      average pool, dropout, bottleneck linear, BatchNorm, L2 normalisation

`frozen_blocks=4` freezes stem … repeat_2 (about 85 % of the CPU time of a forward pass) and
trains mixed_7a, repeat_3, block8 and the head. A frozen stage gets no gradients and keeps its
BatchNorm layers in eval mode, so its output is the same before and after training: evaluation
runs the frozen prefix once and the "before" and "after" suffixes on the same features.

Any other nn.Module (a test double, say) is treated as one trainable stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported lazily so `rollcall --help` stays fast
    import torch
    from torch import nn

STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("stem", ("conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a", "conv2d_3b", "conv2d_4a", "conv2d_4b")),
    ("repeat_1", ("repeat_1",)),
    ("mixed_6a", ("mixed_6a",)),
    ("repeat_2", ("repeat_2",)),
    ("mixed_7a", ("mixed_7a",)),
    ("repeat_3", ("repeat_3",)),
    ("block8", ("block8",)),
    ("head", ("avgpool_1a", "dropout", "last_linear", "last_bn")),
)
STAGE_NAMES = tuple(name for name, _ in STAGES)
MAX_FROZEN = len(STAGES) - 1  # the head always trains
DEFAULT_FROZEN = STAGE_NAMES.index("repeat_2") + 1  # 4: freeze everything up to repeat_2


def is_staged(network: nn.Module) -> bool:
    """True for facenet-pytorch's InceptionResnetV1 (the layout above)."""
    return all(hasattr(network, part) for _, parts in STAGES for part in parts)


def stage_count(network: nn.Module) -> int:
    return len(STAGES) if is_staged(network) else 1


def stage_modules(network: nn.Module, index: int) -> list[nn.Module]:
    if not is_staged(network):
        return [network]
    return [getattr(network, part) for part in STAGES[index][1]]


def effective_frozen(network: nn.Module, frozen_blocks: int) -> int:
    """How many stages are really frozen (a non-staged network cannot be partly frozen)."""
    return max(0, min(int(frozen_blocks), MAX_FROZEN)) if is_staged(network) else 0


def run_stages(network: nn.Module, x: torch.Tensor, start: int = 0, end: int | None = None) -> torch.Tensor:
    """Run stages [start, end) of the network; running to the end returns unit-length embeddings."""
    import torch.nn.functional as F

    if not is_staged(network):
        if start == 0 and end in (None, 1):
            return F.normalize(network(x).float(), p=2, dim=1)
        return x
    end = len(STAGES) if end is None else end
    for index in range(start, end):
        name, parts = STAGES[index]
        if name == "head":
            staged: Any = network  # facenet-pytorch's InceptionResnetV1, which has no type stubs
            x = staged.avgpool_1a(x)
            x = staged.dropout(x)
            x = staged.last_linear(x.view(x.shape[0], -1))
            x = staged.last_bn(x)
            x = F.normalize(x, p=2, dim=1)
        else:
            for part in parts:
                x = getattr(network, part)(x)
    return x


def freeze(network: nn.Module, frozen_blocks: int) -> list[nn.Parameter]:
    """Turn off gradients for the first `frozen_blocks` stages; returns the trainable parameters."""
    frozen = effective_frozen(network, frozen_blocks)
    for index in range(stage_count(network)):
        for module in stage_modules(network, index):
            for param in module.parameters():
                param.requires_grad_(index >= frozen)
    return [p for p in network.parameters() if p.requires_grad]


def set_train_mode(network: nn.Module, frozen_blocks: int) -> None:
    """Train mode for the trainable stages; frozen stages (and their BatchNorm) stay in eval mode."""
    network.train()
    frozen = effective_frozen(network, frozen_blocks)
    for index in range(frozen):
        for module in stage_modules(network, index):
            module.eval()


def forward_train(network: nn.Module, x: torch.Tensor, frozen_blocks: int) -> torch.Tensor:
    """Embeddings with gradients only through the trainable stages (the frozen prefix runs without autograd)."""
    import torch

    frozen = effective_frozen(network, frozen_blocks)
    if frozen:
        with torch.no_grad():
            x = run_stages(network, x, 0, frozen)
    return run_stages(network, x, frozen)


def recalibrate_batchnorm(network: nn.Module, batches, frozen_blocks: int) -> int:
    """Recompute the running statistics of the trainable BatchNorm layers over `batches` (exact
    averages for the final weights, "precise BN"). Returns how many layers were updated.

    While a network trains from scratch its weights change faster than the running averages
    (momentum 0.1) follow, so eval-mode embeddings lag behind training; this closes the gap.
    """
    import torch
    from torch import nn

    frozen = effective_frozen(network, frozen_blocks)
    layers = [
        m
        for index in range(frozen, stage_count(network))
        for module in stage_modules(network, index)
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    if not layers:
        return 0
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    network.eval()
    for m in layers:
        m.train()
    try:
        with torch.no_grad():
            for x in batches:
                if len(x) > 1:
                    run_stages(network, x)
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        network.eval()
    return len(layers)
