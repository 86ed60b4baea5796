"""Start-up, memory and idle CPU of the torch-free kiosk path (figures printed, not a test).

    .venv/bin/python benchmarks/startup.py                 # everything, 3 rounds
    .venv/bin/python benchmarks/startup.py --only rss,idle --rounds 1

Every measurement is a fresh process (os.wait4 gives that child's own CPU time and peak RSS):

- recognize-1: `rollcall recognize` on a one-frame video (the 120th frame of the Hamilton clip,
  written with cv2.VideoWriter 'mp4v' into a temporary folder): wall seconds from spawn to exit,
  and, inside, seconds from interpreter start to the first processed frame;
- window: seconds from interpreter start to a shown, usable main window (tests/kits/kiosk_probe.py, offscreen);
- rss: peak RSS of `rollcall recognize video/hamilton_640x360.mp4` (the whole process);
- idle: CPU use (CPU seconds / wall seconds, 1.0 = one core) while recognising a synthetic empty room
  played in real time at 30 fps, with the idle back-off on (the default) and off;
- threads: ms per MTCNN detection (Hamilton frames) and per FaceNet embedding at 1 and 2 ONNX Runtime
  threads, alone and beside a process that keeps one core busy.

The models folder is ROLLCALL_MODELS_DIR (run `rollcall models export-onnx` first); each run gets its
own empty ROLLCALL_HOME. The machine's load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _common as C

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "data" / "faces"
HAMILTON = FACES / "video" / "hamilton_640x360.mp4"
MEASURES = ("recognize-1", "window", "rss", "idle", "threads")


def child_env(home: Path) -> dict:
    env = dict(os.environ, ROLLCALL_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return env


def run_child(args: list[str], home: Path) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, stdout) of one child process."""
    return C.run_measured([sys.executable, *args], child_env(home), REPO)


def write_video(path: Path, frames, fps: float = 30.0) -> Path:
    import cv2

    writer = None
    for frame in frames:
        if writer is None:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    writer.release()
    return path


def one_frame_video(folder: Path) -> Path:
    import cv2

    cap = cv2.VideoCapture(str(HAMILTON))
    for _ in range(120):
        ok, frame = cap.read()
    cap.release()
    return write_video(folder / "one_frame.mp4", [frame])


def empty_room_video(folder: Path, seconds: float, fps: float = 30.0) -> Path:
    """A still room with sensor noise: nobody in view."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    room = np.full((360, 640, 3), 100, np.uint8)
    cv2.rectangle(room, (40, 60), (220, 330), (70, 110, 150), -1)
    cv2.rectangle(room, (420, 40), (600, 200), (160, 160, 140), -1)
    frames = (
        np.clip(room.astype(np.int16) + rng.integers(-3, 4, room.shape), 0, 255).astype(np.uint8)
        for _ in range(int(seconds * fps))
    )
    return write_video(folder / "empty_room.mp4", frames, fps)


# ---- children ---------------------------------------------------------------------------------------

FIRST_FRAME = """
import sys, time
started = time.perf_counter()
import core.live.recognize as R
original = R.Recognizer.process
def process(self, frame):
    result = original(self, frame)
    if not getattr(R, "_first", None):
        R._first = time.perf_counter() - started
        print(f"FIRST {R._first:.3f}", flush=True)
    return result
R.Recognizer.process = process
from core.app.cli import main
sys.exit(main(["recognize", sys.argv[1]]))
"""

PACED = """
import json, os, sys, time
from core.app.engine import Engine
from core.base.settings import Settings
settings = Settings.load()
settings.recognition.idle_detect_interval_s = float(sys.argv[2])
with Engine(settings) as engine:
    detections = frames = 0
    with engine.open_source(sys.argv[1], realtime=True) as source:
        for result in engine.recognize(source):
            frames += 1
            detections += result.detected
            if frames == 30:  # models loaded, one second played: steady state from here
                cpu0, wall0 = sum(os.times()[:2]), time.perf_counter()
    steady = (sum(os.times()[:2]) - cpu0) / (time.perf_counter() - wall0)
print("PACED " + json.dumps({"frames": frames, "detections": detections, "steady": steady}))
"""

THREADS = """
import json, os, sys, time
import cv2, numpy as np
from pathlib import Path

import _common as C
import core.vision.detect as D
threads = int(sys.argv[1])
D.detector_threads = lambda _: threads
from core.vision.detect import FaceDetector
from core.vision.embed import EmbedderInfo, OnnxEmbedder
from core.vision.models import ModelRegistry
from core.vision.onnx_files import sidecar
models = Path(os.environ["ROLLCALL_MODELS_DIR"])
detector = FaceDetector(models_dir=models)
cap = cv2.VideoCapture(sys.argv[2]); frames = []
while True:
    ok, f = cap.read()
    if not ok: break
    frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
