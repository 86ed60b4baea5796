"""Live sources: a webcam or a network stream, reconnecting with exponential back-off when frames stop.

They tell the user through `on_status` while they retry, and raise `SourceError` if the device never
comes back. `list_cameras` probes which camera indices open.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.base.errors import SourceError
from core.live.frames import Capture, CaptureFactory, Frame, FrameSource, StatusCallback, as_bgr, quiet_opencv

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
STREAM_OPEN_TIMEOUT_MS = 5000  # a dead stream URL fails within this time instead of hanging
STREAM_READ_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class ReconnectPolicy:
    """How a live source retries after it stops delivering frames: delays 0.5, 1, 2, 4, 8 s."""

    max_tries: int = 5
    initial_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, attempt: int) -> float:
        """Wait before reconnect attempt `attempt` (1-based)."""
        return min(self.initial_delay_s * 2 ** (attempt - 1), self.max_delay_s)


def _redact_url(url: str) -> str:
    """Hide a password in a stream URL before it is shown or logged."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


class _LiveCaptureSource(FrameSource):
    """A camera or stream read through a capture, reconnecting with back-off when it drops."""

    kind = "Source"  # shown to the user: "Camera lost, reconnecting…"

    def __init__(
        self,
        target: int | str,
        name: str,
        *,
        capture_factory: CaptureFactory,
        reconnect: ReconnectPolicy | None,
        on_status: StatusCallback | None,
        stop_event: threading.Event | None,
    ):
        super().__init__(name, stop_event)
        self._target = target
        self._capture_factory = capture_factory
        self.reconnect_policy = reconnect or ReconnectPolicy()
        self._on_status = on_status
        self._index = 0
        self._lock = threading.Lock()  # read() and close() may come from different threads
        self._capture: Capture | None = self._open_capture()
        if self._capture is None:
            raise SourceError(self._open_failed_message())
        self._opened_at = time.monotonic()
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps = fps if 0 < fps < 1000 else None

    @abstractmethod
    def _open_failed_message(self) -> str: ...

    def _configure(self, capture: Capture) -> None:
        """Set resolution and similar after each (re)open."""

    def _open_capture(self) -> Capture | None:
        with quiet_opencv():
            capture = self._capture_factory(self._target)
            if not capture.isOpened():
                capture.release()
                return None
            self._configure(capture)
        return capture

    @property
    def fps(self) -> float | None:
        return self._fps

    @property
    def is_live(self) -> bool:
        return True

    def _status(self, message: str) -> None:
        log.info("%s: %s", self.name, message)
        if self._on_status is not None:
            try:
                self._on_status(message)
            except Exception:  # a broken UI callback must not kill the capture
                log.exception("on_status callback failed")

    def _wait(self, seconds: float) -> None:
        """Sleep in short slices, waking early when stopped or closed (even from another thread)."""
        deadline = time.monotonic() + seconds
        while not self.stopped:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 0.05))

    def _read_image(self) -> np.ndarray | None:
        with self._lock:
            if self._capture is None or self._closed:
                return None
            ok, image = self._capture.read()
        return image if ok and image is not None and image.size else None

    def read(self) -> Frame | None:
        if self.stopped:
            return None
        image = self._read_image()
        if image is None and not self.stopped:
            image = self._reconnect()
        if image is None:
            return None  # stopped or closed while reconnecting
        frame = Frame(self._index, time.monotonic() - self._opened_at, as_bgr(image), self.name)
        self._index += 1
        return frame

    def _reconnect(self) -> np.ndarray | None:
        """Reopen the capture with exponential back-off; SourceError if it never comes back."""
        with self._lock:
            if self._capture is not None:
                self._capture.release()
                self._capture = None
        tries = self.reconnect_policy.max_tries
        for attempt in range(1, tries + 1):
            self._status(f"{self.kind} lost, reconnecting (try {attempt} of {tries})…")
            self._wait(self.reconnect_policy.delay(attempt))
            if self.stopped:
                return None
            capture = self._open_capture()
            if capture is None:
                continue
            with self._lock:
                if self._closed:
                    capture.release()
                    return None
                self._capture = capture
            image = self._read_image()
            if image is not None:
                self._status(f"{self.kind} reconnected.")
                return image
            with self._lock:
                capture.release()
                self._capture = None
        self._status(f"{self.kind} lost; gave up after {tries} tries.")
        raise SourceError(self._gave_up_message(tries))

    def _gave_up_message(self, tries: int) -> str:
        return (
            f"{self.kind} {self.name} stopped delivering frames and did not come back after "
            f"{tries} tries. Check the connection, then start again."
        )

    def close(self) -> None:
        with self._lock:
            if self._capture is not None:
                self._capture.release()
                self._capture = None
            super().close()


