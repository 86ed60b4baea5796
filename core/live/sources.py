"""Open a frame source (webcam, video file, network stream or image folder) from what the user chose.

Every source is a context manager and an iterator of `Frame`s:

    with open_source("0", on_status=print) as source:
        for frame in source:
            ...

The sources live in their own modules: `frames` (Frame, FrameSource), `file_sources` (video file,
image folder), `live_sources` (camera, stream, reconnect policy, list_cameras) and `grabber`
(LatestFrameGrabber); their public names are re-exported here.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from core.base.errors import SourceError
from core.live.file_sources import ImageFolderSource, VideoFileSource
from core.live.frames import Capture, CaptureFactory, Frame, FrameSource, StatusCallback, quiet_opencv
from core.live.grabber import LatestFrameGrabber
from core.live.live_sources import STREAM_SCHEMES, CameraSource, ReconnectPolicy, StreamSource, list_cameras

__all__ = [
    "CameraSource",
    "Capture",
    "CaptureFactory",
    "Frame",
    "FrameSource",
    "ImageFolderSource",
    "LatestFrameGrabber",
    "ReconnectPolicy",
    "StatusCallback",
    "StreamSource",
    "VideoFileSource",
    "list_cameras",
    "open_source",
    "quiet_opencv",
]


def _accepted_kwargs(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keep the keyword arguments `cls` accepts, so callers can pass one set for any source."""
    params = inspect.signature(cls).parameters
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