frames = frames[::6]
detector.detect(frames[0])
t = time.perf_counter()
for f in frames: detector.detect(f, with_crops=False, min_face_px=40, thresholds=(0.8, 0.7, 0.7))
detect_ms = (time.perf_counter() - t) / len(frames) * 1000
onnx = sorted(models.glob("facenet-keras-128.*.onnx"))[-1]
embedder = OnnxEmbedder(onnx, EmbedderInfo("facenet-keras-128", 128, "prewhiten", 20, "cpu"), threads=threads)
crops = np.random.default_rng(0).integers(0, 256, (1, 160, 160, 3), np.uint8)
embedder.embed(crops)
t = time.perf_counter()
for _ in range(30): embedder.embed(crops)
embed_ms = (time.perf_counter() - t) / 30 * 1000
print("THREADS " + json.dumps({"detect_ms": detect_ms, "embed_ms": embed_ms}))
"""


def parsed(out: str, tag: str):
    line = next(line for line in out.splitlines() if line.startswith(tag + " "))
    text = line[len(tag) + 1 :]
    return json.loads(text) if text.startswith("{") else float(text)


def median(values) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(MEASURES), help=f"comma list from {', '.join(MEASURES)}")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="rollcall-startup-") as tmp:
        tmp = Path(tmp)
        homes = iter(tmp / f"home{i}" for i in range(10_000))
        if "recognize-1" in only:
            video = one_frame_video(tmp)
            walls, firsts, rss = [], [], []
            for _ in range(args.rounds):
                wall, _, peak, out = run_child(["-c", FIRST_FRAME, str(video)], next(homes))
                walls.append(wall), firsts.append(parsed(out, "FIRST")), rss.append(peak)
            print(
                f"recognize, one-frame video: {median(walls):.2f} s spawn to exit, first frame processed "
                f"{median(firsts):.2f} s after interpreter start, peak RSS {median(rss):.0f} MB "
                f"(rounds: {', '.join(f'{w:.2f}' for w in walls)} s)"
            )
        if "window" in only:
            video = one_frame_video(tmp)
            windows, walls = [], []
            for _ in range(args.rounds):
                wall, _, _, out = run_child(["-m", "tests.kits.kiosk_probe", "gui", str(video)], next(homes))
                report = parsed(out, "PROBE")
                windows.append(report["window_s"]), walls.append(wall)
                assert report["torch_modules"] == [], report
            print(
                f"main window usable: {median(windows):.2f} s after interpreter start "
                f"(rounds: {', '.join(f'{w:.2f}' for w in windows)} s)"
            )
        if "rss" in only:
            peaks, walls = [], []
            for _ in range(args.rounds):
                wall, _, peak, _ = run_child(["-m", "core.app.cli", "recognize", str(HAMILTON)], next(homes))
                peaks.append(peak), walls.append(wall)
            print(
                f"recognize hamilton_640x360.mp4 (275 frames): peak RSS {median(peaks):.0f} MB, "
                f"{median(walls):.1f} s (rounds: {', '.join(f'{p:.0f}' for p in peaks)} MB)"
            )
        if "idle" in only:
            room = empty_room_video(tmp, args.idle_seconds)
            for label, interval in (("idle back-off on (0.5 s)", 0.5), ("idle back-off off", 0.0)):
                usage = []
                for _ in range(args.rounds):
                    wall, cpu, _, out = run_child(["-c", PACED, str(room), str(interval)], next(homes))
                    report = parsed(out, "PACED")
                    usage.append((cpu / wall, report["detections"], report["frames"], wall, report["steady"]))
                cores, detections, frames, wall, steady = (median(u[k] for u in usage) for k in range(5))
                print(
                    f"empty room at 30 fps, {label}: {steady * 100:.1f}% of one core after the first second "
                    f"({cores * 100:.1f}% over the whole process, start-up included, {wall:.1f} s), "
                    f"{detections:.0f} detections in {frames:.0f} frames"
                )
        if "threads" in only:
            for busy in (False, True):
                hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
                try:
                    for threads in (1, 2):
                        rows = [
                            parsed(run_child(["-c", THREADS, str(threads), str(HAMILTON)], next(homes))[3], "THREADS")
                            for _ in range(args.rounds)
                        ]
                        print(
                            f"ONNX Runtime {threads} thread(s){', one core kept busy' if busy else ''}: MTCNN "
                            f"{median(r['detect_ms'] for r in rows):.1f} ms/detection, FaceNet "
                            f"{median(r['embed_ms'] for r in rows):.1f} ms/face"
                        )
                finally:
                    if hog is not None:
                        hog.kill()
                        hog.wait()
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
