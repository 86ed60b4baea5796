"""Liveness challenge measured with ISO/IEC 30107-3's terms: APCER, BPCER, time to pass.

    .venv/bin/python benchmarks/liveness.py                 # 256 attacks (every dev photo) + bona fide
    .venv/bin/python benchmarks/liveness.py --photos 40     # a quicker look
    .venv/bin/python benchmarks/liveness.py --json out.json

- APCER: the share of attack presentations accepted, per instrument (printed photo, screen).
- BPCER: the share of bona fide presentations rejected (the Hamilton clip's close-up from each
  start frame, asked for what the performer then does, and the same frames mirrored).
- The median time a real person needs to pass, from the prompt.

Each attack: one `dev` photo (every photo of every person, alternately printed and on a phone
screen) held in a hand for the whole time limit and turned and tilted to answer a random two-step
challenge (benchmarks/presentation_attacks.py). The same presentations are also judged by the
passive check alone and by the challenge alone, to show what each part contributes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import FACES, HAMILTON, read_frames  # noqa: E402


def attack_set(photos: int | None, seconds: float, seed: int = 17):
    """(photo, moves, instrument, seed) for every dev photo, alternately printed and on a screen."""
    from core.vision.challenge import HeadMove

    rng = random.Random(seed)
    orders = list(itertools.permutations(list(HeadMove), 2))
    paths = sorted((FACES / "dev").glob("*/*.jpg"))
    if photos:
        paths = paths[:: max(1, len(paths) // photos)][:photos]
    return [(path, rng.choice(orders), ("print", "screen")[i % 2], seed + i) for i, path in enumerate(paths)]


def observe_all(photos: int | None, seconds: float, fps: float, rules, out=print) -> list:
    """Every presentation, bona fide then attacks, as the detector saw it (frames dropped)."""
    import cv2

    from benchmarks import presentation_attacks as pa
    from core.vision.detect import FaceDetector

    detector = FaceDetector(min_face_size=40, thresholds=(0.8, 0.7, 0.7))
    t0 = time.perf_counter()
    presentations = pa.hamilton_presentations(read_frames(HAMILTON), seconds=seconds)
    seen: dict = {}  # the bona fide presentations share the clip's frames
    observations = [pa.observe(p, detector, rules, seen) for p in presentations]
    attacks = attack_set(photos, seconds)
    for i, (path, moves, instrument, seed) in enumerate(attacks):
        photo = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        presentation = pa.attack_presentation(photo, moves, instrument, seconds, seed, path.stem, fps)
        observations.append(pa.observe(presentation, detector, rules))
        if (i + 1) % 32 == 0:
            out(f"  {i + 1}/{len(attacks)} attacks seen ({time.perf_counter() - t0:.0f} s)")
    return [replace(o, presentation=replace(o.presentation, frames=[])) for o in observations]


def run(photos: int | None, seconds: float, fps: float, cache: Path | None = None, out=print) -> dict:
    from benchmarks import presentation_attacks as pa
    from core.base.settings import LivenessSettings

    rules = LivenessSettings(challenge=True, challenge_time_s=seconds)
    variants = {"challenge + passive": rules, "challenge only": replace(rules, passive_with_challenge=False)}
    t0 = time.perf_counter()
    if cache and cache.exists():
        observations = pickle.loads(cache.read_bytes())
    else:
        observations = observe_all(photos, seconds, fps, rules, out)
        if cache:
            cache.write_bytes(pickle.dumps(observations))
    verdicts = {name: [pa.judge(o, variant) for o in observations] for name, variant in variants.items()}
    verdicts["passive check alone"] = [pa.passive_only(o) for o in observations]
    bona_fide = [o for o in observations if o.presentation.attack is None]
    attacks = [o for o in observations if o.presentation.attack is not None]
    figures = {
        "bona_fide_presentations": len(bona_fide),
        "attack_presentations": len(attacks),
        "time_limit_s": seconds,
        "attack_fps": fps,
        "variants": {},
    }
    for name, judged in verdicts.items():
        real = [v for v in judged if v.attack is None]
        passed = [v.seconds for v in real if v.accepted]
        row = {
            "BPCER": sum(not v.accepted for v in real) / len(real),
            "median_seconds_to_pass": statistics.median(passed) if passed else None,
            "rejected_bona_fide": [v.name for v in real if not v.accepted],
        }
        for instrument in ("print", "screen"):
            tried = [v for v in judged if v.attack == instrument]
            row[f"APCER_{instrument}"] = sum(v.accepted for v in tried) / max(1, len(tried))
            row[f"{instrument}_presentations"] = len(tried)
            row[f"{instrument}_outcomes"] = {o: sum(v.outcome == o for v in tried) for o in {v.outcome for v in tried}}
            row[f"accepted_{instrument}"] = [v.name for v in tried if v.accepted]
            row[f"{instrument}_passing_a_step"] = [v.name for v in tried if v.steps_passed > 0]
        figures["variants"][name] = row
    peaks = {
        kind: max((pa.peak_parallax(o, rules) for o in attacks if o.presentation.attack == kind), default=0.0)
        for kind in ("print", "screen")
    }
    figures["largest_attack_parallax"] = peaks  # held for challenge_hold detections; a step needs challenge_parallax
    figures["parallax_needed"] = rules.challenge_parallax
    figures["seconds"] = round(time.perf_counter() - t0, 1)  # detection (unless cached) and judging
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=None, help="attack with this many dev photos (default: all)")
    parser.add_argument("--seconds", type=float, default=6.0, help="the challenge's time limit")
    parser.add_argument("--fps", type=float, default=10.0, help="frame rate of the simulated attacks")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--cache", type=Path, help="keep the detections here and reuse them (to try thresholds)")
    args = parser.parse_args(argv)
    figures = run(args.photos, args.seconds, args.fps, args.cache)
    print(
        f"bona fide: {figures['bona_fide_presentations']} presentations (Hamilton close-up, plain and mirrored); "
        f"attacks: {figures['attack_presentations']}; time limit {args.seconds:g} s; ran {figures['seconds']} s"
    )
    for name, row in figures["variants"].items():
        median = row["median_seconds_to_pass"]
        print(
            f"{name:>20}: APCER print {row['APCER_print']:.1%} ({row['print_presentations']}), "
            f"screen {row['APCER_screen']:.1%} ({row['screen_presentations']}); BPCER {row['BPCER']:.1%}; "
            f"median time to pass {median:.2f} s"
            if median is not None
            else f"{name}: nobody passed"
        )
    peaks = figures["largest_attack_parallax"]
    print(
        f"largest nose parallax an attack held: print {peaks['print']:.3f}, screen {peaks['screen']:.3f} "
        f"(a step needs {figures['parallax_needed']:.2f} inter-ocular distances)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
