"""FaceNet's triplet loss on L2-normalised embeddings.

    L = mean over active triplets of [ ||f(a) - f(p)||^2 - ||f(a) - f(n)||^2 + alpha ]_+

with squared Euclidean distances between unit vectors (0 … 4) and alpha = 0.2 by default. A
triplet is *active* when its term is positive. Averaging over the active triplets only (not over
all mined ones) keeps the gradient from fading as more triplets become easy. When no triplet is
active the loss is an exact 0 that is still attached to the graph (backward() works, gradients
are zero).

The embeddings of the whole batch come from one forward pass of the one shared network, and the
three roles index into that same tensor, so gradients reach the network through the anchor, the
positive and the negative of every triplet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported lazily so `rollcall --help` stays fast
    import numpy as np
    import torch

from .mining import DEFAULT_STRATEGY, Triplets, mine, squared_distances

DEFAULT_MARGIN = 0.2


@dataclass(frozen=True)
class LossStats:
    loss: float
    triplets: int
    active: int
    active_fraction: float  # active / mined (0 when nothing was mined)
    mean_d_ap: float  # mean squared distance anchor-positive over the mined triplets
    mean_d_an: float  # mean squared distance anchor-negative over the mined triplets


def triplet_loss(
    embeddings: torch.Tensor, triplets: Triplets, margin: float = DEFAULT_MARGIN, normalize: bool = True
) -> tuple[torch.Tensor, LossStats]:
    """The loss (a scalar tensor with gradients) and its statistics."""
    import torch.nn.functional as F

    emb = F.normalize(embeddings, p=2, dim=1) if normalize else embeddings
    if len(triplets) == 0:
        zero = emb.sum() * 0.0
        return zero, LossStats(0.0, 0, 0, 0.0, float("nan"), float("nan"))
    a, p, n = emb[triplets.anchors], emb[triplets.positives], emb[triplets.negatives]
    d_ap = (a - p).pow(2).sum(dim=1)
    d_an = (a - n).pow(2).sum(dim=1)
    terms = F.relu(d_ap - d_an + margin)
    active = terms > 0
    count = int(active.sum())
    loss = terms[active].mean() if count else terms.sum() * 0.0
    stats = LossStats(
        loss=float(loss.detach()),
        triplets=len(triplets),
        active=count,
        active_fraction=count / len(triplets),
        mean_d_ap=float(d_ap.detach().mean()),
        mean_d_an=float(d_an.detach().mean()),
    )
    return loss, stats


def batch_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, strategy: str = DEFAULT_STRATEGY, margin: float = DEFAULT_MARGIN
) -> tuple[torch.Tensor, LossStats, Triplets]:
    """Mine the batch online, then the loss over the mined triplets."""
    import torch.nn.functional as F

    emb = F.normalize(embeddings, p=2, dim=1)
    triplets = mine(emb, labels, strategy)
    loss, stats = triplet_loss(emb, triplets, margin, normalize=False)
    return loss, stats, triplets


def distance_spread(embeddings: torch.Tensor) -> float:
    """Standard deviation of the batch's pairwise squared distances (near 0 = collapsed model)."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        emb = F.normalize(embeddings.detach().float(), p=2, dim=1)
        n = len(emb)
        if n < 2:
            return 0.0
        d = squared_distances(emb)
        upper = torch.triu_indices(n, n, offset=1, device=d.device)
        return float(d[upper[0], upper[1]].std(unbiased=False))


def soft_triplet_loss(
    embeddings: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, margin: float = DEFAULT_MARGIN
) -> float:
    """Mean of the triplet term over *all* valid triplets (inactive ones count as 0).

    A stable summary of how well a set of embeddings separates its identities (used to compare a
    model before and after training; the per-step loss, averaged over active triplets of a
    freshly mined batch, is a moving target).
    """
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        emb = F.normalize(torch.as_tensor(embeddings).float(), p=2, dim=1)
        labels = torch.as_tensor(labels)
        d = squared_distances(emb)
        pos = (labels[:, None] == labels[None, :]) & ~torch.eye(len(labels), dtype=torch.bool)
        neg = labels[:, None] != labels[None, :]
        valid = pos[:, :, None] & neg[:, None, :]
        if not bool(valid.any()):
            return float("nan")
        terms = F.relu(d[:, :, None] - d[:, None, :] + margin)
        return float(terms[valid].mean())
