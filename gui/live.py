"""Helpers for the live panels' workers: frame rate, back-pressure, and preloading libraries.

Frames are read by core (Engine.open_source, core.live.frame_feed.decoded_frames), never here.
"""

from __future__ import annotations

import threading
import time
from collections import deque


def preload_libraries(device: str = "cpu") -> None:
    """Import the face detector's extension modules on the calling thread: ONNX Runtime on the CPU,
    facenet-pytorch (torch, torchvision) on a GPU or where onnxruntime is missing.

    Loading them holds the GIL for up to ~300 ms at a time; done before the window shows, a worker's
    first detection cannot freeze the event loop.
    """
    from core.vision.runtime import onnxruntime_available

    if device == "cpu" and onnxruntime_available():
        import onnxruntime  # noqa: F401
    else:
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


class StageMeter:
    """Per-frame work as a person can read it at 30 frames/s: the mean time per frame over recent frames,
    and the detector's own time on the frames that ran it (the tracker carries faces in between, so most
    frames take under a millisecond and one frame's figure says little)."""

    def __init__(self, window: int = 60):
        self._totals: deque[float] = deque(maxlen=window)
        self._detects: deque[float] = deque(maxlen=max(window // 8, 4))

    def add(self, timings: dict[str, float]) -> None:
        if "total" in timings:
            self._totals.append(timings["total"])
        if "detect" in timings:
            self._detects.append(timings["detect"])

    def text(self) -> str:
        parts = []
        if self._detects:
            parts.append(f"face detection {1000 * sum(self._detects) / len(self._detects):.0f} ms")
        if self._totals:
            mean_ms = 1000 * sum(self._totals) / len(self._totals)
            parts.append(f"work per frame {mean_ms:.1f} ms on average")
        return " · ".join(parts)
