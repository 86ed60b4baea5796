"""Online triplet mining inside one P x K batch (FaceNet, Schroff et al. 2015, section 3.2).

All distances are squared L2 between L2-normalised embeddings (0 … 4), the distance the loss
uses. Mining itself runs without gradients; it only picks indices.

Strategies
----------
"semihard" (default, the paper's choice)
    Every anchor-positive pair (a, p) in the batch is used, each with one negative n from the
    batch: the hardest *semi-hard* one, i.e. the nearest negative that is still farther from the
    anchor than the positive (d(a,p) < d(a,n)). If that negative lies beyond the margin the
    triplet is simply inactive (zero loss). If *no* negative is farther than the positive, the
    pair falls back to the farthest ("least hard") negative, which is the convention of
    TensorFlow's `triplet_semihard_loss` (used by FaceNet re-implementations). So a pair is never
    dropped, and a hard negative is only used when nothing easier exists.
    pytorch-metric-learning's TripletMarginMiner("semihard") instead returns *every* negative
    inside the margin band and drops pairs without one, so it is not used here (the tests check
    that our pick is always inside its set when a semi-hard negative exists).

"hard" (batch-hard, Hermans et al. 2017)
    One triplet per anchor: its farthest positive and its nearest negative in the batch. The
    FaceNet paper warns that the hardest negatives "can in practice lead to bad local minima
    early on in training, specifically it can result in a collapsed model (i.e. f(x) = 0)"; use it
    to polish an already good model, with a small learning rate (the trainer's collapse guard
    stops a run whose distances shrink to zero). Implemented with pytorch-metric-learning's
    BatchHardMiner on LpDistance(power=2) (= squared L2 of normalised embeddings).

"all"
    Every valid triplet (a, p, n) with label(a) == label(p), a != p, label(n) != label(a)
    (pytorch-metric-learning's get_all_triplets_indices). The loss averages over the active ones,
    the "batch all" loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported lazily so `rollcall --help` stays fast
    import torch

STRATEGIES = ("semihard", "hard", "all")
DEFAULT_STRATEGY = "semihard"


@dataclass(frozen=True)
class Triplets:
    anchors: torch.Tensor  # int64 indices into the batch
    positives: torch.Tensor
    negatives: torch.Tensor

    def __len__(self) -> int:
        return int(self.anchors.numel())

    def as_set(self) -> set[tuple[int, int, int]]:
        return set(zip(self.anchors.tolist(), self.positives.tolist(), self.negatives.tolist()))


def squared_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """(N, N) squared L2 distances, clamped at 0 (exact 0 on the diagonal)."""
    import torch

    sq = (embeddings * embeddings).sum(dim=1)
    d = sq[:, None] + sq[None, :] - 2.0 * embeddings @ embeddings.T
    d = d.clamp_min(0.0)
    return d * (1.0 - torch.eye(len(embeddings), device=d.device, dtype=d.dtype))


def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same  # positive pairs, negative pairs


def _empty(device) -> Triplets:
    import torch

    e = torch.zeros(0, dtype=torch.long, device=device)
    return Triplets(e, e, e)


def mine_semihard(d: torch.Tensor, labels: torch.Tensor) -> Triplets:
    import torch

    pos_mask, neg_mask = _masks(labels)
    anchors, positives = torch.nonzero(pos_mask, as_tuple=True)
    keep = neg_mask[anchors].any(dim=1)  # an anchor whose batch has no other identity cannot be used
    anchors, positives = anchors[keep], positives[keep]
    if anchors.numel() == 0:
        return _empty(d.device)
    d_ap = d[anchors, positives][:, None]  # (M, 1)
    d_an = d[anchors]  # (M, N)
    negs = neg_mask[anchors]
    inf = torch.tensor(float("inf"), device=d.device, dtype=d.dtype)
    farther = negs & (d_an > d_ap)
    nearest_farther = torch.where(farther, d_an, inf).argmin(dim=1)
    farthest = torch.where(negs, d_an, -inf).argmax(dim=1)  # fallback: least-hard negative
    negatives = torch.where(farther.any(dim=1), nearest_farther, farthest)
    return Triplets(anchors, positives, negatives)


def mine_hard(embeddings: torch.Tensor, labels: torch.Tensor) -> Triplets:
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.miners import BatchHardMiner

    miner = BatchHardMiner(distance=LpDistance(p=2, power=2, normalize_embeddings=True))
    a, p, n = miner(embeddings, labels)
    return Triplets(a.long(), p.long(), n.long())


def mine_all(labels: torch.Tensor) -> Triplets:
    from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

    a, p, n = lmu.get_all_triplets_indices(labels)
    return Triplets(a.long(), p.long(), n.long())


def mine(embeddings: torch.Tensor, labels: torch.Tensor, strategy: str = DEFAULT_STRATEGY) -> Triplets:
    """Triplet indices for a batch of embeddings (normalised here; no gradients)."""
    import torch
    import torch.nn.functional as F

    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown mining strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    labels = torch.as_tensor(labels, device=embeddings.device)
    with torch.no_grad():
        emb = F.normalize(embeddings.detach().float(), p=2, dim=1)
        if strategy == "semihard":
            return mine_semihard(squared_distances(emb), labels)
        if strategy == "hard":
            return mine_hard(emb, labels)
        return mine_all(labels)
