"""Identification through the app's own path, per model: the LFW open set and the dev set.

    .venv/bin/python benchmarks/open_set.py [--models facenet-keras-128 sface-128 facenet-keras-128+sface]
                                            [--sets open dev] [--detector mtcnn|yunet|auto]
                                            [--enroll-detector mtcnn|yunet|auto]

open: LFW View 1 images; people with 2+ photos enrolled from the first, queried with the second;
      one-photo people alternate between enrolled distractors and strangers (~662 enrolled, 361
      queries, 301 strangers).
dev:  32 people, photos 1-4 enrolled, 5-8 queried; dev_unknown as strangers.

Prints, per model: the threshold the app calibrated from the gallery (Settings.strangers_per_1000),
top-1 and strangers marked per 1,000 at it, and top-1 where 95 % of strangers are rejected.
Each model runs in a fresh ROLLCALL_HOME. --detector finds the queried faces (settings.compute.detector);
--enroll-detector, when given, the enrolled ones: `--enroll-detector mtcnn --detector yunet` is a gallery
enrolled with MTCNN queried through YuNet.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def run(model: str, which: str, detector: str = "auto", enroll_detector: str | None = None) -> None:
    C.fresh_home()
    from core.app.engine import Engine
    from core.app.identification import dev_closed_set, enroll_set, identify_set, lfw_open_set
    from core.base.settings import ComputeSettings, Settings

    dataset = (
        lfw_open_set(C.FACES / "lfw_view1" / "images")
        if which == "open"
        else dev_closed_set(C.FACES / "dev", C.FACES / "dev_unknown")
    )
    settings = Settings(compute=ComputeSettings(active_model=model, detector=enroll_detector or detector))
    with Engine(settings) as engine:
        t0 = time.perf_counter()
        refused = enroll_set(engine, dataset)
        enrolled_with = engine.detector.kind
    settings.compute.detector = detector
    with Engine(settings) as engine:  # the same home: the gallery just enrolled
        t1 = time.perf_counter()
        result = identify_set(engine, dataset, refused=refused)
        t2 = time.perf_counter()
        print(
            f"\n== {which} set, {model}, enrolled with {enrolled_with}, queried with {engine.detector.kind} "
            f"(enroll {t1 - t0:.0f} s, identify {t2 - t1:.0f} s)"
        )
        for line in result.lines():
            print(f"  {line}")
        if refused:
            print(f"  {len(refused)} photos refused at enrollment, e.g. {refused[0]}")
        from core.app.fusion_setup import threshold_estimate

        print(f"  {threshold_estimate(engine).describe()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["facenet-keras-128", "sface-128", "facenet-keras-128+sface"])
    parser.add_argument("--sets", nargs="+", default=["open", "dev"], choices=["open", "dev"])
    parser.add_argument("--detector", default="auto", choices=["auto", "mtcnn", "yunet"])
    parser.add_argument("--enroll-detector", default=None, choices=["auto", "mtcnn", "yunet"])
    args = parser.parse_args()
    for which in args.sets:
        for model in args.models:
            run(model, which, args.detector, args.enroll_detector)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
