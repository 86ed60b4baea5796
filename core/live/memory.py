"""Handing freed heap memory back to the system during a long recognition run.

Detection and embedding allocate and free tens of megabytes per call, on the inference thread, the
decoder thread and ONNX Runtime's pool. glibc's malloc keeps what was freed in per-thread arenas, so a
day-long run's RSS climbs to the worst mix of allocations it has seen and stays there (Issue 33:
288 MB to 530 MB over 22,000 frames). `trim_heap` asks glibc to return free pages (malloc_trim); the
recognition loop calls it every `recognition.memory_trim_interval_s` of frame time. Elsewhere
(macOS, Windows, musl) it does nothing.

glibc also raises its mmap threshold each time a large block is freed, up to 32 MB: after the first
frames, every frame-sized buffer (a 640x360 frame is 675 KB) is carved out of a heap arena instead of
being mapped, and freeing it from another thread (decoder to inference) fragments that arena.
`fix_mmap_threshold` pins the threshold, so such buffers are mapped and unmapped as they come and go.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache


@cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD_BYTES = 256 * 1024  # blocks this big or bigger are mapped: frames, crops' batches, not small objects


@cache
def _mallopt():
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Pin glibc's mmap threshold (which also stops it from rising); False where the C library cannot."""
    mallopt = _mallopt()
    return mallopt is not None and mallopt(M_MMAP_THRESHOLD, int(threshold)) == 1


def trim_heap() -> bool:
    """Return freed heap pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


class HeapTrimmer:
    """Calls trim_heap at most once per `interval_s` of frame time (0: never); when on, pins the mmap
    threshold first (fix_mmap_threshold)."""

    def __init__(self, interval_s: float):
        self.interval_s = float(interval_s)
        self._last: float | None = None
        self.trims = 0
        if self.interval_s > 0:
            fix_mmap_threshold()

    def tick(self, now: float) -> None:
        if self.interval_s <= 0:
            return
        if self._last is None or now < self._last:  # the first frame, or a source that started again
            self._last = now
            return
        if now - self._last >= self.interval_s:
            self._last = now
            self.trims += trim_heap()
