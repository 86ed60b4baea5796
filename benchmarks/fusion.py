"""FaceNet, SFace and their fusion on LFW View 1 (pairsDevTest), from one MTCNN detection per photo.

    .venv/bin/python benchmarks/fusion.py [--cache /tmp/rollcall-fusion-cache]

Fits each member's impostor mean/std on pairsDevTest (the constants in core/vision/fusion_specs.py)
and prints accuracy (best threshold), AUC and TAR@FAR=1e-3 for each member and for the equal-weight
fusion of z-normalised cosines. Also SFace cut from the stored 160x160 FaceNet crop (what a gallery
enrolled before the switch gets). Crops and embeddings are cached outside the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

LFW = C.FACES / "lfw_view1"


def cached(cache: Path, key: str, make):
    path = cache / f"{key}.npz"
    if path.exists():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    value = make()
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, **value)
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default="/tmp/rollcall-fusion-cache", help="crops and embeddings (not the repo)")
    args = parser.parse_args()
    cache = Path(args.cache)
    C.fresh_home()
    from core.app.engine import Engine
    from core.app.evaluate import read_pairs, verification_report
    from core.app.fusion_eval import impostor_stats, pair_cosines, prepare_faces
    from core.base.settings import ComputeSettings, Settings
    from core.gallery.fusion import MemberScale, ScoreScale
    from core.vision.fused import sface_input_from_crop
    from core.vision.fusion_specs import FACENET_MODEL
    from core.vision.sface import SFACE_MODEL

    pairs = read_pairs(LFW / "pairsDevTest.txt", LFW / "images")
    paths = sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})
    key = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:12]
    engine = Engine(Settings(compute=ComputeSettings(active_model=FACENET_MODEL)))
    t0 = time.perf_counter()
    faces = cached(
        cache, f"crops-{key}", lambda: vars(prepare_faces(engine.detector, paths, 20)) | {"notes": np.array([])}
    )
    print(f"{len(paths)} photos detected and cut in {time.perf_counter() - t0:.0f} s (cached in {cache})")

    def landmarks(crop):
        from core.vision.detect import central_face

        face = central_face(engine.detector.detect(crop, with_crops=False), crop.shape)
        return None if face is None else face.landmarks

    from_crop = cached(
        cache,
        f"sface-from-crop-{key}",
        lambda: {"crops": np.stack([sface_input_from_crop(c, landmarks) for c in faces["facenet"]])},
    )
    facenet, sface = engine.embedder(FACENET_MODEL), engine.embedder(SFACE_MODEL)
    t0 = time.perf_counter()
    vectors = cached(
        cache,
        f"vectors-{key}",
        lambda: {
            "facenet": facenet.embed(faces["facenet"]),
            "sface": sface.embed(faces["sface"]),
            "sface_from_crop": sface.embed(from_crop["crops"]),
        },
    )
    print(f"embedded in {time.perf_counter() - t0:.0f} s")
    a = np.array([paths.index(p.path_a) for p in pairs])
    b = np.array([paths.index(p.path_b) for p in pairs])
    same = np.array([p.same for p in pairs], bool)
    cos = {name: pair_cosines(v, a, b) for name, v in vectors.items()}
    stats = {name: impostor_stats(c, same) for name, c in cos.items()}
    for name, (mean, std) in stats.items():
        print(f"impostor {name}: mean {mean:.6f} std {std:.6f}")

    def fused(first, second):
        scale = ScoreScale(
            (MemberScale(FACENET_MODEL, 128, *stats[first]), MemberScale(SFACE_MODEL, 128, *stats[second]))
        )
        return scale.fuse_cosines([cos[first], cos[second]])

    rows = {
        "FaceNet": cos["facenet"],
        "SFace": cos["sface"],
        "SFace from 160 crop": cos["sface_from_crop"],
        "fused": fused("facenet", "sface"),
        "fused (SFace from 160 crop)": fused("facenet", "sface_from_crop"),
    }
    for name, embedder, crops in (("FaceNet", facenet, faces["facenet"]), ("SFace", sface, faces["sface"])):
        for batch in (1, 8):
            embedder.embed(crops[:batch])  # warm
            t0 = time.perf_counter()
            for start in range(0, 64, batch):
                embedder.embed(crops[start : start + batch])
            print(f"{name}: {(time.perf_counter() - t0) / 64 * 1000:.1f} ms per face at batch {batch}")
    print(f"\n{'model':<30} {'accuracy':>9} {'AUC':>8} {'TAR@1e-3':>9}")
    for name, scores in rows.items():
        r = verification_report(scores, same)
        print(f"{name:<30} {r.accuracy:>9.4f} {r.auc:>8.5f} {r.tar_at_far_1e3:>9.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
