"""Identification in a hallway's conditions, through the app's own path, at the app's own threshold.

    .venv/bin/python benchmarks/conditions.py [--per-person 4] [--conditions clean "medical mask" ...]
                                              [--derived] [--tight]

The dev people are enrolled from clean photos (1-4); their other photos (5-8) and the dev strangers
(dev_unknown) are queried with each condition drawn onto them: light (core.vision.degrade) and masks,
glasses and a cap's shadow drawn from the clean photo's detected landmarks (core.vision.occlusion),
each photo with its own seeded shape, colour and size. Per condition: top-1 (the right person
accepted), the share of strangers rejected, and faces not found (queries + strangers).

--per-person N   query only the first N of each person's photos 5-8 (a quicker look; default all 4)
--derived on|off enrollment stores a derived masked and glasses template per photo (default: the app's
                 setting, Settings.enrollment.derived_templates)
--tight          a "tight" row: the clean photos cropped to the face box with no margin
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SEED = 34


@dataclass
class Row:
    condition: str
    top1: float
    queries: int
    rejected: float
    strangers: int
    not_found: int
    occluded_seen: int = 0  # faces the occlusion estimate called covered


def condition_names() -> list[str]:
    from core.vision.degrade import Degradation
    from core.vision.occlusion import Occlusion

    return ["clean"] + [d.value for d in Degradation] + [o.value for o in Occlusion]


def apply_condition(name: str, rgb: np.ndarray, face, rng: np.random.Generator) -> np.ndarray:
    from core.vision.degrade import Degradation, degrade
    from core.vision.occlusion import Occlusion, draw_occlusion

    if name == "clean":
        return rgb
    if name == "tight":
        x1, y1, x2, y2 = [int(round(v)) for v in face.box]
        h, w = rgb.shape[:2]
        return rgb[max(0, y1) : min(h, y2), max(0, x1) : min(w, x2)].copy()
    if name in {d.value for d in Degradation}:
        return degrade(rgb, Degradation(name), face.box, rng)
    return draw_occlusion(rgb, face.landmarks, Occlusion(name), rng)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-person", type=int, default=4)
    parser.add_argument("--conditions", nargs="+", default=None)
    parser.add_argument("--derived", choices=["on", "off"], default=None)
    parser.add_argument("--tight", action="store_true")
    args = parser.parse_args()
    names = args.conditions or condition_names() + (["tight"] if args.tight else [])

    C.fresh_home()
    from core.app.engine import Engine
    from core.app.identification import dev_closed_set, enroll_set
    from core.base.settings import Settings
    from core.vision.detect import central_face
    from core.vision.fused import model_input
    from core.vision.images import load_image

    dataset = dev_closed_set(C.FACES / "dev", C.FACES / "dev_unknown")
    per_person: dict[str, int] = {}
    queries = []
    for person, path in dataset.queries:
        if per_person.get(person, 0) < args.per_person:
            queries.append((person, path))
            per_person[person] = per_person.get(person, 0) + 1
    print(C.machine_line())
    settings = Settings()
    if args.derived is not None:
        settings.enrollment.derived_templates = args.derived == "on"
    started = time.perf_counter()
    with Engine(settings) as engine:
        enroll_set(engine, dataset)
        matcher = engine.matcher()
        detector, embedder = engine.detector, engine.embedder()
        ids = {name: pid for pid, name in matcher.names.items()}
        photos = [(ids.get(person), path) for person, path in queries] + [(None, p) for p in dataset.strangers]
        clean = []
        for _, path in photos:
            rgb = load_image(path)
            clean.append((rgb, central_face(detector.detect(rgb, with_crops=False), rgb.shape)))
        print(
            f"enrolled {matcher.people_count} people ({matcher.sample_count} samples), threshold "
            f"{matcher.threshold:.3f}; {len(queries)} queries, {len(dataset.strangers)} strangers; "
            f"enroll {time.perf_counter() - started:.0f} s"
        )
        rows = []
        for c_index, name in enumerate(names):
            t0 = time.perf_counter()
            inputs, slots, not_found = [], [], 0
            for p_index, (rgb, face) in enumerate(clean):
                if face is None:
                    not_found += 1
                    continue
                rng = np.random.default_rng([SEED, c_index, p_index])
                image = apply_condition(name, rgb, face, rng)
                found = central_face(detector.detect(image, with_crops=False), image.shape)
                if found is None:
                    not_found += 1
                    continue
                inputs.append(model_input(embedder, image, found))
                slots.append(p_index)
            results = matcher.match(embedder.embed(inputs)) if inputs else []
            by_slot = dict(zip(slots, results))
            truth = [t for t, _ in photos]
            hits = sum(1 for i, t in enumerate(truth[: len(queries)]) if i in by_slot and by_slot[i].person_id == t)
            rejected = sum(
                1 for i in range(len(queries), len(photos)) if i not in by_slot or by_slot[i].person_id is None
            )
            rows.append(
                Row(
                    name,
                    hits / len(queries),
                    len(queries),
                    rejected / max(1, len(dataset.strangers)),
                    len(dataset.strangers),
                    not_found,
                )
            )
            print(
                f"  {name}: top-1 {rows[-1].top1:.3f}, strangers rejected {rows[-1].rejected:.3f}, "
                f"not found {not_found} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    print()
    print(
        C.markdown_table(
            ["condition", "top-1", "strangers rejected", "faces not found"],
            [[r.condition, f"{r.top1:.3f}", f"{r.rejected:.3f}", r.not_found] for r in rows],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
