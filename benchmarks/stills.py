"""Still-image throughput: enroll-import of the dev set (32 people x 8 photos = 256 photos) into a
fresh gallery, as `rollcall enroll-import` does it, with the ONNX Runtime and the torch backends.

    .venv/bin/python benchmarks/stills.py [--rounds 2] [--backends onnx torch]

Prints photos per second, per-stage ms per photo (decode+hash, detect, embed, store and the rest),
CPU cores busy and peak RSS; each run is a fresh interpreter.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def child(payload: dict) -> dict:
    C.fresh_home()
    from core.app.engine import Engine
    from core.base.settings import ComputeSettings, Settings

    backend = payload["backend"]
    engine = Engine(Settings(compute=ComputeSettings(embed_backend=backend, detect_backend=backend)))
    detector, embedder = engine.detector, engine.embedder()
    engine.matcher()
    spent = {"detect": 0.0, "embed": 0.0}

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.perf_counter() - t

        return wrapper

    detector.detect = timed("detect", detector.detect)
    embedder.embed = timed("embed", embedder.embed)
    usage = C.Usage().start()
    *_, last = engine.import_folder(C.FACES / "dev")
    usage.stop()
    report = last.report
    photos = last.total
    other = usage.wall_s - spent["detect"] - spent["embed"]
    return {
        "backend": payload["backend"],
        "photos": photos,
        "wall_s": usage.wall_s,
        "photos_per_s": photos / usage.wall_s,
        "detect_ms": spent["detect"] * 1000 / photos,
        "embed_ms": spent["embed"] * 1000 / photos,
        "other_ms": other * 1000 / photos,
        "cores_busy": usage.cores_busy,
        "peak_rss_mb": usage.peak_rss_mb,
        "samples_added": report.samples_added,
        "refused": len(report.refused),
        "backends": f"detector {detector.backend}, embedder {embedder.backend}",
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backends", nargs="+", default=["onnx", "torch"], choices=["onnx", "torch"])
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    print(f"# Still-image throughput (enroll-import of dev, 256 photos) — {C.machine_line()}")
    runs = []
    for round_no in range(args.rounds):
        for backend in args.backends[round_no % len(args.backends) :] + args.backends[: round_no % len(args.backends)]:
            r = C.run_child(Path(__file__), {"backend": backend})
            runs.append(r)
            print(f"  round {round_no + 1} {backend:<6} {r['photos_per_s']:.1f} photos/s", flush=True)
    rows = []
    for backend in args.backends:
        rs = [r for r in runs if r["backend"] == backend]
        m = lambda k, rs=rs: C.median(r[k] for r in rs)  # noqa: E731
        rows.append(
            [
                rs[0]["backends"],
                len(rs),
                m("photos_per_s"),
                m("detect_ms"),
                m("embed_ms"),
                m("other_ms"),
                m("cores_busy"),
                m("peak_rss_mb"),
                f"{rs[0]['samples_added']} added, {rs[0]['refused']} refused",
            ]
        )
    print(
        C.markdown_table(
            [
                "backends",
                "runs",
                "photos/s",
                "detect ms/photo",
                "embed ms/photo",
                "decode+store+rest ms/photo",
                "cores busy",
                "peak RSS MB",
                "result",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
