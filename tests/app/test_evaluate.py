"""LFW pairs parsing, verification metrics and the ROC plot."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.app.evaluate import (
    CURVE_COLOR,
    best_threshold,
    read_pairs,
    roc_curve,
    save_roc_plot,
    tar_at_far,
    verification_report,
)
from tests.kits.paths import FACES

VIEW1 = FACES / "lfw_view1"


@pytest.mark.skipif(not VIEW1.exists(), reason="shared face data not present")
def test_read_pairs_view1():
    pairs = read_pairs(VIEW1 / "pairsDevTest.txt", VIEW1 / "images")
    assert len(pairs) == 1000
    assert sum(p.same for p in pairs) == 500
    assert {p.fold for p in pairs} == {-1}
    assert pairs[0].path_a == VIEW1 / "images" / "Abdullah_Gul" / "Abdullah_Gul_0013.jpg"
    assert pairs[0].path_b.name == "Abdullah_Gul_0014.jpg"
    assert all(p.path_a.exists() and p.path_b.exists() for p in pairs)
    different = next(p for p in pairs if not p.same)
    assert different.path_a.parent.name != different.path_b.parent.name


def test_read_pairs_view2(tmp_path):
    lines = ["2 2"]
    for fold in range(2):
        lines += [f"Same{fold}\t1\t2", f"Same{fold}b\t3\t14"]
        lines += [f"A{fold}\t1\tB{fold}\t2", f"C{fold}\t5\tD{fold}\t123"]
    pairs_file = tmp_path / "pairs.txt"
    pairs_file.write_text("\n".join(lines) + "\n")
    pairs = read_pairs(pairs_file, tmp_path / "images")
    assert [p.fold for p in pairs] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert [p.same for p in pairs] == [True, True, False, False] * 2
    assert pairs[1].path_b == tmp_path / "images" / "Same0b" / "Same0b_0014.jpg"
    assert pairs[7].path_b == tmp_path / "images" / "D1" / "D1_0123.jpg"

    pairs_file.write_text("2 2\nA 1 2\n")
    with pytest.raises(ValueError, match="promises 8 pairs"):
        read_pairs(pairs_file, tmp_path)


def test_perfect_separation():
    sims = np.array([0.9, 0.8, 0.75, 0.2, 0.1, 0.3])
    same = np.array([True, True, True, False, False, False])
    report = verification_report(sims, same)
    assert report.accuracy == 1.0 and report.auc == 1.0 and report.tar_at_far_1e3 == 1.0
    assert 0.3 < report.threshold < 0.75 and report.threshold == pytest.approx(0.525)
    assert report.folds is None and report.accuracy_std is None
    data = report.to_json()
    for key in ("accuracy", "auc", "tar_at_far_1e-3", "threshold", "pairs"):
        assert key in data
    assert data["pairs"] == 6 and data["positives"] == 3


def test_random_scores_give_auc_near_half():
    rng = np.random.default_rng(0)
    same = rng.random(4000) < 0.5
    report = verification_report(rng.random(4000), same)
    assert report.auc == pytest.approx(0.5, abs=0.03)
    assert 0.45 < report.accuracy < 0.56


def test_best_threshold_hand_computed():
    # sorted: 0.9 S, 0.8 D, 0.7 S, 0.6 S, 0.4 D, 0.3 S, 0.2 D
    sims = np.array([0.7, 0.2, 0.9, 0.4, 0.6, 0.8, 0.3])
    same = np.array([True, False, True, False, True, False, True])
    threshold, accuracy = best_threshold(sims, same)
    # accept >= 0.6 -> 3 of 4 same right, 2 of 3 different right = 5/7 (the strictest such threshold)
    assert accuracy == pytest.approx(5 / 7)
    assert threshold == pytest.approx(0.5)
    report = verification_report(sims, same)
    assert report.accuracy == pytest.approx(5 / 7) and report.threshold == pytest.approx(0.5)
    # AUC = share of (same, different) pairs ranked correctly: 0.9>all 3, 0.7,0.6 > 2, 0.3 > 1 -> 8/12
    assert report.auc == pytest.approx(8 / 12)


def test_roc_curve_handles_ties():
    fpr, tpr, thresholds = roc_curve(np.array([0.5, 0.5, 0.1]), np.array([True, False, False]))
    assert list(fpr) == [0, 0.5, 1] and list(tpr) == [0, 1, 1]
    assert thresholds[0] == np.inf and list(thresholds[1:]) == [0.5, 0.1]


def test_ten_fold_cross_validation():
    rng = np.random.default_rng(1)
    folds = np.repeat(np.arange(10), 60)
    same = np.tile(np.r_[np.ones(30, bool), np.zeros(30, bool)], 10)
    sims = np.where(same, rng.normal(0.6, 0.1, 600), rng.normal(0.2, 0.1, 600))
    report = verification_report(sims, same, folds)
    assert report.folds == 10 and len(report.fold_accuracies) == 10
    assert report.accuracy == pytest.approx(np.mean(report.fold_accuracies))
    assert report.accuracy_std == pytest.approx(np.std(report.fold_accuracies))
    assert 0.93 < report.accuracy < 0.99  # two Gaussians 4 sigma apart: ~97.7 %
    assert report.to_json()["folds"] == 10
    # a fold threshold fitted on its own fold can only do as well or better than cross-validation
    assert verification_report(sims, same).accuracy >= report.accuracy - 0.01


def test_tar_at_far_constructed_case():
    # 1000 different pairs: the top one scores 0.95, so FAR=1e-3 is reached at threshold 0.95
    negatives = np.r_[0.95, np.linspace(0.0, 0.5, 999)]
    positives = np.r_[np.full(80, 0.99), np.full(20, 0.3)]
    sims = np.r_[positives, negatives]
    same = np.r_[np.ones(100, bool), np.zeros(1000, bool)]
    report = verification_report(sims, same)
    assert report.tar_at_far_1e3 == pytest.approx(0.8)
    assert report.threshold_at_far_1e3 == pytest.approx(0.95)
    # with only 500 negatives FAR moves in steps of 0.002: interpolation halfway
    fpr = np.array([0.0, 0.0, 0.002, 0.002, 1.0])
    tpr = np.array([0.0, 0.6, 0.6, 0.8, 1.0])
    assert tar_at_far(fpr, tpr, 1e-3) == pytest.approx(0.7)


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="NaN"):
        verification_report(np.array([0.1, np.nan]), np.array([True, False]))
    with pytest.raises(ValueError, match="both"):
        verification_report(np.array([0.1, 0.2]), np.array([True, True]))


def test_roc_plot_is_a_non_blank_png(tmp_path):
    rng = np.random.default_rng(2)
    same = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    sims = np.where(same, rng.normal(0.6, 0.15, 600), rng.normal(0.2, 0.15, 600))
    report = verification_report(sims, same, np.tile(np.arange(10), 60))
    path = save_roc_plot(report, tmp_path / "plots" / "roc.png", "facenet-keras-128 on LFW")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = cv2.imread(str(path))
    assert image.shape == (600, 600, 3)
    non_white = np.any(image < 250, axis=2).mean()
    assert 0.01 < non_white < 0.5
    curve_pixels = np.all(np.abs(image.astype(int) - CURVE_COLOR) < 30, axis=2).sum()
    assert curve_pixels > 300
