"""Retraining from corrections (issue 16, part C) on real dev faces: faces FaceNet really confuses
between enrolled people (see tests/kits/confusion_scenario.py) are recorded as the kiosk and HR would, then
become hard negatives; before and after, the recorded confusions, held-out identification and LFW
View 1. The figure-producing run is benchmarks/confusions_training.py."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from core.app.engine import Engine
from core.base.settings import ComputeSettings, Settings, StorageSettings
from core.vision.models import DEFAULT_MODEL, ModelRegistry
from tests.kits.confusion_scenario import CONFUSIONS, confusable_faces, describe, enroll, record_confusions
from tests.kits.paths import MODELS_CACHE
from tests.kits.training import engine_from
from trainer.cli import add_train_parser, run_train
from trainer.data import PKSampler, confusion_key, read_corrections, split_samples
from trainer.job import TrainConfig, run_training
from trainer.validate import confusion_metrics

PAIRS = CONFUSIONS  # confused pairs recorded (each face its own (shown, true) pair)
REALLY_CONFUSED = 2  # of them, nearer the shown person than their own before training (FaceNet)
# The default freezing (up to repeat_2), as test_trainer_job's fine-tuning: the frozen stages' LFW features
# and the base's LFW vectors are cached in the models folder, so whichever runs second reuses them.
QUICK = dict(P=4, K=4, epochs=1, steps_per_epoch=6, frozen_blocks=4, learning_rate=3e-4, strategy="semihard")


@pytest.fixture(scope="session")
def confusion_gallery(tmp_path_factory, default_weights, faces) -> Path:
    """The scenario's 8 dev people, all photos enrolled (FaceNet alone); the database file."""
    folder = tmp_path_factory.mktemp("confusion-gallery")
    engine = Engine(
        Settings(storage=StorageSettings(data_dir=str(folder)), compute=ComputeSettings(active_model=DEFAULT_MODEL)),
        registry=ModelRegistry(MODELS_CACHE),
    )
    try:
        enroll(engine, faces / "dev")
        return engine.settings.database_path
    finally:
        engine.close()


@pytest.fixture
def corrected_engine(confusion_gallery, tmp_path):
    engine = engine_from(confusion_gallery, tmp_path)
    recorded = confusable_faces(engine.store, DEFAULT_MODEL)
    record_confusions(engine, recorded)
    print("\nrecorded: " + "; ".join(describe(engine.store, recorded)))
    yield engine
    engine.close()


def test_the_recorded_faces_are_really_confused(corrected_engine):
    """By the trainer's own metric on the gallery's FaceNet vectors: the Kidman/Watts and
    Erdogan/Lula faces are nearer the person they were shown as; the third face is not."""
    store = corrected_engine.store
    split = split_samples(store, 2)
    corrections = read_corrections(store, set(split.people))
    gallery = store.gallery(DEFAULT_MODEL)
    vectors = dict(zip(gallery.sample_ids.tolist(), gallery.vectors))
    vectors.update({confusion_key(cid): v for cid, v in corrected_engine.confusion_vectors(DEFAULT_MODEL).items()})
    metrics = confusion_metrics(vectors, split, corrections.confusions)
    assert metrics["confusions"] == PAIRS and metrics["confusions_still_confused"] == REALLY_CONFUSED
    names = {p.id: p.name for p in store.list_people()}
    confused = {(names[c.shown_person_id], names[c.true_person_id]) for c in corrected_engine.confusions()}
    assert {("Naomi Watts", "Nicole Kidman"), ("Luiz Inacio Lula da Silva", "Recep Tayyip Erdogan")} <= confused
    assert split.held_out_count() == 16 and split.train_count() == 8 * 6 - PAIRS  # the faces left the gallery


