"""Online triplet mining on hand-built embeddings where the right triplets are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trainer.mining import STRATEGIES, mine, squared_distances

# Six unit vectors in 2-D (angles in degrees) and their identities. Squared distance between unit
# vectors at angle t is 2 - 2 cos t.
ANGLES = [0, 30, 38, 180, 90, 100]  # a0 a1 | b0 b1 | c0 c1
LABELS = [0, 0, 1, 1, 2, 2]


def circle(angles) -> torch.Tensor:
    rad = torch.tensor([math.radians(a) for a in angles], dtype=torch.float64)
    return torch.stack([torch.cos(rad), torch.sin(rad)], dim=1)


def d(deg: float) -> float:
    return 2 - 2 * math.cos(math.radians(deg))


def test_distances_are_squared_l2():
    x = circle(ANGLES)
    dist = squared_distances(x)
    assert dist[0, 1].item() == pytest.approx(d(30))
    assert dist[0, 3].item() == pytest.approx(4.0)
    assert dist[4, 5].item() == pytest.approx(d(10))
    assert torch.all(dist.diagonal() == 0)


def test_semihard_picks_the_nearest_farther_negative_for_every_pair():
    triplets = mine(circle(ANGLES), torch.tensor(LABELS), "semihard")
    # Worked out by hand (d = 2 - 2 cos angle):
    #  a0,a1: d_ap = d(30) = .268; negatives b0 .424, c0 2, c1 2.35, b1 4 -> b0 (semi-hard, inside the margin)
    #  a1,a0: b0 is closer (d(8) = .019, hard); nearest farther is c0 (d(60) = 1) -> c0 (easy, inactive)
    #  b0,b1: d_ap = d(142) = 3.58, no negative is farther -> fallback: the farthest negative, c1 (d(62))
    #  b1,b0: a1 (d(150) = 3.73) is the nearest negative farther than 3.58 -> a1 (semi-hard)
    #  c0,c1 and c1,c0: d_ap = d(10); nearest farther negative b0 -> easy
    assert triplets.as_set() == {(0, 1, 2), (1, 0, 4), (2, 3, 5), (3, 2, 1), (4, 5, 2), (5, 4, 2)}


def test_hard_is_batch_hard_farthest_positive_nearest_negative():
    triplets = mine(circle(ANGLES), torch.tensor(LABELS), "hard")
    # nearest negative per anchor: a0 -> b0, a1 -> b0, b0 -> a1, b1 -> c1, c0 -> b0, c1 -> b0
    assert triplets.as_set() == {(0, 1, 2), (1, 0, 2), (2, 3, 1), (3, 2, 5), (4, 5, 2), (5, 4, 2)}
    # With three faces of one person the anchor takes the farthest of its two positives.
    x = circle([0, 10, 50, 70, 170])
    hard = mine(x, torch.tensor([0, 0, 0, 1, 1]), "hard").as_set()
    assert (0, 2, 3) in hard  # anchor 0: positives at 10 and 50 degrees -> 50; negatives 70, 170 -> 70
    assert (3, 4, 2) in hard  # anchor at 70: positive 170; nearest negative is the face at 50


def test_all_is_every_valid_triplet():
    triplets = mine(circle(ANGLES), torch.tensor(LABELS), "all")
    expected = {
        (a, p, n)
        for a in range(6)
        for p in range(6)
        for n in range(6)
        if a != p and LABELS[a] == LABELS[p] and LABELS[n] != LABELS[a]
    }
    assert len(expected) == 24
    assert triplets.as_set() == expected


def reference_semihard(x: torch.Tensor, labels: list[int]) -> set[tuple[int, int, int]]:
    dist = squared_distances(x)
    out = set()
    for a in range(len(labels)):
        for p in range(len(labels)):
            if a == p or labels[a] != labels[p]:
                continue
            negatives = [n for n in range(len(labels)) if labels[n] != labels[a]]
            if not negatives:
                continue
            farther = [n for n in negatives if dist[a, n] > dist[a, p]]
            n = min(farther, key=lambda i: dist[a, i]) if farther else max(negatives, key=lambda i: dist[a, i])
            out.add((a, p, int(n)))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_semihard_matches_a_loop_reference_and_pml(seed):
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.miners import TripletMarginMiner

    gen = torch.Generator().manual_seed(seed)
    labels = [i // 4 for i in range(24)]  # P=6, K=4
    x = torch.nn.functional.normalize(torch.randn(24, 8, generator=gen, dtype=torch.float64), dim=1)
    triplets = mine(x, torch.tensor(labels), "semihard")
    assert triplets.as_set() == reference_semihard(x, labels)
    assert len(triplets) == 6 * 4 * 3  # every anchor-positive pair is used once

    # Whenever a semi-hard negative inside the margin exists, ours is one of pml's semi-hard triplets.
    pml = TripletMarginMiner(
        margin=0.2, type_of_triplets="semihard", distance=LpDistance(p=2, power=2, normalize_embeddings=True)
    )
    pml_set = set(zip(*[t.tolist() for t in pml(x.float(), torch.tensor(labels))]))
    dist = squared_distances(x)
    ours_in_band = {(a, p, n) for a, p, n in triplets.as_set() if dist[a, p] < dist[a, n] < dist[a, p] + 0.2}
    assert ours_in_band and ours_in_band <= pml_set


def test_hard_matches_a_loop_reference():
    gen = torch.Generator().manual_seed(5)
    labels = [i // 3 for i in range(15)]
    x = torch.nn.functional.normalize(torch.randn(15, 6, generator=gen, dtype=torch.float64), dim=1)
    dist = squared_distances(x).numpy()
    expected = set()
    for a in range(15):
        pos = [p for p in range(15) if p != a and labels[p] == labels[a]]
        neg = [n for n in range(15) if labels[n] != labels[a]]
        expected.add((a, max(pos, key=lambda i: dist[a, i]), min(neg, key=lambda i: dist[a, i])))
    assert mine(x.float(), torch.tensor(labels), "hard").as_set() == expected


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_batch_of_one_identity_gives_no_triplets(strategy):
    triplets = mine(circle([0, 10, 20]), torch.tensor([3, 3, 3]), strategy)
    assert len(triplets) == 0


def test_mining_normalises_and_needs_no_gradients():
    x = (circle(ANGLES) * 5).float().requires_grad_(True)
    triplets = mine(x, torch.tensor(LABELS), "semihard")
    assert triplets.anchors.requires_grad is False
    assert triplets.as_set() == mine(circle(ANGLES), torch.tensor(LABELS), "semihard").as_set()


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="semihard"):
        mine(circle(ANGLES), torch.tensor(LABELS), "easy")
    assert np.all(np.asarray(LABELS) >= 0)
