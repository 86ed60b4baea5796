"""Identification benchmarks through the app's own path: enroll with the Enroller, identify with the
engine's embedder and its gallery-calibrated matcher.

- Open set (LFW View 1 images): everyone with two or more photos is enrolled from the first and
  queried with the second; the one-photo people alternate between enrolled distractors and
  strangers (never enrolled).
- Closed set with unknowns (the dev set): photos 1-4 enrolled, 5-8 queried, dev_unknown as strangers.

Figures: top-1 (the right person accepted), strangers marked per 1,000 (accepted as anyone), at the
threshold the app calibrated itself; and, for comparing models, top-1 at the threshold that
rejects a given share of the strangers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.base.errors import EnrollmentError, ImageError
from core.vision.fused import model_input
from core.vision.images import is_image_path, load_image
from core.vision.still_faces import find_still_face

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True)
class IdentificationSet:
    enroll: dict[str, list[Path]]  # person -> photos to enroll
    queries: list[tuple[str, Path]]  # (person, photo) of enrolled people
    strangers: list[Path]  # photos of people never enrolled


@dataclass
class IdentificationResult:
    enrolled_people: int
    queries: int
    strangers: int
    threshold: float
    top1: float  # queries accepted as the right person, at the app's threshold
    strangers_per_1000: float  # strangers accepted as someone, per 1,000, at the app's threshold
    top1_at_rejection: float = float("nan")  # top-1 at the threshold rejecting `rejection` of strangers
    rejection: float = 0.95
    refused: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"enrolled {self.enrolled_people} people; {self.queries} queries, {self.strangers} strangers",
            f"threshold (the app's own): {self.threshold:.3f}",
            f"top-1 at that threshold: {self.top1:.4f}",
            f"strangers marked per 1,000: {self.strangers_per_1000:.1f}",
            f"top-1 where {self.rejection:.0%} of strangers are rejected: {self.top1_at_rejection:.4f}",
        ]


def _photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))


def lfw_open_set(images_dir: Path) -> IdentificationSet:
    enroll: dict[str, list[Path]] = {}
    queries, strangers = [], []
    singles = 0
    for person in sorted(p for p in Path(images_dir).iterdir() if p.is_dir()):
        photos = _photos(person)
        if len(photos) >= 2:
            enroll[person.name] = [photos[0]]
            queries.append((person.name, photos[1]))
        elif photos:
            if singles % 2 == 0:
                enroll[person.name] = [photos[0]]
            else:
                strangers.append(photos[0])
            singles += 1
    return IdentificationSet(enroll, queries, strangers)


def dev_closed_set(dev_dir: Path, unknown_dir: Path, enrolled_photos: int = 4) -> IdentificationSet:
    enroll: dict[str, list[Path]] = {}
    queries = []
    for person in sorted(p for p in Path(dev_dir).iterdir() if p.is_dir()):
        photos = _photos(person)
        enroll[person.name] = photos[:enrolled_photos]
        queries += [(person.name, p) for p in photos[enrolled_photos:]]
    strangers = [p for folder in [Path(unknown_dir)] for p in _photos(folder)]
    strangers += [p for sub in sorted(d for d in Path(unknown_dir).iterdir() if d.is_dir()) for p in _photos(sub)]
    return IdentificationSet(enroll, queries, strangers)


def enroll_set(engine, dataset: IdentificationSet, progress: Progress | None = None) -> list[str]:
    """Enroll every person of the set (one transaction each); returns the refusals."""
    enroller = engine.enroller()
    refused = []
    for i, (name, photos) in enumerate(dataset.enroll.items()):
        candidates = []
        for path in photos:
            try:
                candidates.append(enroller.candidate_from_file(path))
            except (EnrollmentError, ImageError) as exc:
                refused.append(str(exc))
        if candidates:
            enroller.save(name, candidates, allow_duplicate=True)
        if progress:
            progress("enroll", i + 1, len(dataset.enroll))
    return refused


def embed_photos(engine, paths: list[Path], progress: Progress | None = None) -> np.ndarray:
    """The active model's vectors of the labelled face of each photo (None-faces: a zero row)."""
    embedder = engine.embedder()
    inputs, found = [], []
    for i, path in enumerate(paths):
        rgb = load_image(path)
        face = find_still_face(engine.detector, rgb)
        found.append(face is not None)
        if face is not None:
            inputs.append(model_input(embedder, rgb, face))
        if progress:
            progress("identify", i + 1, len(paths))
    vectors = np.zeros((len(paths), embedder.dim), np.float32)
    if inputs:
        vectors[np.array(found)] = embedder.embed(inputs)
    return vectors


def identify_set(
    engine,
    dataset: IdentificationSet,
    rejection: float = 0.95,
    progress: Progress | None = None,
    refused: list[str] | None = None,
) -> IdentificationResult:
    """Identify the queries and strangers of an enrolled set with the engine's matcher."""
    matcher = engine.matcher()
    ids = {name: pid for pid, name in matcher.names.items()}
    query_vectors = embed_photos(engine, [p for _, p in dataset.queries], progress)
    stranger_vectors = embed_photos(engine, dataset.strangers, progress)
    results = matcher.match(np.concatenate([query_vectors, stranger_vectors]))
    query_results, stranger_results = results[: len(query_vectors)], results[len(query_vectors) :]
    truth = [ids.get(name) for name, _ in dataset.queries]
    top1 = np.mean([r.person_id is not None and r.person_id == t for r, t in zip(query_results, truth)])
    marked = np.mean([r.person_id is not None for r in stranger_results])
    # the same decision at the threshold that rejects `rejection` of the strangers (margin kept)
    stranger_best = np.array([r.similarity for r in stranger_results])
    threshold_at = float(np.quantile(stranger_best, rejection)) if len(stranger_best) else matcher.threshold
    top1_at = np.mean(
        [
            r.best_person_id == t and r.similarity > threshold_at and r.margin >= matcher.margin
            for r, t in zip(query_results, truth)
        ]
    )
    return IdentificationResult(
        matcher.people_count,
        len(dataset.queries),
        len(dataset.strangers),
        matcher.threshold,
        float(top1),
        float(marked * 1000.0),
        float(top1_at),
        rejection,
        list(refused or []),
    )
