"""`rollcall eval`: LFW-protocol verification of the active model (a fused model beside its members)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.app.cli.common import ExitCode, advance, open_engine, progress_bar

if TYPE_CHECKING:
    from core.app.engine import Engine


def cmd_eval(args: argparse.Namespace) -> int:
    from core.app.evaluate import save_roc_plot
    from core.app.verify import evaluate_pairs

    with open_engine(args) as engine:
        with progress_bar("images") as bar:

            def progress(done: int, total: int) -> None:
                advance(bar, done, total)

            if _eval_fused(engine, args, progress, bar):  # a fused model: its members and the fusion side by side
                return ExitCode.OK
            report, notes = evaluate_pairs(engine, Path(args.pairs), Path(args.images), progress=progress)
        for note in notes:
            print(f"note: {note}")
        figures = report.to_json()
        folds = f" ({report.folds}-fold)" if report.folds else " (best threshold)"
        std = f" ± {report.accuracy_std:.4f}" if report.accuracy_std else ""
        print(f"pairs: {report.pairs}")
        print(f"accuracy{folds}: {report.accuracy:.4f}{std}")
        print(f"ROC AUC: {report.auc:.4f}")
        print(f"TAR @ FAR=1e-3: {report.tar_at_far_1e3:.4f}")
        print(f"suggested threshold: {report.threshold:.4f}")
        plot = Path(args.plot)
        save_roc_plot(report, plot, f"{engine.active_model_id()} on {Path(args.pairs).name}")
        print(f"ROC plot: {plot}")
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2))
            print(f"figures: {args.json}")
        return ExitCode.OK


def _eval_fused(engine: Engine, args: argparse.Namespace, progress: Callable[[int, int], None], bar: Any) -> bool:
    from core.app import fusion_eval

    side = fusion_eval.evaluate_side_by_side(engine, Path(args.pairs), Path(args.images), progress)
    if side is None:
        return False
    bar.close()
    for line in [*(f"note: {n}" for n in side.notes), *fusion_eval.side_by_side_lines(side)]:
        print(line)
    title = f"{engine.active_model_id()} on {Path(args.pairs).name}"
    plot = fusion_eval.save_side_by_side_plot(side, Path(args.plot), title)
    print(f"ROC plot: {plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(fusion_eval.side_by_side_json(side), indent=2))
        print(f"figures: {args.json}")
    return True


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("eval", help="evaluate the active model")
    eval_sub = p.add_subparsers(dest="protocol", required=True, metavar="PROTOCOL")
    lfw = eval_sub.add_parser("lfw", help="LFW-protocol verification on a pairs file")
    lfw.add_argument("--pairs", required=True, help="pairs.txt (View 2) or pairsDevTest.txt (View 1)")
    lfw.add_argument("--images", required=True, help="folder with <Name>/<Name>_NNNN.jpg")
    lfw.add_argument("--plot", default="roc.png", help="ROC plot PNG (default roc.png)")
    lfw.add_argument("--json", help="write the figures as JSON here")
    lfw.set_defaults(func=cmd_eval)
