"""Soak: the Hamilton clip looped through `rollcall recognize`'s pipeline, faster than real time, for hours
of video time, reporting memory, file descriptors and threads every minute of video time.

    .venv/bin/python benchmarks/soak.py                       # 216,000 frames: 2 hours of video at 30 fps
    .venv/bin/python benchmarks/soak.py --frames 20000        # a shorter run (say so when quoting it)
    .venv/bin/python benchmarks/soak.py --detector mtcnn --json soak.json

The performer is enrolled from frames 100, 130 and 160, as in benchmarks/realtime.py; the clip then runs
end to end again and again, its timestamps carried on (video time grows, so attendance cooldowns and
unknown logging run as in a day at the kiosk; every loop's first frame is a scene cut). Frames are read
by the pipeline's decoder thread, as `rollcall recognize` reads a file.

Each line: video minute, frames, RSS (MB, /proc/self/status VmRSS) and its anonymous part (RssAnon: the
heap; the rest is mapped model files and libraries), open file descriptors, threads,
frames per second of wall time since the last line. The summary compares RSS late in the run with RSS at
minute 10 (or, in a run shorter than 20 minutes, at its first quarter) and gives the peak, and says
whether descriptors and threads stayed constant. Issue 33's target: over >= 216,000 frames, RSS in the last
hour within 10 % of minute 10 and never above 400 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

FULL_RUN_FRAMES = 216_000  # 2 hours at 30 fps
TARGET_MAX_RSS_MB = 400.0
TARGET_DRIFT = 0.10


def process_status() -> tuple[float, int, int]:
    """RSS in MB, open file descriptors, threads of this process (Linux /proc)."""
    status = _status()
    return status["VmRSS"] / 1024, len(os.listdir("/proc/self/fd")), status["Threads"]


def anonymous_mb() -> float:
    """The part of RSS that is the heap and other anonymous memory (the rest: mapped files, shared)."""
    return _status()["RssAnon"] / 1024


def _status() -> dict[str, int]:
    values = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "Threads"):
                values[key] = int(rest.split()[0])
    return values


def looped_source(path: Path, total_frames: int):
    """A FrameSource reading `path` again and again, timestamps carried on across loops."""
    from core.live.frames import Frame, FrameSource
    from core.live.sources import VideoFileSource

    class LoopedVideo(FrameSource):
        def __init__(self) -> None:
            super().__init__(f"{path.name} (looped)", None)
            self._file = VideoFileSource(path)
            self._fps = self._file.fps or 30.0
            self._index = 0
            self._loop_start_s = 0.0

        @property
        def fps(self) -> float | None:
            return self._fps

        @property
        def frame_count(self) -> int | None:
            return total_frames

        def read(self) -> Frame | None:
            if self._index >= total_frames:
                return None
            frame = self._file.read()
            if frame is None:  # end of the clip: open it again
                self._file.close()
                self._loop_start_s = self._index / self._fps
                self._file = VideoFileSource(path)
                frame = self._file.read()
                if frame is None:
                    return None
            out = Frame(self._index, self._loop_start_s + frame.index / self._fps, frame.image, self.name)
            self._index += 1
            return out

        def close(self) -> None:
            self._file.close()
            super().close()

    return LoopedVideo()


def summarise(samples: list[dict]) -> dict:
    """RSS late in the run against RSS at minute 10 (or at the first quarter of a shorter run)."""
    minutes = [s["minute"] for s in samples]
    last_minute = minutes[-1] if minutes else 0
    reference_minute = 10 if last_minute >= 20 else max(1, last_minute // 4)
    reference = next((s for s in samples if s["minute"] >= reference_minute), samples[0])
    late_from = last_minute - 60 if last_minute >= 120 else last_minute - max(1, last_minute // 4)
    late = [s for s in samples if s["minute"] > late_from] or samples[-1:]
    late_rss = [s["rss_mb"] for s in late]
    peak = max(s["rss_mb"] for s in samples)
    drift = max(abs(r - reference["rss_mb"]) for r in late_rss) / reference["rss_mb"]
    steady = samples[1:-1] or samples  # the first line still loads, the last comes after the decoder thread ends
    return {
        "video_minutes": last_minute,
        "reference_minute": reference["minute"],
        "reference_rss_mb": round(reference["rss_mb"], 1),
        "late_window_minutes": [late[0]["minute"], late[-1]["minute"]],
        "late_rss_mb": [round(min(late_rss), 1), round(max(late_rss), 1)],
        "drift": round(drift, 4),
        "peak_rss_mb": round(peak, 1),
        "fds": sorted({s["fds"] for s in steady}),
        "threads": sorted({s["threads"] for s in steady}),
        "meets_target": drift <= TARGET_DRIFT and peak <= TARGET_MAX_RSS_MB,
        "full_length": samples[-1]["frames"] >= FULL_RUN_FRAMES,
    }


def run(frames: int, detector: str, report_every_s: float) -> dict:
    C.fresh_home()
    import cv2

    from core.app.engine import Engine
    from core.base.settings import ComputeSettings, Settings

    engine = Engine(Settings(compute=ComputeSettings(detector=detector)))
    enroller = engine.enroller()
    enroll = C.read_frames(C.HAMILTON, C.ENROLL_FRAMES)
    candidates = [
        enroller.candidate_from_frame(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), f"hamilton#{i}")
        for f, i in zip(enroll, C.ENROLL_FRAMES)
    ]
    engine.enroll_candidates("Performer", candidates)
    print(f"detector {engine.detector.kind}; {frames} frames ({frames / 30 / 60:.0f} video minutes at 30 fps)")
    header = ("minute", "frames", "RSS MB", "anon MB", "fds", "threads", "fps", "marked")
    print(" ".join(f"{name:>7}" for name in header))
    samples: list[dict] = []
    marked = 0
    next_report = 0.0
    wall = time.perf_counter()
    last_frames = 0
    source = looped_source(C.HAMILTON, frames)
    try:
        for result in engine.recognize(source, engine.settings.recognition):
            marked += sum(1 for e in result.events if e.person_name)
            if result.frame.timestamp >= next_report or result.frame.index + 1 >= frames:
                now = time.perf_counter()
                rss, fds, threads = process_status()
                sample = {
                    "minute": round(result.frame.timestamp / 60, 1),
                    "frames": result.frame.index + 1,
                    "rss_mb": rss,
                    "anon_mb": anonymous_mb(),
                    "fds": fds,
                    "threads": threads,
                    "fps": (result.frame.index + 1 - last_frames) / max(1e-9, now - wall),
                    "marked": marked,
                }
                samples.append(sample)
                print(
                    f"{sample['minute']:>7} {sample['frames']:>7} {rss:>7.1f} {sample['anon_mb']:>7.1f} {fds:>7} "
                    f"{threads:>7} {sample['fps']:>7.0f} {marked:>7}",
                    flush=True,
                )
                wall, last_frames = now, result.frame.index + 1
                next_report += report_every_s
    finally:
        source.close()
    from core.live.memory import trim_heap

    before = process_status()[0]
    trim_heap()
    after = process_status()[0]
    print(f"at the end: RSS {before:.1f} MB, {after:.1f} MB after malloc_trim (memory malloc held free)")
    engine.close()
    out = {"detector": detector, "frames": frames, "samples": samples, "summary": summarise(samples)}
    out["summary"]["end_rss_mb"], out["summary"]["end_rss_after_trim_mb"] = round(before, 1), round(after, 1)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=FULL_RUN_FRAMES, help="frames in all (default: 2 hours)")
    parser.add_argument("--detector", default="auto", choices=["auto", "mtcnn", "yunet"])
    parser.add_argument("--report-every-s", type=float, default=60.0, help="video seconds between lines")
    parser.add_argument("--json", type=Path, help="write every line and the summary here")
    args = parser.parse_args(argv)
    out = run(args.frames, args.detector, args.report_every_s)
    s = out["summary"]
    length = "" if s["full_length"] else f" (a SHORTER run than the {FULL_RUN_FRAMES}-frame target)"
    print(
        f"\n{s['video_minutes']} video minutes{length}: RSS {s['reference_rss_mb']} MB at minute "
        f"{s['reference_minute']}, {s['late_rss_mb'][0]}-{s['late_rss_mb'][1]} MB over minutes "
        f"{s['late_window_minutes'][0]}-{s['late_window_minutes'][1]} (drift {s['drift']:.1%}), "
        f"peak {s['peak_rss_mb']} MB; fds {s['fds']}, threads {s['threads']}"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
