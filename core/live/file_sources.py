"""Sources read from disk: a video file (optionally paced in real time) and a folder of images."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from core.base.errors import SourceError
from core.live.frames import CaptureFactory, Frame, FrameSource, as_bgr, quiet_opencv
from core.vision.images import image_suffixes_text, is_image_path

log = logging.getLogger(__name__)


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
        return Frame(index, position_s, as_bgr(image), self.name)

    def read(self) -> Frame | None:
        if self._closed:
            return None
        frame: Frame | None
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
            raise SourceError(f"No images ({image_suffixes_text()}) in folder {self.folder}. Choose another folder.")
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
