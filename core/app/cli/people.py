"""`rollcall enroll`, `import`, `people`, `delete` and `identify`: who is in the gallery."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.app.cli.common import ExitCode, advance, open_engine, print_report, progress_bar
from core.base.errors import DuplicateNameError, RollcallError


def cmd_enroll(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        group = engine.find_group(args.group) if args.group else None  # a wrong name enrolls nobody
        try:
            report = engine.enroll_files(
                args.name,
                [Path(p) for p in args.images],
                external_id=args.external_id,
                add_to_existing=args.add,
                allow_duplicate=args.separate,
            ).value
        except DuplicateNameError as exc:
            print(
                f"error: {exc}\n  use --add to add the photos to them, or --separate for a new person "
                "with the same name",
                file=sys.stderr,
            )
            return ExitCode.ERROR
        print_report(report)
        if group is not None:
            for person_id in report.person_ids.values():
                engine.assign_group(person_id, group.id)
            print(f"group: {group.name}")
        return ExitCode.OK if report.samples_added or report.skipped_duplicates else ExitCode.NOT_DONE


def cmd_import(args: argparse.Namespace) -> int:
    from core.gallery.enroll import EnrollReport

    with open_engine(args) as engine:
        report = EnrollReport()  # an empty folder: nothing enrolled
        with progress_bar("import") as bar:
            for step in engine.import_folder(Path(args.folder)):
                advance(bar, step.done, step.total, Path(step.current).name if step.current else "")
                report = step.report
        print_report(report)
        return ExitCode.OK


def cmd_people(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        people = engine.people(search=args.search, include_inactive=args.all)
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "id": o.person.id,
                            "name": o.person.name,
                            "external_id": o.person.external_id,
                            "samples": o.samples,
                            "derived": o.derived,
                            "active": o.person.active,
                        }
                        for o in people
                    ]
                )
            )
            return ExitCode.OK
        for o in people:
            ext = f" [{o.person.external_id}]" if o.person.external_id else ""
            derived = f", {o.derived} derived" if o.derived else ""
            print(f"{o.person.id:>5}  {o.person.name}{ext}  ({o.samples} samples{derived})")
        print(f"{len(people)} people")
        return ExitCode.OK


def cmd_delete(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        person = engine.find_person(args.person)
        if not args.yes:
            if not sys.stdin.isatty():
                print(f"error: refusing to delete {person.name} (id {person.id}) without --yes", file=sys.stderr)
                return ExitCode.ERROR
            print(
                "Erasure removes the person, their photos and every attendance record, backups included (the right "
                f"to be forgotten). To keep a leaver's record and timesheets, archive instead: "
                f"rollcall person {person.id} --archive LAST_DAY"
            )
            if input(f"Delete {person.name} (id {person.id}) and all their photos? [y/N] ").strip().lower() != "y":
                print("nothing deleted")
                return ExitCode.NOT_DONE
        removed = engine.delete_person(person.id).value
        print(f"deleted {person.name}: {removed.samples} samples, {removed.events} events")
        for problem in removed.problems():
            print(f"warning: {problem}", file=sys.stderr)
        return ExitCode.OK if removed.fully_erased else ExitCode.NOT_DONE


def cmd_identify(args: argparse.Namespace) -> int:
    from core.vision.images import load_image

    with open_engine(args) as engine:
        matcher = engine.matcher()
        status = 0
        for path in args.images:
            try:
                rgb = load_image(path)
            except RollcallError as exc:
                print(f"error: {exc}", file=sys.stderr)
                status = 1
                continue
            faces = engine.detector.detect(rgb)
            from core.vision.fused import model_input

            embedder = engine.embedder()
            results = matcher.match(embedder.embed([model_input(embedder, rgb, f) for f in faces])) if faces else []
            if not faces and not args.json:
                print(f"{path}: no face found")
            for face, result in zip(faces, results, strict=False):
                box = [round(float(v), 1) for v in face.box]
                if args.json:
                    print(
                        json.dumps(
                            {
                                "image": str(path),
                                "box": box,
                                "person": result.name,
                                "person_id": result.person_id,
                                "similarity": round(result.similarity, 4),
                            }
                        )
                    )
                else:
                    who = result.name if result.is_known else "unknown"
                    print(f"{path}: {who} (similarity {result.similarity:.3f}) at {box}")
        return status


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("enroll", help="enroll one person from photos")
    p.add_argument("name")
    p.add_argument("images", nargs="+", help="photo files of this person")
    p.add_argument("--external-id", help="employee or student number")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--add", action="store_true", help="add the photos to the person with this name")
    group.add_argument("--separate", action="store_true", help="enroll a second person with the same name")
    p.add_argument("--group", help="the group (and so the schedule) the person belongs to")
    p.set_defaults(func=cmd_enroll)

    p = subparsers.add_parser("import", help="import a folder with one sub-folder of photos per person")
    p.add_argument("folder")
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser("people", help="list enrolled people")
    p.add_argument("--search")
    p.add_argument("--all", action="store_true", help="include inactive people")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_people)

    p = subparsers.add_parser(
        "delete",
        help="erase a person with their photos, embeddings and events (a leaver whose timesheets stay: "
        "`rollcall person NAME --archive LAST_DAY`)",
    )
    p.add_argument("person", help="name or id")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_delete)

    p = subparsers.add_parser("identify", help="identify every face in photos")
    p.add_argument("images", nargs="+")
    p.add_argument("--json", action="store_true", help="one JSON object per face")
    p.add_argument("--threshold", type=float, help="match threshold (default: settings)")
    p.set_defaults(func=cmd_identify)
