"""Enrollment: quality gates, then photos, a folder-per-person tree or camera frames into the gallery.

Each person's new samples and their embeddings are written in one transaction, so a crash
mid-import leaves either all of a person's photos or none of them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.base.cancel import CancelCheck
from core.base.errors import Cancelled, DuplicateNameError, EnrollmentError, ImageError, RefusalReason, RollcallError
from core.base.records import Person
from core.base.settings import EnrollmentSettings
from core.gallery.derived_samples import DerivedFace, derive_faces
from core.gallery.names import clean_name, name_key
from core.gallery.parts import PipelineParts
from core.vision.detect import DetectedFace, central_face
from core.vision.fused import member_vectors, model_input
from core.vision.images import encode_jpeg, file_sha256, is_image_path, sharpness
from core.vision.still_faces import second_pass, touches_edge

log = logging.getLogger(__name__)


@dataclass
class FaceCandidate:
    """A face that passed the gates, ready to be stored."""

    crop: np.ndarray
    face: DetectedFace
    source: str
    content_hash: str
    sharpness: float
    note: str = ""  # e.g. "2 faces; took the one in the centre"
    model_input: object = None  # what the active embedder takes (its own crops); None: `crop`
    image: np.ndarray | None = None  # the RGB frame it was cut from: derived templates are drawn on it


@dataclass
class Refusal:
    source: str
    reason: RefusalReason
    message: str


@dataclass
class EnrollReport:
    people_added: list[str] = field(default_factory=list)
    samples_added: int = 0
    skipped_duplicates: int = 0
    refused: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    person_ids: dict[str, int] = field(default_factory=dict)
    sample_ids: list[int] = field(default_factory=list)  # the samples saved

    def merge(self, other: EnrollReport) -> None:
        self.people_added += other.people_added
        self.samples_added += other.samples_added
        self.skipped_duplicates += other.skipped_duplicates
        self.refused += other.refused
        self.warnings += other.warnings
        self.person_ids.update(other.person_ids)
        self.sample_ids += other.sample_ids


@dataclass(frozen=True)
class ImportProgress:
    done: int
    total: int
    current: str
    report: EnrollReport


def choose_face(
    faces: list[DetectedFace], frame_shape: tuple[int, ...], source: str, gates: EnrollmentSettings
) -> tuple[DetectedFace, str]:
    """The face to enroll, or EnrollmentError. Several faces are accepted only when one is clearly central."""
    if not faces:
        raise EnrollmentError(
            f"{source}: no face found. Use a photo where the face is clearly visible.", RefusalReason.NO_FACE
        )
    if len(faces) == 1:
        return faces[0], ""
    chosen = central_face(faces, frame_shape)
    assert chosen is not None  # faces is not empty
    diag = float(np.hypot(frame_shape[0], frame_shape[1]))
    cy, cx = frame_shape[0] / 2, frame_shape[1] / 2

    def distance(f: DetectedFace) -> float:
        return float(np.hypot(f.center[0] - cx, f.center[1] - cy)) / diag

    others = [distance(f) for f in faces if f is not chosen]

    def covers_centre(f: DetectedFace) -> bool:
        return bool(f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3])

    clear_lead = min(others) - distance(chosen) >= gates.central_lead
    if covers_centre(chosen) and clear_lead and not any(covers_centre(f) for f in faces if f is not chosen):
        return chosen, f"{len(faces)} faces; took the one in the centre"
    raise EnrollmentError(
        f"{source}: {len(faces)} faces and none is clearly the subject. Use a photo of one person only.",
        RefusalReason.SEVERAL_FACES,
    )


def check_quality(face: DetectedFace, crop: np.ndarray, source: str, gates: EnrollmentSettings) -> float:
    if face.size_px < gates.min_face_px:
        raise EnrollmentError(
            f"{source}: the face is too small ({face.size_px} px, need {gates.min_face_px}). "
            "Move closer to the camera or use a larger photo.",
            RefusalReason.TOO_SMALL,
        )
    if face.prob < gates.min_detection_prob:
        raise EnrollmentError(
            f"{source}: the face is unclear (confidence {face.prob:.2f}). Face the camera in good light.",
            RefusalReason.LOW_CONFIDENCE,
        )
    sharp = sharpness(crop)
    if sharp < gates.min_sharpness:
        raise EnrollmentError(
            f"{source}: the face is blurred (sharpness {sharp:.0f}, need {gates.min_sharpness:.0f}). Hold still.",
            RefusalReason.BLURRED,
        )
    return sharp


class Enroller:
    def __init__(self, parts: PipelineParts, gates: EnrollmentSettings | None = None):
        self.parts = parts
        self.gates = gates or EnrollmentSettings()

    # ---- candidates ----

    def candidate_from_frame(
        self, rgb: np.ndarray, source: str, content_hash: str | None = None, faces: list[DetectedFace] | None = None
    ) -> FaceCandidate:
        detector = self.parts.detector()
        if faces is None:
            faces = detector.detect(rgb)
            if not faces or (len(faces) == 1 and touches_edge(faces[0], rgb.shape)):  # a tight crop, a mask
                again = second_pass(detector, rgb)
                faces = [again] if again is not None else faces
        faces = detector.add_crops(rgb, faces)
        face, note = choose_face(faces, rgb.shape, source, self.gates)
        crop = face.crop
        assert crop is not None  # detect and add_crops cut every face's crop
        sharp = check_quality(face, crop, source, self.gates)
        digest = content_hash or hashlib.sha256(crop.tobytes()).hexdigest()
        embedder = self.parts.embedder()
        return FaceCandidate(crop, face, source, digest, sharp, note, model_input(embedder, rgb, face), rgb)

    def candidate_from_file(self, path: Path, content_hash: str | None = None) -> FaceCandidate:
        from core.vision.images import load_image

        rgb = load_image(path)
        return self.candidate_from_frame(rgb, str(path), content_hash=content_hash or file_sha256(path))

    # ---- writing ----

    def _existing_person(self, name: str) -> Person | None:
        key = name_key(name)
        matches = [p for p in self.parts.store.list_people(search=name) if name_key(p.name) == key]
        return matches[0] if matches else None

    def save(
        self,
        name: str,
        candidates: list[FaceCandidate],
        external_id: str | None = None,
        person_id: int | None = None,
        allow_duplicate: bool = False,
    ) -> EnrollReport:
        """Add a new person (or samples to `person_id`) with their faces and embeddings, atomically."""
        store = self.parts.store
        report = EnrollReport()
        fresh = [c for c in candidates if store.find_sample_by_hash(c.content_hash) is None]
        report.skipped_duplicates = len(candidates) - len(fresh)
        if not fresh and person_id is None:
            if candidates:
                report.warnings.append(f"{name}: every photo is already enrolled; nothing added.")
            return report
        embedder = self.parts.embedder()
        inputs: list[Any] = [c.crop if c.model_input is None else c.model_input for c in fresh]
        vectors = embedder.embed(inputs) if fresh else np.zeros((0, embedder.dim))
        report.warnings += self._lookalike_warnings(name, person_id, vectors)
        derived = self._derived(fresh)
        derived_vectors = embedder.embed([d.model_input for _, d in derived]) if derived else None
        with store.transaction():
            if person_id is None:
                person = store.add_person(name, external_id=external_id, allow_duplicate=allow_duplicate)
                report.people_added.append(person.name)
            else:
                person = store.get_person(person_id)
            sample_ids = [
                store.add_sample(
                    person.id,
                    encode_jpeg(candidate.crop),
                    candidate.source,
                    candidate.content_hash,
                    candidate.face.prob,
                    candidate.face.size_px,
                    candidate.sharpness,
                ).id
                for candidate in fresh
            ]
            for member_id, block in member_vectors(embedder, vectors).items():  # a fused model: each member's
                store.put_embeddings(member_id, list(zip(sample_ids, block)))
            if derived_vectors is not None:
                derived_ids = [
                    store.add_sample(
                        person.id,
                        encode_jpeg(face.crop),
                        f"{fresh[index].source} ({face.drawn.value}, derived)",
                        face.content_hash,
                        fresh[index].face.prob,
                        fresh[index].face.size_px,
                        fresh[index].sharpness,
                        derived=face.kind.value,
                        derived_from=sample_ids[index],
                    ).id
                    for index, face in derived
                ]
                for member_id, block in member_vectors(embedder, derived_vectors).items():
                    store.put_embeddings(member_id, list(zip(derived_ids, block)))
        report.samples_added = len(fresh)
        report.sample_ids = list(sample_ids)
        report.person_ids[person.name] = person.id
        self.parts.gallery_changed()
        return report

    def _derived(self, fresh: list[FaceCandidate]) -> list[tuple[int, DerivedFace]]:
        """(index in `fresh`, face) of the masked and glasses templates drawn from each new photo."""
        if not self.gates.derived_templates:
            return []
        detector, embedder = self.parts.detector(), self.parts.embedder()

        def crop_of(image: np.ndarray, face: DetectedFace) -> np.ndarray:
            crop = detector.add_crops(image, [face])[0].crop
            assert crop is not None  # add_crops cuts every face's crop
            return crop

        return [
            (index, face)
            for index, candidate in enumerate(fresh)
            if candidate.image is not None
            for face in derive_faces(
                candidate.image,
                candidate.face,
                candidate.content_hash,
                crop_of,
                lambda image, face: model_input(embedder, image, face),
            )
        ]

    def _lookalike_warnings(self, name: str, person_id: int | None, vectors: np.ndarray) -> list[str]:
        if len(vectors) == 0:
            return []
        matcher = self.parts.matcher()
        # well inside "same person" territory
        warn_at = max(matcher.threshold + self.gates.lookalike_above_threshold, self.gates.lookalike_similarity)
        warnings = []
        for result in matcher.match(vectors):
            other_id = result.best_person_id
            if other_id is not None and other_id != person_id and result.similarity >= warn_at:
                other = matcher.names.get(other_id, "?")
                if name_key(other) != name_key(name):
                    warnings.append(
                        f"{name}: this face already matches {other} (similarity {result.similarity:.2f}). "
                        "Check that it is not the same person enrolled twice."
                    )
                    break
        return warnings

    # ---- entry points ----

    def enroll_files(
        self,
        name: str,
        paths: Iterable[Path],
        external_id: str | None = None,
        add_to_existing: bool = False,
        allow_duplicate: bool = False,
        cancel: CancelCheck | None = None,
    ) -> EnrollReport:
        """Enroll one person from photo files. Refused photos are reported, the rest are saved."""
        name = clean_name(name)
        report = EnrollReport()
        candidates = self.candidates_from_files(paths, report, cancel)
        if not candidates:
            report.warnings.append(f"{name}: no usable photo; nobody was enrolled.")
            return report
        existing = self._existing_person(name)
        person_id = None
        if existing is not None and add_to_existing:
            person_id = existing.id
        elif existing is not None and not allow_duplicate:
            raise DuplicateNameError(
                f"{existing.name} is already enrolled (id {existing.id}). Add these photos to that person, "
                "or enroll as a separate person with the same name.",
                existing.id,
            )
        report.merge(self.save(name, candidates, external_id, person_id, allow_duplicate))
        return report

    def add_files(self, person_id: int, paths: Iterable[Path], cancel: CancelCheck | None = None) -> EnrollReport:
        """Add photo files to one person by id (works even when two people share a name)."""
        person = self.parts.store.get_person(person_id)
        report = EnrollReport()
        candidates = self.candidates_from_files(paths, report, cancel)
        if candidates:
            report.merge(self.save(person.name, candidates, person_id=person.id))
        return report

    def candidates_from_files(
        self, paths: Iterable[Path], report: EnrollReport, cancel: CancelCheck | None = None
    ) -> list[FaceCandidate]:
        """A candidate per usable photo; the others are added to `report` as refusals."""
        candidates = []
        for path in paths:
            if cancel and cancel():
                raise Cancelled("Enrollment cancelled; nothing was saved for this person.")
            try:
                candidates.append(self.candidate_from_file(Path(path)))
            except (EnrollmentError, ImageError) as exc:
                report.refused.append(Refusal(str(path), getattr(exc, "reason", RefusalReason.UNREADABLE), str(exc)))
        return candidates

    def import_tree(self, root: Path, cancel: CancelCheck | None = None) -> Iterator[ImportProgress]:
        """Import a folder with one sub-folder per person (folder name = person name).

        Yields progress after each photo. A person who already exists gets the new photos;
        photos already in the gallery are skipped, so importing twice adds nothing.
        """
        root = Path(root)
        if not root.is_dir():
            raise RollcallError(f"{root} is not a folder. Choose a folder with one sub-folder per person.")
        people = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        files = {p: sorted(f for f in p.iterdir() if f.is_file() and is_image_path(f)) for p in people}
        total = sum(len(v) for v in files.values())
        report = EnrollReport()
        done = 0
        seen: dict[str, Path] = {}  # this import's photos by content: a copy of one is skipped, saying so
        yield ImportProgress(0, total, "", report)
        for folder in people:
            name = folder.name.replace("_", " ").strip()
            candidates = []
            for path in files[folder]:
                if cancel and cancel():
                    raise Cancelled(f"Import cancelled after {done} of {total} photos; people saved so far are kept.")
                try:
                    digest = file_sha256(path)
                    if digest in seen:
                        report.skipped_duplicates += 1
                        first = seen[digest].relative_to(root)
                        report.warnings.append(
                            f"{path.relative_to(root)} is the same photo as {first}; skipped the copy."
                        )
                    elif self.parts.store.find_sample_by_hash(digest) is not None:
                        report.skipped_duplicates += 1
                    else:
                        seen[digest] = path
                        candidates.append(self.candidate_from_file(path, digest))
                except (EnrollmentError, ImageError) as exc:
                    reason = getattr(exc, "reason", RefusalReason.UNREADABLE)
                    report.refused.append(Refusal(str(path), reason, str(exc)))
                done += 1
                yield ImportProgress(done, total, str(path), report)
            if not candidates:
                continue
            existing = self._existing_person(name)
            report.merge(self.save(name, candidates, person_id=existing.id if existing else None))
            yield ImportProgress(done, total, str(folder), report)
