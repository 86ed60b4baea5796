"""`rollcall backup` and `restore`: copies of the database."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.app.cli.common import ExitCode, open_engine


def cmd_backup(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        target = engine.backup(Path(args.out) if args.out else None).value
    print(f"backup written to {target}")
    return ExitCode.OK


def cmd_restore(args: argparse.Namespace) -> int:
    from core.app.engine import Engine
    from core.base.settings import Settings

    restored = Engine.restore(Settings.load(), Path(args.backup) if args.backup else None)
    print(f"restored {restored.backup}; the previous database file is kept as {restored.previous_kept_as}")
    return ExitCode.OK


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("backup", help="write a backup copy of the database now")
    p.add_argument("out", nargs="?", help="file to write (default: the backups folder)")
    p.set_defaults(func=cmd_backup)

    p = subparsers.add_parser("restore", help="replace the database with a backup (the current file is kept)")
    p.add_argument("backup", nargs="?", help="backup file (default: the newest automatic backup)")
    p.set_defaults(func=cmd_restore)
