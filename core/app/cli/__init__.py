"""The `rollcall` command: enrollment, recognition, reports and evaluation from a terminal.

Each area's module holds its commands' handlers and its `add_parser(subparsers)`; this one puts the
parser together (with the plugin commands, such as the trainer's `train`) and runs the command.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from core.app.cli import (
    attendance,
    backup,
    config,
    evaluate,
    events,
    hr,
    hr_edit,
    integrations,
    models,
    people,
    recognize,
    review,
    shifts,
    site,
    trust,
)
from core.app.cli.common import ExitCode
from core.base.errors import RollcallError, StoreError
from core.base.settings import Device

log = logging.getLogger("rollcall")


# in the order --help lists them
AREAS = (
    people,
    recognize,
    attendance,
    events,
    review,
    hr,
    hr_edit,
    shifts,
    site,
    integrations,
    trust,
    evaluate,
    models,
    backup,
    config,
)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser. Plugin commands (the trainer's `train`) are loaded only when `argv` asks for a
    command that is not built in, or for help: importing the trainer costs a kiosk command its start-up."""
    parser = argparse.ArgumentParser(prog="rollcall", description="Face-recognition attendance.")
    parser.add_argument("--home", help="data folder (default: ROLLCALL_HOME or the user data folder)")
    parser.add_argument("--device", choices=list(Device), help="compute device")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for area in AREAS:
        area.add_parser(sub)
    if _requested_command(argv) not in sub.choices:
        for register in command_plugins():
            register(sub)
    return parser


def _requested_command(argv: list[str] | None) -> str | None:
    """The sub-command named in argv (skipping global options and their values), or None."""
    argv = sys.argv[1:] if argv is None else argv
    with_value = {"--home", "--device"}
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in with_value:
            skip = True
        elif token.startswith("-"):
            continue
        else:
            return token
    return None


PLUGIN_GROUP = "rollcall.commands"


def command_plugins() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], object]]:
    """Commands contributed by installed packages (the trainer's `train`) through entry points.

    The core never imports the trainer: the full edition declares it in pyproject.toml, and the
    kiosk edition, which has no trainer, simply has no such entry point.
    """
    from importlib.metadata import entry_points

    plugins = []
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            plugins.append(entry.load())
        except ImportError as exc:  # a partial install: say so, keep the other commands
            logging.getLogger(__name__).warning("Command plugin %s unavailable: %s", entry.name, exc)
    return plugins


def is_command_line(args: list[str]) -> bool:
    """Whether an installed app's arguments ask for the command line (a command, or help) rather than
    the window (no arguments, --kiosk, --self-test). Decided before Qt is imported."""
    return bool(args) and (not args[0].startswith("-") or args[0] in ("-h", "--help", "--version"))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.home:
        os.environ["ROLLCALL_HOME"] = str(Path(args.home).expanduser())
    try:
        return int(args.func(args) or ExitCode.OK)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.kind.restore_helps:
            print("  to restore the newest automatic backup: rollcall restore", file=sys.stderr)
        return ExitCode.ERROR
    except RollcallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