class CameraSource(_LiveCaptureSource):
    """A webcam by OpenCV index. width/height request a resolution (the camera may differ)."""

    kind = "Camera"

    def __init__(
        self,
        index: int,
        width: int | None = None,
        height: int | None = None,
        *,
        on_status: StatusCallback | None = None,
        reconnect: ReconnectPolicy | None = None,
        stop_event: threading.Event | None = None,
        capture_factory: CaptureFactory | None = None,
    ):
        self.index = int(index)
        self._width, self._height = width, height
        super().__init__(
            self.index,
            f"camera {self.index}",
            capture_factory=capture_factory or _default_camera_capture,
            reconnect=reconnect,
            on_status=on_status,
            stop_event=stop_event,
        )

    def _open_failed_message(self) -> str:
        return f"No camera at index {self.index}. Connect a webcam or choose a video file."

    def _gave_up_message(self, tries: int) -> str:
        return (
            f"Camera {self.index} stopped delivering frames and did not come back after {tries} "
            "tries. Check the webcam's cable (or close other apps using it), then start again."
        )

    def _configure(self, capture: Capture) -> None:
        if self._width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, float(self._width))
        if self._height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, float(self._height))
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1.0)  # fewer stale frames where supported


class StreamSource(_LiveCaptureSource):
    """A network stream (rtsp://, http(s):// MJPEG or HLS). Passwords in the URL are never shown."""

    kind = "Stream"

    def __init__(
        self,
        url: str,
        *,
        on_status: StatusCallback | None = None,
        reconnect: ReconnectPolicy | None = None,
        stop_event: threading.Event | None = None,
        capture_factory: CaptureFactory | None = None,
    ):
        self.url = url
        super().__init__(
            url,
            _redact_url(url),
            capture_factory=capture_factory or _default_stream_capture,
            reconnect=reconnect,
            on_status=on_status,
            stop_event=stop_event,
        )

    def _open_failed_message(self) -> str:
        return (
            f"Cannot open stream {self.name}. Check the address, the network and the camera's user name and password."
        )


def _default_camera_capture(index: int) -> Capture:
    if sys.platform == "win32":  # DirectShow opens much faster than MSMF on Windows
        return cv2.VideoCapture(index, cv2.CAP_DSHOW)
    return cv2.VideoCapture(index)


def _default_stream_capture(url: str) -> Capture:
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_OPEN_TIMEOUT_MS,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_READ_TIMEOUT_MS,
    ]  # fmt: skip
    try:
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    except cv2.error:  # builds without FFmpeg: let OpenCV pick a backend
        return cv2.VideoCapture(url)


def list_cameras(max_index: int = 5, capture_factory: CaptureFactory | None = None) -> list[int]:
    """Indices 0..max_index that open as a camera, probed quietly."""
    factory = capture_factory or _default_camera_capture
    found: list[int] = []
    on_linux = capture_factory is None and sys.platform.startswith("linux")
    with quiet_opencv():
        for index in range(max_index + 1):
            if on_linux and not Path(f"/dev/video{index}").exists():
                continue  # no device node: skip the slow open attempt
            capture = factory(index)
            try:
                if capture.isOpened():
                    found.append(index)
            finally:
                capture.release()
    return found
