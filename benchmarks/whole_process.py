"""`rollcall recognize` on the Hamilton clip against face_recognition's webcam loop, each timed as a
whole process: spawn to exit, start-up and model loading included (issue 13's measure).

    .venv/bin/python benchmarks/whole_process.py                       # 5 interleaved rounds
    .venv/bin/python benchmarks/whole_process.py --bundle dist/Rollcall-kiosk --rounds 3

- Rollcall: `rollcall recognize hamilton_640x360.mp4 --faces-csv F` with the performer enrolled
  beforehand (`rollcall enroll` from frames 100, 130 and 160, untimed; a copy of that data folder per
  run). From source: this interpreter's `rollcall` script. With --bundle: the packaged executable,
  under `env -i` (nothing inherited but the data and models folders).
- face_recognition: its documented loop (benchmarks/peer_face_recognition.py) at half size as one
  script: import, encode the same three frames, loop over every frame.
- Performer frames: frames where the performer is named; wrong ones are in the pianist and audience
  shots (benchmarks/_common.py). Peak RSS and CPU come from os.wait4 on each child.

face_recognition is a benchmark-only install (see benchmarks/README.md); without it only Rollcall runs.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _common as C

PEER = """
import json, sys
sys.path.insert(0, {bench!r})
import cv2
import _common as C
import peer_face_recognition as peer
fr = peer.load()
known, _ = peer.known_encodings(fr, C.read_frames(C.HAMILTON, C.ENROLL_FRAMES), 0.5)
on_screen, _, processed, _ = peer.run(C.HAMILTON, known, ["Performer"] * len(known), scale=0.5)
print("PEER " + json.dumps({{"performer": [i for i, names in enumerate(on_screen) if "Performer" in names],
                            "frames": len(on_screen)}}))
"""


def rollcall_command(bundle: Path | None) -> list[str]:
    if bundle is not None:  # dist/Rollcall-kiosk/Rollcall-kiosk, or an installed /opt/rollcall/rollcall
        return [str(next((p for p in (bundle / bundle.name, bundle / "rollcall") if p.exists()), bundle / "rollcall"))]
    script = Path(sys.executable).parent / "rollcall"
    return [str(script)] if script.exists() else [sys.executable, "-m", "core.app.cli"]


def rollcall_env(home: Path, bundle: Path | None) -> dict:
    models = os.environ["ROLLCALL_MODELS_DIR"]
    if bundle is not None:  # env -i: only what the app needs
        return {"ROLLCALL_HOME": str(home), "ROLLCALL_MODELS_DIR": models, "HOME": str(home)}
    env = dict(os.environ, ROLLCALL_HOME=str(home), ROLLCALL_MODELS_DIR=models)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(C.REPO), os.environ.get("PYTHONPATH", "")) if p)
    return env


def performer_frames(rows: list[int]) -> tuple[int, int]:
    frames = set(rows)
    wrong = sum(1 for f in frames if any(a <= f < b for a, b in C.NOT_PERFORMER))
    return len(frames), wrong


def read_faces_csv(path: Path) -> list[int]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [int(row["frame"]) for row in csv.DictReader(fh) if row["name"] == "Performer"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bundle", type=Path, help="a packaged Rollcall folder (dist/Rollcall-kiosk) to time")
    args = parser.parse_args()
    bundle = args.bundle.resolve() if args.bundle else None
    peer_ok = importlib.util.find_spec("face_recognition") is not None
    print(
        f"# whole process, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
        f"Rollcall from {'the bundle ' + str(bundle) if bundle else 'source'}"
    )
    with tempfile.TemporaryDirectory(prefix="rollcall-whole-") as tmp:
        tmp = Path(tmp)
        import cv2

        photos = []
        for frame, index in zip(C.read_frames(C.HAMILTON, C.ENROLL_FRAMES), C.ENROLL_FRAMES):
            photos.append(tmp / f"hamilton_{index}.png")
            cv2.imwrite(str(photos[-1]), frame)
        enrolled = tmp / "enrolled"
        command = rollcall_command(bundle)
        # Enrolling also makes the networks' CPU-tuned copies (once per install), so no timed run does.
        subprocess.run(
            [*command, "enroll", "Performer", *map(str, photos)],
            env=rollcall_env(enrolled, bundle),
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        rows: dict[str, list[dict]] = {"rollcall": [], "face_recognition": []}
        for round_ in range(args.rounds):
            home = tmp / f"home{round_}"
            shutil.copytree(enrolled, home)
            faces = tmp / f"faces{round_}.csv"
            wall, cpu, rss, _ = C.run_measured(
                [*command, "recognize", str(C.HAMILTON), "--faces-csv", str(faces)], rollcall_env(home, bundle), tmp
            )
            performer, wrong = performer_frames(read_faces_csv(faces))
            rows["rollcall"].append(dict(wall=wall, cpu=cpu, rss=rss, performer=performer, wrong=wrong))
            if peer_ok:
                script = PEER.format(bench=str(C.REPO / "benchmarks"))
                wall, cpu, rss, out = C.run_measured([sys.executable, "-c", script], dict(os.environ), tmp)
                report = json.loads(next(line for line in out.splitlines() if line.startswith("PEER "))[5:])
                performer, wrong = performer_frames(report["performer"])
                rows["face_recognition"].append(dict(wall=wall, cpu=cpu, rss=rss, performer=performer, wrong=wrong))
            last = {k: v[-1]["wall"] for k, v in rows.items() if v}
            print(f"round {round_ + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in last.items()), flush=True)
    print(
        "\n| pipeline | runs | wall s (median) | range | CPU s | peak RSS MB (median, max) | performer frames (wrong) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, runs in rows.items():
        if not runs:
            print(f"| {name} | 0 | not installed | | | | |")
            continue
        walls = [r["wall"] for r in runs]
        med = lambda key, runs=runs: statistics.median(r[key] for r in runs)  # noqa: E731
        print(
            f"| {name} | {len(runs)} | {med('wall'):.2f} | {min(walls):.2f}-{max(walls):.2f} | {med('cpu'):.2f} "
            f"| {med('rss'):.0f}, {max(r['rss'] for r in runs):.0f} | {med('performer'):.0f} ({med('wrong'):.0f}) |"
        )
    if rows["face_recognition"]:
        ratios = [p["wall"] / r["wall"] for r, p in zip(rows["rollcall"], rows["face_recognition"])]
        print(
            f"\nRollcall is {statistics.median(ratios):.2f}x faster as a whole process "
            f"(per round {min(ratios):.2f}-{max(ratios):.2f}x)"
        )
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
