"""Seconds per training epoch of `rollcall train` on this machine.

Enrolls dev people from ../shared/data/faces/dev into a temporary gallery, fine-tunes the default
model without the LFW check, and prints the time per epoch (training steps only; validation is
timed separately). Nothing is written outside a temporary folder.

    .venv/bin/python benchmarks/train_epoch.py                 # 32 people, defaults (P=8, K=4, frozen 4)
    .venv/bin/python benchmarks/train_epoch.py --frozen-blocks 0 --people 8 --epochs 1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps-per-epoch", type=int, default=None)
    parser.add_argument("--P", type=int, default=8)
    parser.add_argument("--K", type=int, default=4)
    parser.add_argument("--frozen-blocks", type=int, default=None)
    parser.add_argument("--strategy", default="semihard")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--from-scratch", action="store_true")
    parser.add_argument("--faces", default=str(REPO.parent / "shared" / "data" / "faces" / "dev"))
    args = parser.parse_args()

    models_cache = Path(os.environ.get("ROLLCALL_MODELS_DIR", REPO / ".cache" / "models"))
    with tempfile.TemporaryDirectory(prefix="rollcall-bench-") as tmp:
        os.environ["ROLLCALL_HOME"] = str(Path(tmp) / "home")
        from core.app.engine import Engine
        from core.base.settings import ComputeSettings, Settings, StorageSettings
        from core.vision.models import DEFAULT_MODEL, ModelRegistry
        from trainer.job import TrainConfig, run_training
        from trainer.network import DEFAULT_FROZEN

        weights = ModelRegistry(models_cache).ensure_weights(DEFAULT_MODEL)
        models = Path(tmp) / "models"
        models.mkdir()
        for path in (weights, weights.with_name(weights.name + ".json")):
            os.symlink(path, models / path.name)
        engine = Engine(
            Settings(
                storage=StorageSettings(data_dir=str(Path(tmp) / "home")), compute=ComputeSettings(device=args.device)
            ),
            registry=ModelRegistry(models),
        )
        started = time.perf_counter()
        people = sorted(p for p in Path(args.faces).iterdir() if p.is_dir())[: args.people]
        for person in people:
            engine.enroll_files(person.name.replace("_", " "), sorted(person.glob("*.jpg")))
        print(
            f"enrolled {engine.stats().samples} photos of {len(people)} people in {time.perf_counter() - started:.1f} s"
        )

        frozen = DEFAULT_FROZEN if args.frozen_blocks is None else args.frozen_blocks
        config = TrainConfig(
            strategy=args.strategy,
            P=args.P,
            K=args.K,
            epochs=args.epochs,
            steps_per_epoch=args.steps_per_epoch,
            frozen_blocks=frozen,
            device=args.device,
            from_scratch=args.from_scratch,
            learning_rate=1e-3 if args.from_scratch else 1e-4,
        )
        marks: dict[str, float] = {}

        def progress(p) -> None:
            marks.setdefault(f"{p.phase}:{p.message}", time.perf_counter())

        started = time.perf_counter()
        result = run_training(engine, config, on_progress=progress)
        total = time.perf_counter() - started
        engine.close()
    steps_per_epoch = result.steps / max(args.epochs, 1)
    print(
        f"device {result.device}, P={args.P} K={args.K} (batch {args.P * args.K}), frozen blocks {frozen}, "
        f"{args.strategy} mining, {steps_per_epoch:.0f} steps per epoch"
    )
    print(
        f"seconds per epoch: {result.seconds_per_epoch:.2f} "
        f"({result.train_seconds / max(result.steps, 1):.2f} s per step)"
    )
    print(f"whole run incl. validation before/after and saving: {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
