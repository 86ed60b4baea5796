"""`rollcall models`, `calibrate` and `activate`: the embedder models and their threshold."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.app.cli.common import ExitCode, advance, open_engine, progress_bar


def cmd_models(args: argparse.Namespace) -> int:
    from core.vision.models import BUILTIN_MODELS, DEFAULT_MODEL, IMPORTED_BASE

    if args.action == "add" and not (args.name and args.file):
        print(
            "error: models add needs a new model's name and its weights: "
            "rollcall models add NAME --file WEIGHTS.pt [--size 512]",
            file=sys.stderr,
        )
        return ExitCode.ERROR
    with open_engine(args) as engine:
        if args.action == "fetch":  # the one explicit, user-started download
            from core.vision.models import ModelRegistry

            name = args.name or DEFAULT_MODEL
            path = ModelRegistry(engine.registry.cache_dir, allow_network=True).ensure_weights(name)
            print(f"{name}: ready at {path}")
            for onnx in engine.export_all_onnx():  # what CPU inference runs from
                print(f"ONNX: {onnx}")
            return ExitCode.OK
        if args.action == "export":
            if not (args.name and args.output):
                print("error: rollcall models export MODEL -o FILE.rollcall-model", file=sys.stderr)
                return ExitCode.ERROR
            print(
                f"{engine.export_model_file(args.name, args.output)}: written; install it on a kiosk with "
                "`rollcall models import FILE`"
            )
            return ExitCode.OK
        if args.action == "import":
            if not args.name:
                print("error: rollcall models import FILE.rollcall-model", file=sys.stderr)
                return ExitCode.ERROR
            record = engine.import_model_file(args.name).value
            print(f"{record.id}: installed ({record.name}); activate it with: rollcall activate {record.id}")
            return ExitCode.OK
        if args.action == "export-onnx":
            for onnx in engine.export_all_onnx(force=args.force):
                print(f"{onnx}: ready")
            return ExitCode.OK
        if args.action == "add":
            record = engine.add_model(Path(args.file), args.name, args.size, args.preprocessing)
            print(
                f"{record.id}: registered ({record.embedding_size}-d, weights {record.weights_path}); "
                f"activate it with: rollcall activate {record.id}"
            )
            return ExitCode.OK
        active = engine.active_model_id()
        for spec in BUILTIN_MODELS.values():
            state = "ready" if engine.registry.is_available(spec.name) else "not downloaded"
            mark = "*" if spec.name == active else " "
            print(f"{mark} {spec.name:<20} {spec.embedding_size}-d  {state}  {spec.title}")
        for record in engine.models():
            if record.id not in BUILTIN_MODELS:
                mark = "*" if record.id == active else " "
                origin = (
                    f"imported from {record.settings.get('source')}"
                    if record.base == IMPORTED_BASE
                    else f"fine-tuned from {record.parent_id}"
                )
                print(f"{mark} {record.id:<20} {record.embedding_size}-d  {origin}")
        from core.app.fusion_setup import status_lines

        print("\n".join(status_lines(engine)))
        return ExitCode.OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        report = engine.calibration_report(args.target_per_1000)
        if args.json:
            print(json.dumps(report.to_dict()))
        else:
            print("\n".join(report.describe()))
        return ExitCode.OK


def cmd_activate(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        with progress_bar("re-embedding") as bar:
            engine.activate_model(args.model, progress=lambda step: advance(bar, step.done, step.total))
        print(f"active model: {args.model}")
        return ExitCode.OK


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("models", help="list, fetch or import embedder models")
    p.add_argument(
        "action",
        nargs="?",
        choices=["list", "fetch", "add", "export-onnx", "export", "import"],
        default="list",
        help="export-onnx: make the ONNX files CPU inference runs from (MTCNN, each FaceNet "
        "version), needs torch, run once at setup; export MODEL -o FILE: a trained model as one "
        ".rollcall-model file; import FILE: install such a file (also on the kiosk edition)",
    )
    p.add_argument("name", nargs="?", help="fetch: a built-in model (default: the default model); add: a new name")
    p.add_argument("--file", help="with add: a state-dict .pt file")
    p.add_argument("--size", type=int, default=512, help="with add: embedding size")
    p.add_argument("--preprocessing", choices=["fixed", "prewhiten"], default="fixed")
    p.add_argument("--force", action="store_true", help="with export-onnx: export again even if the files are good")
    p.add_argument("-o", "--output", help="with export: the .rollcall-model file to write")
    p.set_defaults(func=cmd_models)

    p = subparsers.add_parser(
        "calibrate", help="strangers per 1,000 marked at the current threshold, and the threshold for a target"
    )
    p.add_argument(
        "--target-per-1000",
        type=float,
        default=None,
        help="strangers per 1,000 to aim for (default: the recognition setting)",
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(func=cmd_calibrate)

    p = subparsers.add_parser("activate", help="switch to another model version (re-embeds the gallery)")
    p.add_argument("model")
    p.set_defaults(func=cmd_activate)
