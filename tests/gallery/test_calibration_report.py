"""The calibration report (issue 16, part D): its estimate of strangers marked per 1,000 against the
rate measured on dev_unknown, the proposed threshold, the missed enrolled samples and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from core.base.records import GalleryMatrix
from core.gallery.calibration import StrangerModel, calibration_report, enrolled_strangers
from core.gallery.match import GalleryMatcher
from tests.kits.paths import FACES

CONFIDENCE = 0.95


def clopper_pearson(marked: int, total: int) -> tuple[float, float]:
    interval = stats.binomtest(marked, total).proportion_ci(confidence_level=CONFIDENCE, method="exact")
    return interval.low, interval.high


def _synthetic(people: int = 12, per_person: int = 4, dim: int = 16, spread: float = 0.35, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, dim))
    vectors = np.repeat(centres, per_person, axis=0) + spread * rng.normal(size=(people * per_person, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    person_ids = np.repeat(np.arange(1, people + 1), per_person)
    gallery = GalleryMatrix(
        "toy",
        vectors.astype(np.float32),
        np.arange(len(vectors)),
        person_ids,
        {i: f"p{i}" for i in range(1, people + 1)},
    )
    return GalleryMatcher(gallery, 0.6, 0.05), rng


def test_the_estimate_falls_with_the_threshold_and_the_proposal_meets_the_target():
    matcher, rng = _synthetic()
    report = calibration_report(matcher, target_per_1000=20.0)
    rates = [p.strangers_per_1000 for p in report.curve]
    assert rates == sorted(rates, reverse=True) and rates[0] > rates[-1]
    model = StrangerModel.fit(enrolled_strangers(matcher), matcher.sample_count, matcher.margin)
    assert model.rate(report.proposed_threshold) * 1000 <= 20.0 + 1e-9
    assert model.rate(report.proposed_threshold - 0.01) * 1000 > 20.0  # the lowest such threshold
    assert (report.people, report.samples, report.queries, report.reviewed_unknowns) == (12, 48, 48, 0)
    # a stricter target proposes a higher threshold and misses at least as many enrolled samples
    strict = calibration_report(matcher, target_per_1000=1.0)
    assert strict.proposed_threshold > report.proposed_threshold
    assert strict.missed_samples >= report.missed_samples

    strangers = rng.normal(size=(5, 16)).astype(np.float32)
    strangers /= np.linalg.norm(strangers, axis=1, keepdims=True)
    with_unknowns = calibration_report(matcher, 20.0, reviewed_unknowns=strangers)
    assert with_unknowns.reviewed_unknowns == 5 and with_unknowns.queries == 48


def test_the_size_term_raises_the_estimate_for_a_larger_gallery():
    matcher, _ = _synthetic()
    queries = enrolled_strangers(matcher)
    small = StrangerModel.fit(queries, matcher.sample_count, matcher.margin)
    large = StrangerModel.fit(queries, matcher.sample_count * 10, matcher.margin)
    assert large.rate(0.7) > small.rate(0.7)


@pytest.mark.slow
def test_the_estimate_agrees_with_dev_unknown(engine, faces, capsys):
    """32 dev people (4 photos each) enrolled with the fused default; the 30 dev_unknown photos measured."""
    from core.app.cli import main
    from core.app.identification import dev_closed_set, embed_photos, enroll_set

    dataset = dev_closed_set(FACES / "dev", FACES / "dev_unknown")
    enroll_set(engine, dataset)
    report = engine.calibration_report()
    matcher = engine.matcher()
    assert (report.people, report.samples) == (32, matcher.sample_count) and report.samples >= 120
    assert report.threshold == matcher.threshold and report.margin == matcher.margin

    vectors = embed_photos(engine, dataset.strangers)
    results = matcher.match(vectors)
    marked = sum(r.is_known for r in results)
    low, high = clopper_pearson(marked, len(results))
    print(
        f"\nestimate {report.estimated_per_1000:.1f} per 1,000 at {report.threshold:.3f}; measured "
        f"{marked}/{len(results)} (95% CI {low * 1000:.1f}-{high * 1000:.1f}); " + "; ".join(report.describe())
    )
    assert len(results) == 30
    assert low <= report.estimated_per_1000 / 1000 <= high

    # Along the curve the estimate never falls below what dev_unknown shows (it may lean high).
    scores = matcher.person_scores(vectors)
    top = -np.sort(-scores, axis=1)
    for point in report.curve:
        hits = int(np.sum((top[:, 0] >= point.threshold) & (top[:, 0] - top[:, 1] >= matcher.margin)))
        assert point.strangers_per_1000 / 1000 >= clopper_pearson(hits, len(results))[0], point

    # The CLI prints the same report (and as JSON).
    capsys.readouterr()
    assert main(["calibrate", "--json", "--target-per-1000", "5"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["people"] == 32 and printed["target_per_1000"] == 5.0
    assert printed["proposed_threshold"] > report.proposed_threshold
