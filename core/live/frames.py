"""What every frame source shares: the Frame, the FrameSource interface and OpenCV helpers.

Every source is a context manager and an iterator of `Frame`s; the file sources, the live sources
(camera, stream) and `open_source` build on this module.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

StatusCallback = Callable[[str], None]


class Capture(Protocol):
    """The part of cv2.VideoCapture the sources use (a test can pass a fake)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def get(self, prop_id: int) -> float: ...
    def set(self, prop_id: int, value: float) -> bool: ...
    def release(self) -> None: ...


CaptureFactory = Callable[[Any], Capture]


@dataclass
class Frame:
    """One image from a source.

    timestamp: seconds from the source's start (video: stream position; camera/stream:
    time.monotonic() since open; image folder: index / fps).
    source: the source's name; for an image folder, the path of the image file.
    """

    index: int
    timestamp: float
    image: np.ndarray  # BGR uint8, HxWx3
    source: str


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings (camera probing prints a lot of noise on stderr)."""
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None or not hasattr(logging_api, "setLogLevel"):
        yield
        return
    previous = logging_api.getLogLevel()
    logging_api.setLogLevel(logging_api.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging_api.setLogLevel(previous)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Make any decoded frame HxWx3 uint8 BGR."""
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class FrameSource(ABC):
    """A context manager and iterator of Frames. Iteration ends when the source is exhausted,
    closed, or `stop_event` is set."""

    def __init__(self, name: str, stop_event: threading.Event | None = None):
        self._name = name
        self._stop_event = stop_event
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    @property
    @abstractmethod
    def fps(self) -> float | None: ...

    @property
    def frame_count(self) -> int | None:
        """Number of frames, or None for live sources (and where unknown)."""
        return None

    @property
    def is_live(self) -> bool:
        return False

    @property
    def stopped(self) -> bool:
        return self._closed or (self._stop_event is not None and self._stop_event.is_set())

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame, or None at the end. Live sources may raise SourceError."""

    def close(self) -> None:
        self._closed = True

    def __iter__(self) -> FrameSource:
        return self

    def __next__(self) -> Frame:
        if self.stopped:
            raise StopIteration
        frame = self.read()
        if frame is None:
            raise StopIteration
        return frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r})"