def test_every_batch_holds_a_recorded_confused_pair_and_its_face(corrected_engine):
    split = split_samples(corrected_engine.store, 2)
    corrections = read_corrections(corrected_engine.store, set(split.people))
    assert len(corrections.pairs) == PAIRS and len(corrections.confusions) == PAIRS
    train = {p: split.train[p] + corrections.extra_train.get(p, []) for p in split.people}
    sampler = PKSampler(train, P=4, K=4, seed=0, pairs=corrections.pairs, faces=corrections.pair_faces)
    for step in range(2 * PAIRS):
        ids, labels = sampler.batch()
        shown, true = corrections.pairs[step % PAIRS]
        assert {shown, true} <= set(labels.tolist())
        assert len(set(labels.tolist())) == 4 and all((labels == p).sum() == 4 for p in set(labels.tolist()))
        face = corrections.pair_faces[step % PAIRS]
        assert ids.tolist().count(face) == 1 and labels[ids.tolist().index(face)] == true  # the confused face
        picked = ids[labels == true].tolist()
        assert len(set(picked)) == 4  # with its true person's other faces, none twice (6 to draw from)
    key = corrections.confusions[0][0]
    assert key < 0 and key in train[corrections.confusions[0][2]]  # the face joins its true person's faces


def test_a_pairs_confused_face_is_in_each_of_its_batches():
    train = {1: [10, 11, 12], 2: [20, 21, -2], 3: [30, 31], 4: [40]}
    sampler = PKSampler(train, P=3, K=4, seed=3, pairs=[(1, 2), (4, 5), (2, 1)], faces=[-2, -4, None])
    assert sampler.pairs == [(1, 2), (2, 1)] and sampler.faces == [-2, None]  # (4, 5): 5 has no faces
    for step in range(20):
        ids, labels = sampler.batch()
        assert len(ids) == 12 and {1, 2} <= set(labels.tolist())
        if step % 2 == 0:
            assert -2 in ids[labels == 2].tolist() and set(ids[labels == 2].tolist()) == {20, 21, -2}
    with pytest.raises(ValueError):
        PKSampler(train, P=2, K=2, pairs=[(1, 2)], faces=[])


@pytest.mark.slow
def test_training_with_corrections_untangles_the_recorded_confusions(corrected_engine):
    result = run_training(corrected_engine, TrainConfig(**QUICK, with_corrections=True, lfw=True))
    before, after = result.before, result.after
    print(
        f"\nconfusions still confused {before['confusions_still_confused']}/{before['confusions']} -> "
        f"{after['confusions_still_confused']}/{after['confusions']}; mean lead {before['confusion_mean_lead']} -> "
        f"{after['confusion_mean_lead']}; held-out identification {before['identification_accuracy']} -> "
        f"{after['identification_accuracy']}; LFW {before['lfw_accuracy']} -> {after['lfw_accuracy']}; "
        f"{result.steps} steps, {result.train_seconds:.0f} s"
    )
    assert result.saved and not result.collapsed
    assert before["confusions"] == after["confusions"] == PAIRS
    assert before["confusions_still_confused"] == REALLY_CONFUSED  # what the kiosk really got wrong
    assert after["confusions_still_confused"] < before["confusions_still_confused"]  # ... it no longer does
    assert after["confusion_mean_lead"] < before["confusion_mean_lead"]  # the wrong person recedes
    assert after["identification_accuracy"] >= 0.98
    assert before["lfw_accuracy"] > 0.9
    assert before["lfw_accuracy"] - after["lfw_accuracy"] <= 0.005
    assert not result.flagged


def test_a_flagged_model_is_not_activated_without_the_force_flag(corrected_engine):
    """A limit of -1 LFW point flags any model: the CLI trains, saves, and refuses --activate alone."""
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "train",
            "--P",
            "4",
            "--K",
            "2",
            "--epochs",
            "1",
            "--steps-per-epoch",
            "1",
            "--frozen-blocks",
            "4",
            "--with-corrections",
            "--activate",
            "--device",
            "cpu",
        ]
    )
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
