"""Frame sources: webcam, video file, network stream and image folder behind one interface.

Every source is a context manager and an iterator of `Frame`s:

    with open_source("0", on_status=print) as source:
        for frame in source:
            ...

Live sources (camera, stream) reconnect with exponential back-off when frames stop coming,
telling the user through `on_status`, and raise `SourceError` if the device never comes back.
`LatestFrameGrabber` reads a live source on a helper thread and keeps only the newest frame.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import re
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from core.base.errors import SourceError
from core.vision.images import image_suffixes_text, is_image_path

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
STREAM_OPEN_TIMEOUT_MS = 5000  # a dead stream URL fails within this time instead of hanging
STREAM_READ_TIMEOUT_MS = 5000

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


@dataclass(frozen=True)
class ReconnectPolicy:
    """How a live source retries after it stops delivering frames: delays 0.5, 1, 2, 4, 8 s."""

    max_tries: int = 5
    initial_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, attempt: int) -> float:
        """Wait before reconnect attempt `attempt` (1-based)."""
        return min(self.initial_delay_s * 2 ** (attempt - 1), self.max_delay_s)


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


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """Make any decoded frame HxWx3 uint8 BGR."""
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _redact_url(url: str) -> str:
    """Hide a password in a stream URL before it is shown or logged."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


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


class VideoFileSource(FrameSource):
    """Frames of a video file. realtime=True paces frames at the file's fps (a stand-in webcam)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        realtime: bool = False,
        stop_event: threading.Event | None = None,
        capture_factory: CaptureFactory = cv2.VideoCapture,
    ):
        self.path = Path(path).expanduser()
        super().__init__(str(self.path), stop_event)
        if not self.path.is_file():
            raise SourceError(f"Video file not found: {self.path}. Choose an existing video file.")
        with quiet_opencv():
            self._capture = capture_factory(str(self.path))
        self._pending: Frame | None = None
        self._index = 0
        self._realtime = realtime
        self._started_at = 0.0
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(
                f"Cannot open video {self.path.name}: it is not a video OpenCV can decode, or it is "
                "corrupt. Try another file or convert it to MP4 (H.264)."
            )
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps = fps if fps > 0 else None
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._frame_count = count if count > 0 else None
        self._pending = self._grab()  # a video without a single decodable frame is refused now
        if self._pending is None:
            self._capture.release()
            raise SourceError(
                f"Cannot read any frame from video {self.path.name}: the file is empty or corrupt. "
                "Try another file or convert it to MP4 (H.264)."
            )

    @property
    def fps(self) -> float | None:
        return self._fps

    @property
    def frame_count(self) -> int | None:
        return self._frame_count

    def _grab(self) -> Frame | None:
        ok, image = self._capture.read()
        if not ok or image is None:
            return None
        index = self._index
        self._index += 1
        position_s = float(self._capture.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
        if index > 0 and position_s <= 0.0:  # backend without positions: derive from fps
            position_s = index / (self._fps or 30.0)
        return Frame(index, position_s, _as_bgr(image), self.name)

    def read(self) -> Frame | None:
        if self._closed:
            return None
        if self._pending is not None:  # the first frame, read when the file was opened
            frame, self._pending = self._pending, None
        else:
            frame = self._grab()
        if frame is not None and self._realtime:
            if frame.index == 0:
                self._started_at = time.monotonic()
            wait_s = self._started_at + frame.timestamp - time.monotonic()
            if wait_s > 0:
                self._sleep(wait_s)
        return frame

    def _sleep(self, seconds: float) -> None:
        if self._stop_event is not None:
            self._stop_event.wait(seconds)
        else:
            time.sleep(seconds)

    def close(self) -> None:
        if not self._closed:
            self._capture.release()
        super().close()


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
        frame = Frame(self._index, time.monotonic() - self._opened_at, _as_bgr(image), self.name)
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
            f"Cannot open stream {self.name}. Check the address, the network and the camera's "
            "user name and password."
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


class ImageFolderSource(FrameSource):
    """The images in a folder, in name order; unreadable files are skipped with a warning."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        fps: float = 1.0,
        stop_event: threading.Event | None = None,
    ):
        self.folder = Path(folder).expanduser()
        super().__init__(str(self.folder), stop_event)
        if not self.folder.is_dir():
            raise SourceError(f"Folder not found: {self.folder}. Choose an existing image folder.")
        self.files = sorted(
            (p for p in self.folder.iterdir() if p.is_file() and is_image_path(p)),
            key=lambda p: p.name,
        )
        if not self.files:
            raise SourceError(
                f"No images ({image_suffixes_text()}) in folder {self.folder}. Choose another folder."
            )
        self._fps = float(fps) if fps and fps > 0 else 1.0
        self._position = 0  # next file to try
        self._index = 0  # next frame index
        self.skipped: list[Path] = []

    @property
    def fps(self) -> float | None:
        return self._fps

    @property
    def frame_count(self) -> int | None:
        return len(self.files)

    def read(self) -> Frame | None:
        while not self.stopped and self._position < len(self.files):
            path = self.files[self._position]
            self._position += 1
            image = _read_image_file(path)
            if image is None:
                log.warning("Skipping %s: not a readable image.", path)
                self.skipped.append(path)
                continue
            frame = Frame(self._index, self._index / self._fps, image, str(path))
            self._index += 1
            return frame
        return None


