"""A long run hands freed heap memory back: trim_heap really lowers RSS, and the loop trims on its cadence."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from core.live.memory import HeapTrimmer, trim_heap


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_heap_returns_freed_memory_that_malloc_keeps():
    # 64 KB blocks come from malloc's heap (under its mmap threshold); keeping every 50th one pins the heap,
    # so freeing the rest leaves the pages with the process until they are trimmed.
    blocks = [np.ones(64 * 1024 // 8) for _ in range(4000)]  # ~250 MB, touched
    kept = blocks[::50]
    del blocks
    before = _rss_mb()
    assert trim_heap()
    after = _rss_mb()
    assert before - after > 100, f"RSS {before:.0f} MB before the trim, {after:.0f} MB after"
    assert len(kept) == 80


def test_trimmer_trims_once_per_interval_of_frame_time(monkeypatch):
    calls = []
    monkeypatch.setattr("core.live.memory.trim_heap", lambda: calls.append(1) or True)
    trimmer = HeapTrimmer(60.0)
    for second in range(0, 181, 1):
        trimmer.tick(float(second))
    assert len(calls) == trimmer.trims == 3
    trimmer.tick(5.0)  # the source started again (a new file): counted from there
    trimmer.tick(64.0)
    assert len(calls) == 3
    never = HeapTrimmer(0.0)
    for second in range(300):
        never.tick(float(second))
    assert never.trims == 0


HELD_AFTER_FREE = """
import sys
import numpy as np
from core.live.memory import fix_mmap_threshold
if sys.argv[1] == "fixed":
    assert fix_mmap_threshold()
def rss():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:")) / 1024
big = np.ones(4 * 1024 * 1024 // 8)  # freeing a 4 MB block raises glibc's threshold past frame sizes
del big
before = rss()
frames = [np.ones(675 * 1024 // 8) for _ in range(300)]  # 300 frames of 640x360, ~200 MB
kept = frames[::30]
del frames
print(rss() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_frame_sized_buffers_are_given_back_once_the_threshold_is_pinned():
    import subprocess

    from tests.kits.paths import REPO

    def held(mode: str) -> float:
        done = subprocess.run(
            [sys.executable, "-c", HELD_AFTER_FREE, mode],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
            check=True,
        )
        return float(done.stdout.strip())

    assert held("glibc default") > 100  # freed frames stay with the process
    assert held("fixed") < 30  # only the ten frames still referenced
