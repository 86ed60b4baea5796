"""`rollcall events import FILE`: sightings from another terminal's log (CSV or ZKTeco) or a migration."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.app.cli.common import ExitCode, advance, open_engine, progress_bar
from core.attendance.event_import import PROBLEMS_SHOWN, LogFormat


def cmd_events(args: argparse.Namespace) -> int:
    with open_engine(args) as engine, progress_bar("import") as bar:
        steps = engine.import_events(Path(args.file), args.format, args.station, move_start=args.move_start)
        phase = None
        while True:
            try:
                step = next(steps)
            except StopIteration as done:
                result = done.value.value
                break
            if step.phase is not phase:  # bytes read, then sightings recorded
                phase = step.phase
                bar.reset()
                bar.set_description(phase.value)
            advance(bar, step.done, step.total)
    print(
        f"imported {result.file.name} ({result.log_format.value}, sha256 {result.sha256}): "
        f"{result.sightings} sightings of {result.people} people, {result.recorded} recorded, "
        f"{result.already_there} already there, {result.within_cooldown} within the cooldown"
        + (f", {result.held} held for a locked month (see `rollcall held list`)" if result.held else "")
    )
    for person_id, day in result.starts_moved:
        print(f"  start date of person {person_id} moved to {day.isoformat()} (their first sighting)")
    if result.before_start:
        print(
            f"{len(result.before_start)} lines are before their person's start date and were NOT recorded "
            "(run again with --move-start to move the start dates back to the first sighting):"
        )
        for problem in result.before_start[:PROBLEMS_SHOWN]:
            print(f"  line {problem.line}: {problem.message}")
        return ExitCode.NOT_DONE
    return ExitCode.OK


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("events", help="bring in sightings from another terminal's log or a migration")
    events_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    imports = events_sub.add_parser(
        "import",
        help="import a CSV (person,time[,station]) or a ZKTeco attendance log, all or nothing; "
        "importing the same file again adds nothing",
    )
    imports.add_argument("file", help="the log: CSV with a header, or a ZKTeco *_attlog.dat")
    imports.add_argument(
        "--format", type=LogFormat, choices=list(LogFormat), help="default: told from the file's first line"
    )
    imports.add_argument("--station", default="", help="station recorded for lines naming none (default: file name)")
    imports.add_argument(
        "--move-start",
        action="store_true",
        help="a person with sightings before their start date starts on the day of their first sighting "
        "(otherwise those lines are listed and not recorded)",
    )
    p.set_defaults(func=cmd_events)
