"""Gallery scale: one query against galleries of 1k, 10k and 100k people (GalleryMatcher), and the
load time of a 10k-person gallery from the store (GalleryStore.gallery()).

    .venv/bin/python benchmarks/gallery_scale.py [--samples-per-person 3] [--sizes 1000 10000 100000]

Synthetic random unit vectors (128-d, the default model's size); the figures do not depend on
what the vectors are.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def unit_vectors(rng, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def bench_match(people: int, per_person: int, dim: int, repeats: int) -> dict:
    from core.base.records import GalleryMatrix
    from core.gallery.match import GalleryMatcher

    rng = np.random.default_rng(people)
    ids = np.repeat(np.arange(1, people + 1, dtype=np.int64), per_person)
    gallery = GalleryMatrix(
        model_id="synthetic",
        person_ids=ids,
        sample_ids=np.arange(len(ids), dtype=np.int64),
        vectors=unit_vectors(rng, len(ids), dim),
        names={i: f"P{i}" for i in range(1, people + 1)},
    )
    t0 = time.perf_counter()
    matcher = GalleryMatcher(gallery, 0.55, 0.05)
    build_ms = (time.perf_counter() - t0) * 1000
    query = unit_vectors(rng, 1, dim)
    batch = unit_vectors(rng, 8, dim)
    matcher.match(query)
    one, eight = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        matcher.match(query)
        one.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        matcher.match(batch)
        eight.append((time.perf_counter() - t) * 1000)
    return {
        "people": people,
        "samples": len(ids),
        "build_ms": build_ms,
        "one_ms": float(np.median(one)),
        "eight_ms": float(np.median(eight)),
        "matrix_mb": matcher._vectors.nbytes / 2**20,
    }


def bench_store(people: int, per_person: int, dim: int) -> dict:
    """Fill a fresh store with `people` x `per_person` samples and embeddings, then time gallery()."""
    from core.base.records import ModelRecord
    from core.gallery.store import GalleryStore

    rng = np.random.default_rng(7)
    folder = Path(tempfile.mkdtemp(prefix="rollcall-gallery-"))
    store = GalleryStore(folder / "rollcall.db")
    store.register_model(
        ModelRecord(
            id="synthetic",
            name="synthetic",
            base="synthetic",
            parent_id=None,
            embedding_size=dim,
            weights_path="-",
            created_at=datetime.now(UTC),
            settings={},
            metrics={},
        )
    )
    jpeg = b"\xff\xd8\xff\xd9"  # the crop bytes do not matter to gallery()
    t0 = time.perf_counter()
    with store.transaction():
        for p in range(people):
            person = store.add_person(f"Person {p:06d}")
            items = []
            for k in range(per_person):
                sample = store.add_sample(person.id, jpeg, f"synthetic/{p}/{k}", f"{p}-{k}", 1.0, 100, 50.0)
                items.append((sample.id, unit_vectors(rng, 1, dim)[0]))
            store.put_embeddings("synthetic", items)
    fill_s = time.perf_counter() - t0
    loads = []
    for _ in range(3):
        t = time.perf_counter()
        gallery = store.gallery("synthetic")
        loads.append(time.perf_counter() - t)
    store.close()
    return {
        "people": people,
        "samples": len(gallery.person_ids),
        "fill_s": fill_s,
        "load_ms": float(np.median(loads)) * 1000,
        "db_mb": (folder / "rollcall.db").stat().st_size / 2**20,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--samples-per-person", type=int, default=3)
    parser.add_argument("--store-people", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    C.fresh_home()
    print(f"# Gallery scale — {C.machine_line()}; {args.dim}-d vectors, {args.samples_per_person} samples/person")
    rows = []
    for people in args.sizes:
        r = bench_match(people, args.samples_per_person, args.dim, args.repeats)
        rows.append([f"{people:,}", f"{r['samples']:,}", r["matrix_mb"], r["build_ms"], r["one_ms"], r["eight_ms"]])
    print(
        C.markdown_table(
            ["people", "samples", "matrix MB", "build matcher ms", "match 1 query ms", "match 8 queries ms"], rows
        )
    )
    if args.store_people:
        s = bench_store(args.store_people, args.samples_per_person, args.dim)
        print(
            f"\nstore: {s['people']:,} people / {s['samples']:,} samples ({s['db_mb']:.0f} MB database, filled in "
            f"{s['fill_s']:.1f} s): GalleryStore.gallery() loads in {s['load_ms']:.0f} ms (median of 3)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