def _read_image_file(path: Path) -> np.ndarray | None:
    """Decode an image (works with non-ASCII paths on Windows, unlike cv2.imread)."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    with quiet_opencv():
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return image if image is not None and image.size else None


def _accepted_kwargs(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keep the keyword arguments `cls` accepts, so callers can pass one set for any source."""
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in kwargs.items() if k in params}


def open_source(spec: str | int | os.PathLike[str], **kwargs: Any) -> FrameSource:
    """Open a source from what the user typed or chose.

    An int or digit string -> CameraSource; rtsp/rtsps/http/https URL -> StreamSource;
    a folder -> ImageFolderSource; a file -> VideoFileSource. Keyword arguments a source does not
    take are ignored (e.g. width for a video file), so one set fits all.
    """
    if isinstance(spec, bool):
        raise SourceError("Choose a camera, a video file, an image folder or a stream URL.")
    if isinstance(spec, int):
        return CameraSource(spec, **_accepted_kwargs(CameraSource, kwargs))
    text = os.fspath(spec).strip()
    if not text:
        raise SourceError("No source chosen. Choose a camera, a video file, an image folder or a stream URL.")
    if text.isdigit():
        return CameraSource(int(text), **_accepted_kwargs(CameraSource, kwargs))
    if text.lower().startswith(STREAM_SCHEMES):
        return StreamSource(text, **_accepted_kwargs(StreamSource, kwargs))
    path = Path(text).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, **_accepted_kwargs(ImageFolderSource, kwargs))
    if path.is_file():
        return VideoFileSource(path, **_accepted_kwargs(VideoFileSource, kwargs))
    raise SourceError(
        f"No such file or folder: {text}. Choose a video file, an image folder, a camera number "
        "or a stream URL (rtsp://…)."
    )


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


class LatestFrameGrabber:
    """Reads a source on a helper thread and keeps only the newest frame (stale ones are dropped).

    get(timeout) returns the newest frame not yet returned, or None on timeout or when the source
    ended. An error in the source (e.g. SourceError after failed reconnects) is raised from get().
    close() stops and joins the thread; it does not close the source.
    """

    def __init__(self, source: FrameSource, *, join_timeout_s: float = 5.0):
        self.source = source
        self.dropped = 0  # frames replaced before anyone took them
        self._join_timeout_s = join_timeout_s
        self._condition = threading.Condition()
        self._latest: Frame | None = None
        self._error: BaseException | None = None
        self._ended = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"grab {source.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and not self.source.stopped:
                frame = self.source.read()
                if frame is None:
                    break
                with self._condition:
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = frame
                    self._condition.notify_all()
        except BaseException as exc:  # handed to the consumer in get()
            self._error = exc
        finally:
            with self._condition:
                self._ended = True
                self._condition.notify_all()

    @property
    def ended(self) -> bool:
        """True once the source has no more frames (or failed) and the newest frame was taken."""
        with self._condition:
            return self._ended and self._latest is None

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

    def get(self, timeout: float | None = None) -> Frame | None:
        with self._condition:
            self._condition.wait_for(lambda: self._latest is not None or self._ended, timeout)
            frame, self._latest = self._latest, None
            if frame is None and self._error is not None:
                error, self._error = self._error, None
                raise error
            return frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join(self._join_timeout_s)
        if self._thread.is_alive():
            log.warning("Frame reader for %s did not stop within %.1f s.", self.source.name, self._join_timeout_s)

    def __enter__(self) -> LatestFrameGrabber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
