"""Frames fed to recognition: read on this thread and timed, or decoded on a helper thread (the
latest frame of a live source, every frame of a file through a small queue, or a file paced at
its own timestamps). Each feed is a generator: closing it stops and joins its thread."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Iterator

from core.live.frames import Frame, FrameSource
from core.live.grabber import LatestFrameGrabber

# (frame, seconds waited for it); a generator, so a reader closes it and its thread stops
TimedFrames = Generator[tuple[Frame, float], None, None]


def timed_frames(frames: Iterator[Frame]) -> TimedFrames:
    while True:
        t0 = time.perf_counter()
        frame = next(frames, None)
        if frame is None:
            return
        yield frame, time.perf_counter() - t0


GRAB_POLL_S = 0.5  # how long a reader waits for a live frame before checking again


def decoded_frames(source: FrameSource, read_ahead: int = 4, paced: bool = False) -> TimedFrames:
    """(frame, seconds waited for it), decoded on a helper thread.

    A live or real-time paced source goes through LatestFrameGrabber: a frame that inference has
    not taken before the next one arrives is dropped, so the picture is never late. A file read as
    fast as possible goes through a queue of `read_ahead` frames: none is dropped, and decoding
    overlaps inference. paced: such a file's frames are handed out no sooner than their
    timestamps (an image folder shown as a slideshow), still every one of them.
    Closing the generator stops and joins the thread.
    """
    if source.is_live or getattr(source, "_realtime", False):
        with LatestFrameGrabber(source) as grabber:
            while True:
                t0 = time.perf_counter()
                frame = grabber.get(timeout=GRAB_POLL_S)
                if frame is not None:
                    yield frame, time.perf_counter() - t0
                elif grabber.ended or source.stopped:
                    return
        return
    frames = _read_ahead(source, read_ahead)
    yield from (_paced(frames, source) if paced else frames)


PACE_POLL_S = 0.05  # a paced reader checks this often whether the source was stopped


def _paced(frames: TimedFrames, source: FrameSource) -> TimedFrames:
    started = time.monotonic()
    try:
        for frame, waited in frames:
            t0 = time.perf_counter()
            while (due := started + frame.timestamp - time.monotonic()) > 0:
                if source.stopped:
                    return
                time.sleep(min(due, PACE_POLL_S))
            yield frame, waited + time.perf_counter() - t0
    finally:
        frames.close()


_END = object()


def _read_ahead(source: FrameSource, size: int) -> TimedFrames:
    frames: queue.Queue = queue.Queue(maxsize=max(1, size))
    stop = threading.Event()
    failure: list[BaseException] = []

    def put(item) -> bool:
        while not stop.is_set():
            try:
                frames.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for frame in source:
                if not put(frame):
                    return
        except BaseException as exc:  # handed to the consumer
            failure.append(exc)
        put(_END)

    thread = threading.Thread(target=run, name=f"decode {source.name}", daemon=True)
    thread.start()
    try:
        while True:
            t0 = time.perf_counter()
            item = frames.get()
            if item is _END:
                if failure:
                    raise failure[0]
                return
            yield item, time.perf_counter() - t0
    finally:
        stop.set()
        thread.join(5.0)
