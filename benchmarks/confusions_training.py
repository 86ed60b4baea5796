"""Retraining from recorded confusions (issue 16, part C): before and after figures on the dev faces.

The scenario of tests/kits/confusion_scenario.py: 8 dev people enrolled (FaceNet), among them the two pairs
FaceNet really mixes up; the 3 most confused photos are shown at the kiosk as the wrong person and
reassigned by HR (each leaves the gallery: a face the kiosk saw). Then `run_training` with the
corrections as hard negatives (the settings of tests/trainer/test_confusions_training.py), and the recorded
confusions, held-out identification and LFW View 1 before and after.

--control also trains the same steps without the corrections and scores the recorded faces with that
model, to tell what the corrections add over plain fine-tuning on the gallery.

    .venv/bin/python benchmarks/confusions_training.py
    .venv/bin/python benchmarks/confusions_training.py --control --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import _common  # noqa: E402  (sys.path, ROLLCALL_MODELS_DIR)

# The slow test's settings: only the head trains, a few seconds a step on 2 cores.
QUICK = dict(P=4, K=4, epochs=1, steps_per_epoch=6, frozen_blocks=7, learning_rate=1e-3, strategy="semihard")


def fresh_engine(database: Path, folder: Path, models_cache: Path):
    """An engine on a copy of `database` with its own models folder (weights, ONNX files, LFW cache linked)."""
    from core.app.engine import Engine
    from core.base.settings import ComputeSettings, Settings, StorageSettings
    from core.vision.models import DEFAULT_MODEL, ModelRegistry

    home, models = folder / "home", folder / "models"
    home.mkdir(parents=True)
    models.mkdir()
    source, target = sqlite3.connect(database), sqlite3.connect(home / "rollcall.db")
    source.backup(target)
    source.close()
    target.close()
    (models_cache / "lfw").mkdir(parents=True, exist_ok=True)
    onnx = sorted(p.name for p in models_cache.glob(f"{DEFAULT_MODEL}.*.onnx*"))  # CPU inference's files
    for name in (f"{DEFAULT_MODEL}.pt", f"{DEFAULT_MODEL}.pt.json", "lfw", *onnx):
        try:
            os.symlink(models_cache / name, models / name)
        except OSError:
            (shutil.copytree if name == "lfw" else shutil.copy)(models_cache / name, models / name)
    return Engine(
        Settings(storage=StorageSettings(data_dir=str(home)), compute=ComputeSettings(active_model=DEFAULT_MODEL)),
        registry=ModelRegistry(models),
    )


def recorded_confusions(engine, model_id: str) -> dict:
    """trainer.validate.confusion_metrics of the recorded faces under `model_id` (inference embedder)."""
    from core.vision.images import decode_jpeg
    from trainer.data import read_corrections, split_samples
    from trainer.validate import confusion_metrics

    split = split_samples(engine.store, 2)
    corrections = read_corrections(engine.store, set(split.people))
    keys = [sid for pid in split.people for sid in split.train[pid]]
    jpegs = [engine.store.sample_crop(s) for s in keys] + [corrections.faces[k] for k, _, _ in corrections.confusions]
    keys += [k for k, _, _ in corrections.confusions]
    vectors = engine.embedder(model_id).embed([decode_jpeg(j) for j in jpegs])
    return confusion_metrics(dict(zip(keys, vectors)), split, corrections.confusions)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=QUICK["steps_per_epoch"])
    parser.add_argument("--learning-rate", type=float, default=QUICK["learning_rate"])
    parser.add_argument("--frozen-blocks", type=int, default=QUICK["frozen_blocks"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--control", action="store_true", help="also train without the corrections")
    args = parser.parse_args()

    from core.app.engine import Engine
    from core.base.settings import ComputeSettings, Settings, StorageSettings
    from core.vision.models import DEFAULT_MODEL, ModelRegistry
    from tests.kits.confusion_scenario import confusable_faces, describe, enroll, record_confusions
    from trainer.job import TrainConfig, run_training

    models_cache = Path(os.environ["ROLLCALL_MODELS_DIR"])
    ModelRegistry(models_cache).ensure_weights(DEFAULT_MODEL)
    with tempfile.TemporaryDirectory(prefix="rollcall-bench-") as tmp:
        tmp = Path(tmp)
        os.environ["ROLLCALL_HOME"] = str(tmp / "home")
        started = time.perf_counter()
        engine = Engine(
            Settings(
                storage=StorageSettings(data_dir=str(tmp / "enroll")),
                compute=ComputeSettings(active_model=DEFAULT_MODEL),
            ),
            registry=ModelRegistry(models_cache),
        )
        enroll(engine, _common.FACES / "dev")
        faces = confusable_faces(engine.store, DEFAULT_MODEL)
        record_confusions(engine, faces)
        print(
            f"enrolled {engine.stats().samples + len(faces)} photos of {len(engine.store.list_people())} people "
            f"in {time.perf_counter() - started:.1f} s; recorded confusions (lead = cosine to the shown person's "
            "centroid minus to the true person's; > 0: confused):"
        )
        for line in describe(engine.store, faces):
            print("  " + line)
        database = engine.settings.database_path
        engine.close()

        for seed in args.seeds:
            for corrections in (True, False) if args.control else (True,):
                run = fresh_engine(database, tmp / f"run-{seed}-{corrections}", models_cache)
                config = TrainConfig(
                    **{
                        **QUICK,
                        "steps_per_epoch": args.steps,
                        "learning_rate": args.learning_rate,
                        "frozen_blocks": args.frozen_blocks,
                    },
                    seed=seed,
                    with_corrections=corrections,
                    lfw=True,
                    device="cpu",
                )
                started = time.perf_counter()
                result = run_training(run, config)
                total = time.perf_counter() - started
                before, after = result.before, result.after
                if not corrections and result.saved:  # the run did not read them: score them here
                    before.update(recorded_confusions(run, DEFAULT_MODEL))
                    after.update(recorded_confusions(run, result.model_id))
                label = "with corrections" if corrections else "control, without corrections"
                print(
                    f"seed {seed}, {label}: {result.steps} steps (P={config.P} K={config.K}, "
                    f"lr {config.learning_rate}, frozen blocks {config.frozen_blocks}), "
                    f"training {result.train_seconds:.1f} s, whole run {total:.1f} s"
                    + (" COLLAPSED" if result.collapsed else "")
                )
                for key, title in (
                    ("confusions_still_confused", "recorded faces still confused"),
                    ("confusion_mean_lead", "mean lead of the shown person"),
                    ("identification_accuracy", "held-out identification"),
                    ("lfw_accuracy", "LFW View 1 accuracy"),
                ):
                    print(f"  {title:32s} {before.get(key)} -> {after.get(key)}")
                if result.flagged:
                    print(f"  flagged: {result.flagged}")
                run.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
