"""Shared helpers for the benchmark scripts (not part of the app).

Every script runs against the shared face data (../shared/data/faces, never copied into the repo)
and a throw-away ROLLCALL_HOME; converted weights come from .cache/models like the tests use.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FACES = Path(os.environ.get("ROLLCALL_FACES", REPO.parent / "shared" / "data" / "faces"))
VIDEOS = FACES / "video"
HAMILTON = VIDEOS / "hamilton_640x360.mp4"
CROWD = VIDEOS / "crowd_1920x1080.mp4"
ENROLL_FRAMES = (100, 130, 160)  # the performer, close up (as tests/app/test_cli.py enrolls him)
# Hamilton's shots (frame ranges, end exclusive), read off a full-scale MTCNN pass over every frame:
PERFORMER_SHOTS = ((0, 20), (82, 211))  # far away on stage (33-45 px faces); close up (74-90 px)
NOT_PERFORMER = ((20, 82), (211, 275))  # the pianist, then the audience: a performer label here is wrong

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("ROLLCALL_MODELS_DIR", str(REPO / ".cache" / "models"))


def run_measured(command: list[str], env: dict, cwd: Path) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, stdout) of one child process, spawn to exit (os.wait4: its own usage)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(map(str, command))} exited with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def fresh_home() -> Path:
    """A new ROLLCALL_HOME for this process (call before creating an Engine)."""
    home = Path(tempfile.mkdtemp(prefix="rollcall-bench-"))
    os.environ["ROLLCALL_HOME"] = str(home)
    return home


def read_frames(path: Path, indices=None, limit: int | None = None) -> list:
    """BGR frames of a video (all, the first `limit`, or those at `indices`)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    wanted = set(indices) if indices is not None else None
    frames, i = [], 0
    while True:
        ok, frame = cap.read()
        if not ok or (limit is not None and i >= limit):
            break
        if wanted is None or i in wanted:
            frames.append(frame)
        i += 1
        if wanted is not None and len(frames) == len(wanted):
            break
    cap.release()
    return frames


def decode_ms_per_frame(path: Path) -> float:
    """Median-free plain figure: one pass of cv2.VideoCapture.read over the whole file."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    n, t0 = 0, time.perf_counter()
    while cap.read()[0]:
        n += 1
    cap.release()
    return (time.perf_counter() - t0) * 1000 / max(1, n)


def in_shots(index: int, shots) -> bool:
    return any(a <= index < b for a, b in shots)


@dataclass
class Usage:
    """CPU and memory over a timed section (os.times, getrusage)."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    _t0: float = field(default=0.0, repr=False)
    _c0: float = field(default=0.0, repr=False)

    def start(self) -> Usage:
        t = os.times()
        self._c0 = t.user + t.system
        self._t0 = time.perf_counter()
        return self

    def stop(self) -> Usage:
        self.wall_s = time.perf_counter() - self._t0
        t = os.times()
        self.cpu_s = t.user + t.system - self._c0
        self.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        return self

    @property
    def cores_busy(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s else 0.0


def machine_line() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.machine()} {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, load average {load:.1f} at start"
    )


def run_child(script: Path, payload: dict, timeout: float = 900) -> dict:
    """Run `script --child JSON` in a fresh interpreter (clean peak memory and CPU counters);
    it prints one JSON line last."""
    env = dict(os.environ)
    env.pop("ROLLCALL_HOME", None)
    proc = subprocess.run(
        [sys.executable, str(script), "--child", json.dumps(payload)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{script.name} child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def markdown_table(header: list[str], rows: list[list]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
