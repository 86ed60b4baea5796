"""Reading frames for the live panels (runs in worker threads, never on the GUI thread).

Live sources (webcams, streams) and videos played in real time go through LatestFrameGrabber,
so when processing is slower than the source, stale frames are dropped instead of queueing up.
Image folders are shown as a slideshow at IMAGE_FOLDER_FPS, every image processed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Iterator

from core.base.settings import Settings
from core.live.sources import Frame, FrameSource, LatestFrameGrabber, VideoFileSource, open_source

IMAGE_FOLDER_FPS = 5.0
GRAB_POLL_S = 0.25  # how often a waiting reader checks for cancellation


def open_view_source(spec: str, settings: Settings, cancel_event: threading.Event,
                     status: deque[str] | None = None) -> FrameSource:
    """Open what the source picker chose, with the camera resolution from the settings."""
    def on_status(message: str) -> None:
        if status is not None:
            status.append(message)

    return open_source(spec, realtime=True, fps=IMAGE_FOLDER_FPS, width=settings.camera.width_px,
                       height=settings.camera.height_px, stop_event=cancel_event, on_status=on_status)


def iter_frames(source: FrameSource, cancel_event: threading.Event, idle: bool = False) -> Iterator[Frame | None]:
    """Frames until the source ends or cancel_event is set; live sources drop stale frames.

    With idle=True a live source also yields None every GRAB_POLL_S while no frame comes (e.g. while a
    lost camera reconnects), so the caller can pass status messages on without waiting for a frame.
    A SourceError from the source (it never came back) is raised here.
    """
    if source.is_live or isinstance(source, VideoFileSource):
        with LatestFrameGrabber(source) as grabber:
            while not cancel_event.is_set():
                frame = grabber.get(timeout=GRAB_POLL_S)
                if frame is not None:
                    yield frame
                elif grabber.ended:
                    return
                elif idle:
                    yield None
        return
    started = time.monotonic()
    for frame in source:  # an image folder: pace it so each image is visible for a moment
        if cancel_event.wait(max(0.0, started + frame.timestamp - time.monotonic())):
            return
        yield frame


def preload_libraries() -> None:
    """Import the face detector's libraries (torchvision via facenet-pytorch) on the calling thread.

    Loading those extension modules holds the GIL for up to ~300 ms at a time; done before the window
    shows, a worker's first detection cannot freeze the event loop.
    """
    import facenet_pytorch  # noqa: F401


class RateMeter:
    """Frames per second over a sliding window of recent frames."""

    def __init__(self, window: int = 20):
        self._times: deque[float] = deque(maxlen=window)

    def tick(self) -> float:
        now = time.perf_counter()
        self._times.append(now)
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-6)


class ImageMailbox:
    """Back-pressure between a worker and the GUI: at most `limit` frames in flight to be painted."""

    def __init__(self, limit: int = 2):
        self._limit = limit
        self._in_flight = 0
        self._lock = threading.Lock()

    def try_send(self) -> bool:
        with self._lock:
            if self._in_flight >= self._limit:
                return False
            self._in_flight += 1
            return True

    def received(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
