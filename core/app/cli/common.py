"""What every command shares: opening the Engine, dates on the command line, progress bars, printing
an enrollment report, and the exit codes."""

from __future__ import annotations

import argparse
import enum
import sys
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.app.engine import Engine
    from core.gallery.enroll import EnrollReport


class ExitCode(enum.IntEnum):
    OK = 0
    NOT_DONE = 1  # nothing (or not everything) was done: no photo enrolled, a file unreadable, a delete declined
    ERROR = 2  # refused: a wrong argument, a duplicate name, a RollcallError
    SITE_ERROR = 3  # the site server refused or could not be reached; events stay queued
    INTERRUPTED = 130  # Ctrl+C


def open_engine(args: argparse.Namespace) -> Engine:
    """The Engine on the saved settings, with the command's overrides (--threshold, --device, --liveness,
    --photo-filter); housekeeping problems are printed as warnings."""
    from core.app.engine import Engine
    from core.base.settings import Settings

    settings = Settings.load()
    if getattr(args, "threshold", None) is not None:
        settings.recognition.match_threshold = args.threshold
    if getattr(args, "device", None):
        settings.compute.device = args.device
    if getattr(args, "liveness", False):
        settings.liveness.challenge = True  # everyone recognised answers the head-movement challenge
    if getattr(args, "photo_filter", False):
        settings.liveness.photo_filter = True
    engine = Engine(settings)
    for problem in engine.housekeeping_status.problems():
        print(f"warning: {problem}", file=sys.stderr)
    return engine


def parse_day(text: str) -> date:
    if text == "today":
        return date.today()
    if text == "yesterday":
        return date.today() - timedelta(days=1)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD, today or yesterday") from None


def progress_bar(label: str, total: int | None = None) -> Any:
    """A tqdm progress bar on stderr; left out when stderr is not a terminal (logs stay clean)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, file=sys.stderr, disable=None, dynamic_ncols=True, leave=False)


def advance(bar: Any, done: int, total: int | None = None, extra: str = "") -> None:
    if total is not None:
        bar.total = total
    bar.update(done - bar.n)
    if extra:
        bar.set_postfix_str(extra, refresh=False)


def print_report(report: EnrollReport) -> None:
    """An enrollment report: who was enrolled, what was added or refused."""
    for name in report.people_added:
        print(f"enrolled: {name}")
    print(
        f"samples added: {report.samples_added}, already in the gallery: {report.skipped_duplicates}, "
        f"refused: {len(report.refused)}"
    )
    for refusal in report.refused:
        print(f"  refused ({refusal.reason}): {refusal.message}")
    for warning in report.warnings:
        print(f"  warning: {warning}")
