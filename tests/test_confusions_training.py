"""Retraining from corrections (issue 16, part C) on real dev faces: confusions between the most alike
enrolled people (nearest centroids) become hard negatives; before and after, the recorded confusions,
held-out identification and LFW View 1. The figure-producing run is benchmarks/confusions_training.py."""

from __future__ import annotations

import argparse
import io
from datetime import datetime, timedelta

import numpy as np
import pytest

from core.base.records import AttendanceEvent, EventKind
from core.vision.models import DEFAULT_MODEL
from tests.test_trainer_job import eight_people, engine_from  # noqa: F401 (fixture)
from trainer.cli import add_train_parser, run_train
from trainer.data import PKSampler, read_corrections, split_samples
from trainer.job import TrainConfig, run_training

PAIRS = 3  # confused pairs recorded
# Only the head trains (the frozen stages' LFW features are cached): a few seconds a step on 2 cores.
QUICK = dict(P=4, K=4, epochs=1, steps_per_epoch=6, frozen_blocks=7, learning_rate=1e-3, strategy="semihard")


def record_confusions(engine, pairs: int = PAIRS) -> list[tuple[int, int]]:
    """For the `pairs` most alike people (nearest training centroids, FaceNet), each pair's most
    confusable training face of B is shown as A and corrected to B (the real path: event, reassign)."""
    split = split_samples(engine.store, 2)
    gallery = engine.store.gallery(DEFAULT_MODEL)
    vector = dict(zip(gallery.sample_ids.tolist(), gallery.vectors))
    centroid = {}
    for pid in split.people:
        mean = np.mean([vector[s] for s in split.train[pid]], axis=0)
        centroid[pid] = mean / np.linalg.norm(mean)
    alike = sorted(((float(centroid[a] @ centroid[b]), a, b) for a in split.people for b in split.people if a < b),
                   reverse=True)[:pairs]
    recorded = []
    for i, (_, a, b) in enumerate(alike):
        face = max(split.train[b], key=lambda s: float(vector[s] @ centroid[a] - vector[s] @ centroid[b]))
        event = engine.store.record_event(AttendanceEvent(
            None, a, None, EventKind.CHECK_IN, datetime.now().astimezone() - timedelta(minutes=10 * (i + 1)),
            "kiosk", 0.6, snapshot_jpeg=engine.store.sample_crop(face)))
        engine.reassign_event(event.id, b, "HR: it was the other one")
        recorded.append((a, b))
    return recorded


@pytest.fixture
def corrected_engine(eight_people, tmp_path):  # noqa: F811
    engine = engine_from(eight_people, tmp_path)
    record_confusions(engine)
    yield engine
    engine.close()


def test_every_batch_holds_a_recorded_confused_pair(corrected_engine):
    split = split_samples(corrected_engine.store, 2)
    corrections = read_corrections(corrected_engine.store, set(split.people))
    assert len(corrections.pairs) == PAIRS and len(corrections.confusions) == PAIRS
    train = {p: split.train[p] + corrections.extra_train.get(p, []) for p in split.people}
    sampler = PKSampler(train, P=4, K=4, seed=0, pairs=corrections.pairs)
    for step in range(2 * PAIRS):
        ids, labels = sampler.batch()
        shown, true = corrections.pairs[step % PAIRS]
        assert {shown, true} <= set(labels.tolist())
        assert len(set(labels.tolist())) == 4 and all((labels == p).sum() == 4 for p in set(labels.tolist()))
    key = corrections.confusions[0][0]
    assert key < 0 and key in train[corrections.confusions[0][2]]  # the face joins its true person's faces


@pytest.mark.slow
def test_training_with_corrections_untangles_the_recorded_confusions(corrected_engine):
    result = run_training(corrected_engine, TrainConfig(**QUICK, with_corrections=True, lfw=True))
    before, after = result.before, result.after
    print(f"\nconfusions still confused {before['confusions_still_confused']}/{before['confusions']} -> "
          f"{after['confusions_still_confused']}/{after['confusions']}; mean lead {before['confusion_mean_lead']} -> "
          f"{after['confusion_mean_lead']}; held-out identification {before['identification_accuracy']} -> "
          f"{after['identification_accuracy']}; LFW {before['lfw_accuracy']} -> {after['lfw_accuracy']}; "
          f"{result.steps} steps, {result.train_seconds:.0f} s")
    assert result.saved and not result.collapsed
    assert before["confusions"] == after["confusions"] == PAIRS
    assert after["confusion_mean_lead"] < before["confusion_mean_lead"]  # the wrong person recedes
    assert after["confusions_still_confused"] <= before["confusions_still_confused"]
    assert after["identification_accuracy"] >= 0.98
    assert before["lfw_accuracy"] > 0.9
    assert before["lfw_accuracy"] - after["lfw_accuracy"] <= 0.005
    assert not result.flagged


def test_a_flagged_model_is_not_activated_without_the_force_flag(corrected_engine):
    """A limit of -1 LFW point flags any model: the CLI trains, saves, and refuses --activate alone."""
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--P", "4", "--K", "2", "--epochs", "1", "--steps-per-epoch", "1",
                              "--frozen-blocks", "7", "--with-corrections", "--activate", "--device", "cpu"])
    out = io.StringIO()
    from trainer import cli

    original = cli.config_from_args
    cli.config_from_args = lambda a, e=None: TrainConfig(**{**original(a, e).__dict__, "max_lfw_drop": -0.01})
    try:
        assert run_train(args, corrected_engine, out=out) == 1
        assert "not activated" in out.getvalue() and "Recorded confusions told apart" in out.getvalue()
        assert corrected_engine.active_model_id() == DEFAULT_MODEL
        args.activate_anyway = True
        assert run_train(args, corrected_engine, out=io.StringIO()) == 0
        assert corrected_engine.active_model_id().startswith("ft-")
    finally:
        cli.config_from_args = original
