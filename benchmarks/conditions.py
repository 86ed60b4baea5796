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
--tight          enroll from the photos cropped tight to the face box (no margin) and query clean and tight
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
        return tight_crop(rgb, face)
    if name in {d.value for d in Degradation}:
        return degrade(rgb, Degradation(name), face.box, rng)
    return draw_occlusion(rgb, face.landmarks, Occlusion(name), rng)


def tight_crop(rgb: np.ndarray, face) -> np.ndarray:
    """The photo cropped to the face box, no margin (an ID badge, an HR directory photo)."""
    x1, y1, x2, y2 = [int(round(v)) for v in face.box]
    h, w = rgb.shape[:2]
    return rgb[max(0, y1) : min(h, y2), max(0, x1) : min(w, x2)].copy()


def enroll_tight(engine, dataset) -> int:
    """Enroll every dev person from their photos cropped tight to the face box; returns photos refused."""
    from core.base.errors import EnrollmentError
    from core.vision.detect import central_face
    from core.vision.images import file_sha256, load_image

    enroller, refused = engine.enroller(), 0
    for name, paths in dataset.enroll.items():
        candidates = []
        for path in paths:
            rgb = load_image(path)
            face = central_face(engine.detector.detect(rgb, with_crops=False), rgb.shape)
            try:
                if face is None:
                    raise EnrollmentError(f"{path}: no face in the uncropped photo")
                digest = file_sha256(path) + ":tight"
                candidates.append(enroller.candidate_from_frame(tight_crop(rgb, face), str(path), digest))
            except EnrollmentError:
                refused += 1
        if candidates:
            enroller.save(name, candidates, allow_duplicate=True)
    return refused


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-person", type=int, default=4)
    parser.add_argument("--conditions", nargs="+", default=None)
    parser.add_argument("--derived", choices=["on", "off"], default=None)
    parser.add_argument("--tight", action="store_true")
    args = parser.parse_args()
    names = args.conditions or condition_names()
    if args.tight:
        names = args.conditions or ["clean", "tight"]

    C.fresh_home()
    from core.app.engine import Engine
    from core.app.identification import dev_closed_set, enroll_set
    from core.base.settings import Settings
    from core.vision.fused import model_input
    from core.vision.images import load_image
    from core.vision.still_faces import find_still_face

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
        refused = enroll_tight(engine, dataset) if args.tight else len(enroll_set(engine, dataset))
        matcher = engine.matcher()
        detector, embedder = engine.detector, engine.embedder()
        ids = {name: pid for pid, name in matcher.names.items()}
        photos = [(ids.get(person), path) for person, path in queries] + [(None, p) for p in dataset.strangers]
        clean = []
        for _, path in photos:
            rgb = load_image(path)
            clean.append((rgb, find_still_face(detector, rgb)))
        occluded_at = "" if matcher.occluded_threshold is None else f", occluded {matcher.occluded_threshold:.3f}"
        print(
            f"enrolled {matcher.people_count} people ({matcher.sample_count} samples, {matcher.derived_count} derived;"
            f" {refused} photos refused{', tight crops' if args.tight else ''}), threshold {matcher.threshold:.3f}"
            f"{occluded_at}; {len(queries)} queries, {len(dataset.strangers)} strangers;"
            f" enroll {time.perf_counter() - started:.0f} s"
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
                found = find_still_face(detector, image)
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
            covered = sum(1 for r in results if r.occlusion)
            rows.append(
                Row(
                    name,
                    hits / len(queries),
                    len(queries),
                    rejected / max(1, len(dataset.strangers)),
                    len(dataset.strangers),
                    not_found,
                    covered,
                )
            )
            print(
                f"  {name}: top-1 {rows[-1].top1:.3f}, strangers rejected {rows[-1].rejected:.3f}, "
                f"not found {not_found}, best template derived {covered} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    print()
    print(
        C.markdown_table(
            ["condition", "top-1", "strangers rejected", "faces not found", "matched a derived template"],
            [[r.condition, f"{r.top1:.3f}", f"{r.rejected:.3f}", r.not_found, r.occluded_seen] for r in rows],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
