"""`rollcall verify` and `verify-export`: is the record what Rollcall wrote (core.app.trust_ops)."""

from __future__ import annotations

import argparse
import json

from core.app.cli.common import ExitCode, open_engine
from core.base.errors import InvalidInputError


def _key(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise InvalidInputError(
            f"{text!r} is not a public key; give the 64 hex digits `rollcall verify --show-key` prints."
        )
    return key


def cmd_verify(args: argparse.Namespace) -> int:
    """Walk this station's chain and check its signed checkpoints; exit 1 when anything was changed."""
    with open_engine(args) as engine:
        if args.show_key:
            print(engine.station_public_key().hex())
            return ExitCode.OK
        report = engine.verify_chain(_key(args.public_key))
        if args.json:
            print(json.dumps({
                "station": report.station, "clean": report.clean, "entries": report.entries, "rows": report.rows,
                "checkpoints": report.checkpoints, "public_key": report.public_key.hex(),
                "problems": [p.text() for p in report.problems],
                "rows_named": [{"table": p.table, "row_id": p.row_id, "what": p.what} for p in report.problems],
                "checkpoint_problems": [p.text() for p in report.checkpoint_problems],
            }))  # fmt: skip
        else:
            print("\n".join(report.lines()))
        return ExitCode.OK if report.clean else ExitCode.NOT_DONE


def cmd_verify_export(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        check = engine.verify_export(args.file, _key(args.public_key))
        print(f"{check.path}: {'verified' if check.ok else 'NOT verified'}: {check.reason}")
        return ExitCode.OK if check.ok else ExitCode.NOT_DONE


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("verify", help="check the tamper-evident chain and its signed checkpoints")
    p.add_argument("--public-key", help="the station's public key as the admin keeps it (default: this station's)")
    p.add_argument("--show-key", action="store_true", help="print this station's public key (to keep elsewhere)")
    p.add_argument("--json", action="store_true", help="one JSON object with the problems found")
    p.set_defaults(func=cmd_verify)
    p = subparsers.add_parser("verify-export", help="whether an export is exactly what Rollcall wrote")
    p.add_argument("file")
    p.add_argument("--public-key", help="the writing station's public key (default: this station's)")
    p.set_defaults(func=cmd_verify_export)
