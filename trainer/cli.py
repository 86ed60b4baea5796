"""`rollcall train`: fine-tune the active model on the gallery from a terminal.

core/cli.py calls `add_train_parser(subparsers)`; the parser's `func` opens the engine and calls
`run_train(args, engine)`, which tests can also call with an engine of their own.
"""

from __future__ import annotations

import argparse
import sys

from core.base.settings import Device

from .config import Optimizer, TrainConfig
from .job import TrainResult, training
from .mining import STRATEGIES
from .network import DEFAULT_FROZEN, MAX_FROZEN, STAGE_NAMES
from .progress import TrainPhase, TrainProgress, drive
from .versions import activate


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    defaults = TrainConfig()
    p = subparsers.add_parser(
        "train",
        help="fine-tune the face model on the enrolled people (triplet loss)",
        description="Fine-tune the active model with FaceNet's triplet loss on the enrolled people, "
        "validate it on each person's held-out photos (and LFW View 1), and save it as a new "
        "model version. The new version is used only after `rollcall activate` (or --activate).",
    )
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default=defaults.strategy,
        help="triplet mining (default %(default)s; 'hard' can collapse the model early on)",
    )
    p.add_argument(
        "--P", "-P", dest="P", type=int, default=defaults.P, help="identities per batch (default %(default)s)"
    )
    p.add_argument("--K", "-K", dest="K", type=int, default=defaults.K, help="faces per identity (default %(default)s)")
    p.add_argument("--margin", type=float, default=defaults.margin, help="triplet margin alpha (default %(default)s)")
    p.add_argument("--lr", type=float, default=defaults.learning_rate, help="learning rate (default %(default)s)")
    p.add_argument("--optimizer", type=Optimizer, choices=list(Optimizer), default=defaults.optimizer)
    p.add_argument("--epochs", type=int, default=defaults.epochs, help="default %(default)s")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="batches per epoch (default: photos / (P*K))")
    p.add_argument(
        "--frozen-blocks",
        type=int,
        default=DEFAULT_FROZEN,
        choices=range(0, MAX_FROZEN + 1),
        metavar=f"0..{MAX_FROZEN}",
        help=f"early stages to freeze (default %(default)s = up to {STAGE_NAMES[DEFAULT_FROZEN - 1]})",
    )
    p.add_argument(
        "--held-out",
        type=int,
        default=defaults.held_out_per_person,
        help="photos per person kept for validation (default %(default)s)",
    )
    p.add_argument("--base-model", help="model to start from (default: the active model)")
    p.add_argument("--from-scratch", action="store_true", help="start from random weights")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument(
        "--device",
        dest="train_device",
        type=Device,
        choices=list(Device),
        default=None,
        help="training device (default: the global --device or the settings)",
    )
    p.add_argument("--no-lfw", action="store_true", help="skip the LFW View 1 forgetting check")
    p.add_argument("--lfw-dir", help="LFW View 1 folder (pairsDevTest.txt and images/)")
    p.add_argument("--activate", action="store_true", help="activate the new model when training succeeds")
    p.add_argument(
        "--with-corrections",
        action="store_true",
        help="learn from recorded confusions (hard negatives) and faces confirmed at the kiosk",
    )
    p.add_argument(
        "--activate-anyway",
        "--force",
        dest="activate_anyway",
        action="store_true",
        help="with --activate: activate even a model flagged for forgetting LFW faces",
    )
    p.set_defaults(func=_cmd_train)
    return p


def _cmd_train(args) -> int:
    from core.app.engine import Engine
    from core.base.settings import Settings

    settings = Settings.load()
    if getattr(args, "device", None):
        settings.compute.device = args.device
    with Engine(settings) as engine:
        return run_train(args, engine)


def config_from_args(args, engine=None) -> TrainConfig:
    device = getattr(args, "train_device", None) or getattr(args, "device", None)
    if not device and engine is not None:
        device = engine.settings.compute.device
    return TrainConfig(
        strategy=args.strategy,
        P=args.P,
        K=args.K,
        margin=args.margin,
        learning_rate=args.lr,
        optimizer=args.optimizer,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        frozen_blocks=args.frozen_blocks,
        held_out_per_person=args.held_out,
        device=device or Device.AUTO,
        seed=args.seed,
        base_model=args.base_model,
        from_scratch=args.from_scratch,
        lfw=not args.no_lfw,
        lfw_dir=args.lfw_dir,
        with_corrections=getattr(args, "with_corrections", False),
    )


def results_table(result: TrainResult) -> str:
    rows = result.results()
    width = max((len(row.label) for row in rows), default=10)
    lines = [f"{'':<{width}}  {'before':>10}  {'after':>10}  {'change':>9}"]
    lines += [f"{row.label:<{width}}  {row.before:>10}  {row.after:>10}  {row.change:>9}" for row in rows]
    return "\n".join(lines)


def progress_line(progress: TrainProgress) -> str | None:
    """The terminal line for one progress report (None: not worth a line)."""
    if progress.phase == TrainPhase.TRAIN:
        return (
            f"epoch {progress.epoch} step {progress.step}/{progress.total_steps}  loss {progress.loss:.4f}  "
            f"active {progress.active_fraction * 100:5.1f}%  d(a,p) {progress.mean_d_ap:.3f}  "
            f"d(a,n) {progress.mean_d_an:.3f}  spread {progress.distance_spread:.3f}"
        )
    every_20th_batch = progress.step % 320 == 0 or progress.step == progress.total_steps
    if progress.phase == TrainPhase.LFW and progress.total_steps and not every_20th_batch:
        return None  # every 20th detection batch is enough
    return progress.message or None


def run_train(args, engine, out=None) -> int:
    out = out or sys.stdout
    config = config_from_args(args, engine)

    def show(progress: TrainProgress) -> None:
        line = progress_line(progress)
        if line:
            print(line, file=out, flush=True)

    result = drive(training(engine, config), show)
    for warning in result.warnings:
        print(f"warning: {warning}", file=out)
    print(file=out)
    print(results_table(result), file=out)
    print(file=out)
    if result.collapsed:
        print(f"error: {result.message}", file=out)
        return 1
    print(
        f"{result.message} ({result.steps} steps, {result.seconds_per_epoch:.1f} s per epoch on {result.device})",
        file=out,
    )
    if result.flagged:
        print(f"warning: {result.flagged}", file=out)
    if args.activate and result.flagged and not getattr(args, "activate_anyway", False):
        print(
            f"not activated: {result.model_id} is flagged; check it, then `rollcall activate {result.model_id}` "
            "or train again with --activate-anyway",
            file=out,
        )
        return 1
    if args.activate and result.model_id is not None:
        activate(engine, result.model_id)
        print(f"active model: {result.model_id}", file=out)
    return 0
