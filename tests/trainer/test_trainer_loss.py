"""The triplet loss against hand computations, and gradients through all three roles."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.loss import batch_loss, distance_spread, soft_triplet_loss, triplet_loss
from trainer.mining import Triplets


def idx(*values):
    return torch.tensor(values, dtype=torch.long)


def test_loss_equals_a_hand_computation():
    # Unit vectors in 3-D with exact squared distances:
    #   a=(1,0,0), p=(.6,.8,0): d_ap = .4^2 + .8^2 = 0.8
    #   n1=(0,1,0): d_an = 2  -> 0.8 - 2 + 0.2 < 0: inactive
    #   n2=(.8,.6,0): d_an = .2^2 + .6^2 = 0.4 -> 0.8 - 0.4 + 0.2 = 0.6
    #   n3=(0,0,1): d_an = 2 -> inactive;  triplet (p, a, n2): d_pa = .8, d_pn2 = .08 -> 0.92
    emb = torch.tensor([[1, 0, 0], [0.6, 0.8, 0], [0, 1, 0], [0.8, 0.6, 0], [0, 0, 1]], dtype=torch.float64)
    triplets = Triplets(idx(0, 0, 0, 1), idx(1, 1, 1, 0), idx(2, 3, 4, 3))
    loss, stats = triplet_loss(emb, triplets, margin=0.2)
    assert loss.item() == pytest.approx((0.6 + 0.92) / 2)  # mean over the two active triplets
    assert stats.triplets == 4 and stats.active == 2 and stats.active_fraction == 0.5
    assert stats.mean_d_ap == pytest.approx(0.8)
    assert stats.mean_d_an == pytest.approx((2 + 0.4 + 2 + 0.08) / 4)


def test_margin_changes_the_active_set():
    emb = torch.tensor([[1, 0, 0], [0.6, 0.8, 0], [0, 1, 0]], dtype=torch.float64)
    loss, stats = triplet_loss(emb, Triplets(idx(0), idx(1), idx(2)), margin=1.5)
    assert stats.active == 1 and loss.item() == pytest.approx(0.8 - 2 + 1.5)
    loss, stats = triplet_loss(emb, Triplets(idx(0), idx(1), idx(2)), margin=0.2)
    assert stats.active == 0 and loss.item() == 0.0


def test_embeddings_are_normalised_first():
    emb = torch.tensor([[3.0, 0, 0], [0.6, 0.8, 0], [1.6, 1.2, 0]])
    loss, _ = triplet_loss(emb, Triplets(idx(0), idx(1), idx(2)))
    assert loss.item() == pytest.approx(0.6, abs=1e-6)


def test_gradients_reach_the_shared_network_through_all_three_roles():
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3, bias=False)
    inputs = torch.randn(3, 4)
    # choose a = 0, p = 1, n = 2 and make sure the triplet is active with a large margin
    triplets = Triplets(idx(0), idx(1), idx(2))

    x = inputs.clone().requires_grad_(True)
    loss, stats = triplet_loss(net(x), triplets, margin=4.0)  # one forward pass for the whole batch
    assert stats.active == 1
    loss.backward()
    for role in range(3):  # each role's input receives a gradient through the one network
        assert x.grad[role].abs().sum() > 0, f"no gradient for role {role}"

    for role in range(3):  # and each role alone contributes to the network's weights
        net.zero_grad()
        emb = net(inputs)
        mixed = torch.stack([emb[i] if i == role else emb[i].detach() for i in range(3)])
        loss, _ = triplet_loss(mixed, triplets, margin=4.0)
        loss.backward()
        assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0, f"role {role} gave no gradient"


def test_no_active_triplet_gives_zero_loss_that_still_backpropagates():
    emb = torch.tensor([[1.0, 0, 0], [0.99, 0.14, 0], [-1, 0, 0]], requires_grad=True)
    loss, stats = triplet_loss(emb, Triplets(idx(0), idx(1), idx(2)))
    assert stats.active == 0 and loss.item() == 0.0
    loss.backward()
    assert torch.all(emb.grad == 0)
    empty = Triplets(idx(), idx(), idx())
    loss, stats = triplet_loss(emb, empty)
    assert loss.item() == 0.0 and stats.triplets == 0 and math.isnan(stats.mean_d_ap)


def test_batch_loss_mines_then_averages_active_semihard_triplets():
    rad = torch.tensor([math.radians(a) for a in (0, 30, 38, 180, 90, 100)], dtype=torch.float64)
    emb = torch.stack([torch.cos(rad), torch.sin(rad)], 1)
    d = lambda deg: 2 - 2 * math.cos(math.radians(deg))  # noqa: E731
    loss, stats, triplets = batch_loss(emb, torch.tensor([0, 0, 1, 1, 2, 2]), "semihard", 0.2)
    # active: (a0,a1,b0), (b0,b1,c1) (fallback, hard), (b1,b0,a1); see test_trainer_mining
    expected = [d(30) - d(38) + 0.2, d(142) - d(62) + 0.2, d(142) - d(150) + 0.2]
    assert stats.active == 3 and len(triplets) == 6
    assert loss.item() == pytest.approx(sum(expected) / 3)


def test_distance_spread_and_soft_loss():
    constant = torch.ones(8, 4)
    assert distance_spread(constant) == pytest.approx(0.0, abs=1e-7)
    spread_out = torch.eye(4)
    assert distance_spread(spread_out) == pytest.approx(0.0, abs=1e-7)  # all distances 2: no spread either
    mixed = torch.tensor([[1.0, 0], [1.0, 0.01], [0, 1.0], [-1.0, 0]])
    assert distance_spread(mixed) > 0.5
    # soft loss: all valid triplets, inactive counted 0; a collapsed set scores exactly the margin
    assert soft_triplet_loss(constant, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), 0.2) == pytest.approx(0.2)
    separated = torch.tensor([[1.0, 0], [1.0, 0], [-1.0, 0], [-1.0, 0]])
    assert soft_triplet_loss(separated, torch.tensor([0, 0, 1, 1]), 0.2) == 0.0
