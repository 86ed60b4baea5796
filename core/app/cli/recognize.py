"""`rollcall recognize`: the live pipeline on a camera, video file, URL or image folder."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from core.app.cli.common import ExitCode, advance, open_engine, progress_bar
from core.app.cli.integrations import final_delivery

if TYPE_CHECKING:
    from core.app.engine import Engine
    from core.live.recognize import FrameResult


def cmd_recognize(args: argparse.Namespace) -> int:
    from core.base.records import EventKind

    stop = threading.Event()
    with open_engine(args) as engine:
        if engine.start_site_sync():
            print(
                f"[site] syncing with {engine.site_status(check_server=False).server} in the background",
                file=sys.stderr,
            )
        if engine.start_integration_delivery():
            print("[integrations] delivering in the background", file=sys.stderr)
        camera = engine.settings.camera
        source_spec = args.source or camera.last_source or str(camera.index)
        with (
            engine.open_source(
                source_spec, stop_event=stop, on_status=lambda msg: print(f"[source] {msg}", file=sys.stderr)
            ) as source,
            _faces_log(args.faces_csv) as log_faces,
        ):
            marked = 0
            asked = _challenge_prompts()
            with progress_bar("frames", source.frame_count or None) as bar:
                try:
                    # Nobody answers "Are you NAME?" at a terminal: the uncertain band counts as unknown.
                    options = dataclasses.replace(engine.settings.recognition, ask_when_uncertain=False)
                    for result in engine.recognize(source, options):
                        log_faces(result)
                        for prompt in asked(result):
                            bar.write(prompt, file=sys.stderr)
                        for event in result.events:
                            who = event.person_name or "unknown"
                            if event.kind is not EventKind.UNKNOWN:
                                marked += 1
                            bar.write(
                                f"{event.time:%Y-%m-%d %H:%M:%S} {event.kind:<9} {who} ({event.similarity:.2f})",
                                file=sys.stdout,
                            )
                        advance(bar, result.frame.index + 1)
                        if args.max_frames and result.frame.index + 1 >= args.max_frames:
                            break
                except KeyboardInterrupt:
                    stop.set()
        print(f"{marked} marked")
        if engine.site.joined:
            engine.stop_site_sync()
            _final_sync(engine)
        final_delivery(engine)
        return ExitCode.OK


FACES_CSV_COLUMNS = ("frame", "time_s", "track", "state", "person_id", "name", "similarity", "x1", "y1", "x2", "y2")


def _challenge_prompts() -> Callable[[FrameResult], list[str]]:
    """The liveness challenge's prompts, each step once, for the person at the camera."""
    shown: set[tuple[int, int]] = set()  # (track id, step)

    def new_prompts(result: FrameResult) -> list[str]:
        lines = []
        for face in result.faces:
            prompt = face.challenge
            if prompt is not None and (face.track_id, prompt.step) not in shown:
                shown.add((face.track_id, prompt.step))
                lines.append(
                    f"[liveness] {face.name or 'unknown'}: {prompt.move.value.replace('_', ' ')} "
                    f"(step {prompt.step + 1} of {prompt.steps}, {prompt.remaining_s:.0f} s left)"
                )
        return lines

    return new_prompts


@contextlib.contextmanager
def _faces_log(path: str | None) -> Iterator[Callable[[FrameResult], None]]:
    """`recognize --faces-csv`: one row per face shown on each frame (what the kiosk saw, for checking)."""
    if not path:
        yield lambda result: None
        return
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(FACES_CSV_COLUMNS)

        def write(result: FrameResult) -> None:
            for face in result.faces:
                writer.writerow(
                    [
                        result.frame.index,
                        f"{result.frame.timestamp:.3f}",
                        face.track_id,
                        face.state,
                        "" if face.person_id is None else face.person_id,
                        face.name or "",
                        f"{face.similarity:.4f}",
                        *(f"{v:.1f}" for v in face.box[:4]),
                    ]
                )

        yield write


def _final_sync(engine: Engine) -> None:
    """One more sync at the end of `recognize`; a server that is away only leaves events queued."""
    from core.site.connection import SiteError

    try:
        report = engine.sync_site_now().value
        print(f"[site] sent {report.uploaded} events; {report.queue_left} queued", file=sys.stderr)
    except SiteError as exc:
        queued = engine.site_status(check_server=False).queue
        print(f"[site] {exc} {queued} events queued on this station.", file=sys.stderr)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("recognize", help="run recognition on a camera, video file, URL or image folder")
    p.add_argument(
        "source",
        nargs="?",
        default="",
        help="camera index (0), video file, rtsp/http URL or image folder "
        "(default: the last source used, else the camera in the settings)",
    )
    p.add_argument("--max-frames", type=int, default=0)
    p.add_argument(
        "--liveness",
        action="store_true",
        help="everyone recognised turns their head as asked before being marked (the liveness "
        "challenge: refuses photos and screens held up to the camera; liveness.challenge)",
    )
    p.add_argument(
        "--photo-filter",
        action="store_true",
        help="the passive photo filter alone: mark only faces that do not move like a flat picture "
        "(a first filter: it lets most printed photos through; liveness.photo_filter)",
    )
    p.add_argument("--threshold", type=float)
    p.add_argument(
        "--faces-csv",
        metavar="FILE",
        help="write every face shown on every frame to this CSV (" + ", ".join(FACES_CSV_COLUMNS) + ")",
    )
    p.set_defaults(func=cmd_recognize)
