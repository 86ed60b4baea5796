"""Backend micro-benchmark behind the pipeline's choices: the embedder (torch eager, torch
channels-last, ONNX Runtime) at batch 1 and 8, and MTCNN (torch vs ONNX Runtime nets, P-Net
threshold 0.6 vs 0.8, smallest face 40 vs 80 px) on Hamilton frames, with 1 and 2 threads.

    .venv/bin/python benchmarks/backends.py [--repeats 15] [--threads 1 2]

Figures are medians of wall ms (and CPU ms, time.process_time: all threads) per call; a busy neighbour
shows as wall >> CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def timeit(fn, repeats: int) -> tuple[float, float]:
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return float(np.median(walls)) * 1000, float(np.median(cpus)) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    C.fresh_home()
    import cv2
    import torch

    from core.app.engine import Engine
    from core.base.settings import Settings
    from core.vision.detect import FaceDetector, crop_face
    from core.vision.embed import Embedder, OnnxEmbedder
    from core.vision.images import DEFAULT_CROP_SIZE
    from core.vision.runtime import configure_threads

    print(f"# Backends — {C.machine_line()}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    engine = Engine(Settings())
    model_id = engine.active_model_id()
    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in C.read_frames(C.HAMILTON, range(90, 200, 10))]
    probe = FaceDetector()
    crops = []
    for rgb in frames:
        crops += [crop_face(rgb, f.box, 20, DEFAULT_CROP_SIZE) for f in probe.detect(rgb, with_crops=False)]
    crops = np.stack((crops * 8)[:8])
    rows = []
    for threads in args.threads:
        configure_threads(threads)
        _, info = engine.model_info(model_id)
        eager = Embedder(engine.load_network(model_id), info)
        channels_last = Embedder(engine.load_network(model_id).to(memory_format=torch.channels_last), info)
        ort = OnnxEmbedder(engine._onnx_file(model_id), info, threads=threads)
        for name, emb in (("torch eager", eager), ("torch channels-last", channels_last), ("onnxruntime", ort)):
            w1, c1 = timeit(lambda emb=emb: emb.embed(crops[:1]), args.repeats)
            w8, c8 = timeit(lambda emb=emb: emb.embed(crops), max(3, args.repeats // 3))
            rows.append([f"embed: {name}", threads, w1, c1, w8 / 8, c8 / 8])
        for backend in ("torch", "onnx"):
            detector = FaceDetector(backend=backend)
            for pnet, min_face in ((0.6, 40), (0.8, 40), (0.8, 80)):
                thresholds = (pnet, 0.7, 0.7)
                it = iter(frames * 1000)
                w, c = timeit(
                    lambda d=detector, it=it, m=min_face, t=thresholds: d.detect(
                        next(it), with_crops=False, min_face_px=m, thresholds=t
                    ),
                    args.repeats,
                )
                rows.append(
                    [f"MTCNN 640x360: {detector.backend}, P-Net {pnet}, min face {min_face}", threads, w, c, "", ""]
                )
    print(
        C.markdown_table(
            [
                "what",
                "threads",
                "wall ms/call (batch 1)",
                "CPU ms/call",
                "wall ms/face (batch 8)",
                "CPU ms/face (batch 8)",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
