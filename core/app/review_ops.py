"""Engine operations for reviewing unknown visitors: list them grouped, enroll a group as a new person,
add it to someone enrolled (its sightings become their attendance), or dismiss it. Undo and restore:
core.app.review_undo_ops.

Engine inherits these (it stays the one door). A group is named by its id (its smallest face id) within
a span of days; each operation groups that span again, so it acts on what the caller listed (plus any
sighting of the same stranger since). Enrolling goes through the Enroller: the group's best faces by
quality are checked by the enrollment gates and embedded for the active model. Each mutation writes its
audit entry in the same transaction, returns an Outcome with its Changes and notifies subscribers.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import numpy as np

from core.app import fusion_setup
from core.app.attendance_ops import current_user
from core.app.changes import ChangeKind, Changes, Outcome
from core.app.review_undo_ops import ReviewUndoOperations, UnknownAssignment, faces_days
from core.attendance.schedule import DAY, localize
from core.base.errors import EnrollmentError, ImageError, InvalidInputError, RefusalReason
from core.base.records import ReviewState, UnknownFace
from core.base.timekeeping import AuditAction, CorrectionKind
from core.gallery.enroll import EnrollReport, FaceCandidate, Refusal
from core.gallery.names import clean_name
from core.gallery.unknowns import UnknownGroup, group_faces, group_threshold
from core.vision.images import decode_jpeg

PEOPLE, SAMPLES, SCHEDULES, UNKNOWNS, CORRECTIONS = (
    ChangeKind.PEOPLE,
    ChangeKind.SAMPLES,
    ChangeKind.SCHEDULES,
    ChangeKind.UNKNOWNS,
    ChangeKind.CORRECTIONS,
)


class ReviewOperations(ReviewUndoOperations):
    """Mixed into Engine: uses its store, settings, site, enroller, matcher, embedder, _done and _site_done."""

    # ---- queries ----

    def unknown_range(self, first: date | None = None, last: date | None = None) -> tuple[date, date]:
        """The days to group: as given, else the last `review.days_shown` days ending today (site time)."""
        last = last or (self.site_today() if first is None else max(first, self.site_today()))
        first = first or last - timedelta(days=max(1, self.settings.review.days_shown) - 1)
        if last < first:
            raise InvalidInputError(f"The end date {last} is before the start date {first}.")
        return first, last

    def unknown_groups(self, first: date | None = None, last: date | None = None) -> list[UnknownGroup]:
        """Open (not yet reviewed) unknown faces seen from `first` to `last`, grouped; newest sighting first."""
        groups = self._group_unknowns(*self.unknown_range(first, last))
        return [replace(g, snapshot_jpeg=self.store.unknown_face_crop(g.snapshot_face_id)) for g in groups]

    def unknown_face_crop(self, face_id: int) -> bytes:
        return self.store.unknown_face_crop(face_id)

    def unknown_threshold(self) -> float:
        """The score at which unknown faces are grouped together, on the active matcher's scale."""
        matcher = self.matcher()
        floor, _ = fusion_setup.decision(self, matcher.model_id)
        impostors = fusion_setup.impostors(self, matcher.model_id)
        return group_threshold(floor, impostors.std if impostors else None, self.settings.review.group_above_floor_stds)

    def _group_unknowns(self, first: date, last: date) -> list[UnknownGroup]:
        zone = self.site_zone()
        faces = self.store.unknown_faces(
            localize(datetime.combine(first, time()), zone), localize(datetime.combine(last + DAY, time()), zone)
        )
        if not faces:
            return []
        matcher = self.matcher()
        vectors = self._unknown_vectors(faces, matcher.model_id)
        return group_faces(faces, vectors, matcher.scale, self.unknown_threshold(), self.settings.enrollment)

    def _unknown_vectors(self, faces: list[UnknownFace], model_id: str) -> np.ndarray:
        """Each face's vector by `model_id`; a face kept under another model is embedded again from its crop."""
        rows = {i: f.vector for i, f in enumerate(faces) if f.model_id == model_id and f.vector is not None}
        other = [i for i in range(len(faces)) if i not in rows]
        if other:
            embedder = self.embedder()
            again = embedder.embed([decode_jpeg(self.store.unknown_face_crop(faces[i].id)) for i in other])
            rows.update(zip(other, again, strict=True))
        return np.stack([np.asarray(rows[i], np.float32) for i in range(len(faces))])

    def _unknown_group(self, group_id: int, first: date | None, last: date | None) -> UnknownGroup:
        first, last = self.unknown_range(first, last)
        groups = self._group_unknowns(first, last)
        for group in groups:
            if group.id == group_id:
                return group
        for group in groups:
            if group_id in group.face_ids:
                raise InvalidInputError(
                    f"Unknown group {group_id} has joined group {group.id} (a later sighting "
                    "linked them); list the groups again and use that id."
                )
        reviewed = [f for f in self.store.unknown_faces_by_id([group_id]) if f.state is not ReviewState.OPEN]
        if reviewed:
            raise InvalidInputError(f"Unknown group {group_id} was already reviewed ({reviewed[0].state.value}).")
        raise InvalidInputError(
            f"No open unknown group {group_id} was seen from {first} to {last}; "
            "list the groups of those days for their ids."
        )

    # ---- enrolling ----

    def _group_candidates(self, group: UnknownGroup, report: EnrollReport) -> list[FaceCandidate]:
        """The group's best faces that pass the enrollment gates, at most `review.enroll_samples` of them."""
        enroller = self.enroller()
        wanted = max(1, self.settings.review.enroll_samples)
        faces = {f.id: f for f in self.store.unknown_faces_by_id(group.best_face_ids)}
        candidates: list[FaceCandidate] = []
        for face_id in group.best_face_ids:
            if len(candidates) >= wanted:
                break
            face = faces[face_id]
            jpeg = self.store.unknown_face_crop(face_id)
            source = f"unknown face {face_id} ({face.source}, {face.time:%Y-%m-%d %H:%M:%S})"
            try:
                candidates.append(
                    enroller.candidate_from_frame(
                        decode_jpeg(jpeg), source, content_hash=hashlib.sha256(jpeg).hexdigest()
                    )
                )
            except (EnrollmentError, ImageError) as exc:
                report.refused.append(Refusal(source, getattr(exc, "reason", RefusalReason.UNREADABLE), str(exc)))
        if not candidates:
            reasons = "; ".join(r.message for r in report.refused[:3])
            raise EnrollmentError(
                f"None of the {group.count} faces of unknown group {group.id} passes the enrollment checks: {reasons}",
                RefusalReason.REFUSED,
            )
        return candidates

    @staticmethod
    def _review_details(group: UnknownGroup, saved: EnrollReport | None = None) -> dict:
        details = {
            "unknown_group": group.id,
            "faces": group.count,
            "first_seen": group.first_seen.isoformat(),
            "last_seen": group.last_seen.isoformat(),
            "sources": list(group.sources),
        }
        if saved is not None:
            details["samples"] = saved.samples_added
        return details

    def enroll_unknown_group(
        self,
        group_id: int,
        name: str,
        group: str | None = None,
        *,
        first: date | None = None,
        last: date | None = None,
        external_id: str | None = None,
        allow_duplicate: bool = False,
        actor: str | None = None,
    ) -> Outcome[EnrollReport]:
        """Enroll an unknown group as a new person (optionally in a schedule group) from its best faces."""
        self.site.require_gallery_edit()
        name = clean_name(name)
        schedule_group = self.store.find_group(group) if group else None  # a wrong name enrolls nobody
        unknowns = self._unknown_group(group_id, first, last)
        report = EnrollReport()
        candidates = self._group_candidates(unknowns, report)
        actor = actor or current_user()
        with self.store.transaction():
            saved = self.enroller().save(name, candidates, external_id, None, allow_duplicate)
            if not saved.person_ids:
                raise EnrollmentError(
                    f"Every face of unknown group {unknowns.id} is already enrolled; nobody was added.",
                    RefusalReason.DUPLICATE,
                )
            person_id = next(iter(saved.person_ids.values()))
            if schedule_group is not None:
                self.store.set_person_group(person_id, schedule_group.id)
                self.store.append_audit(
                    actor,
                    AuditAction.GROUP_ASSIGN,
                    f"person {person_id}",
                    "",
                    {"group": schedule_group.name},
                    person_id=person_id,
                )
            self.store.set_unknown_review(unknowns.face_ids, ReviewState.ENROLLED, person_id, unknowns.id)
            self.store.append_audit(
                actor,
                AuditAction.UNKNOWN_ENROLL,
                f"person {person_id}",
                "",
                self._review_details(unknowns, saved),
                person_id=person_id,
            )
        report.merge(saved)
        if schedule_group is not None:
            self.site.publish_hr_book()  # in a site, the membership reaches every kiosk
        kinds = [PEOPLE, SAMPLES, UNKNOWNS] + ([SCHEDULES] if schedule_group is not None else [])
        return self._site_done(report, Changes.of(*kinds, person_ids=[person_id], sample_ids=saved.sample_ids))

    def assign_unknown_group(
        self,
        group_id: int,
        person_id: int,
        *,
        first: date | None = None,
        last: date | None = None,
        actor: str | None = None,
    ) -> Outcome[UnknownAssignment]:
        """Add an unknown group's best faces to a person already enrolled, and count its sightings as their
        attendance: each sighting's event is reassigned to them by a correction. Undo: undo_unknown_assign."""
        self.site.require_gallery_edit()
        self.site.require_hr_edit()
        person = self.store.get_person(person_id)
        unknowns = self._unknown_group(group_id, first, last)
        faces = self.store.unknown_faces_by_id(unknowns.face_ids)
        event_ids = [f.event_id for f in faces if f.event_id is not None]
        days = faces_days(faces, self.site_zone())
        self._refuse_review_in_locked_month(days, f"adding unknown visitor {unknowns.id} to {person.name}")
        report = EnrollReport()
        candidates = self._group_candidates(unknowns, report)
        actor = actor or current_user()
        reason = f"Review: unknown visitor {unknowns.id} is this person"
        with self.store.transaction():
            saved = self.enroller().save(person.name, candidates, person_id=person.id)
            corrections = [
                self.store.add_correction(CorrectionKind.REASSIGN, reason, actor, event_id=e, person_id=person.id)
                for e in event_ids
            ]
            self.store.set_unknown_review(unknowns.face_ids, ReviewState.ASSIGNED, person.id, unknowns.id)
            details = self._review_details(unknowns, saved)
            details.update(
                sample_ids=list(saved.sample_ids),
                event_ids=event_ids,
                correction_ids=[c.id for c in corrections],
            )
            self.store.append_audit(
                actor, AuditAction.UNKNOWN_ASSIGN, f"person {person.id}", reason, details, person_id=person.id
            )
        report.merge(saved)
        record = UnknownAssignment(
            unknowns.id,
            person.id,
            person.name,
            unknowns.face_ids,
            tuple(event_ids),
            tuple(saved.sample_ids),
            tuple(c.id for c in corrections),
            tuple(days),
            report,
        )
        if corrections:
            self.site.publish_hr_book()  # in a site, the reassignments reach every kiosk
        return self._site_done(
            record,
            Changes.of(PEOPLE, SAMPLES, UNKNOWNS, CORRECTIONS, person_ids=[person.id], sample_ids=saved.sample_ids),
        )

    def dismiss_unknown_group(
        self, group_id: int, *, first: date | None = None, last: date | None = None, actor: str | None = None
    ) -> Outcome[int]:
        """Nobody to enroll: the group's faces leave the list (kept until retention purges them)."""
        unknowns = self._unknown_group(group_id, first, last)
        with self.store.transaction():
            dismissed = self.store.set_unknown_review(unknowns.face_ids, ReviewState.DISMISSED, None, unknowns.id)
            self.store.append_audit(
                actor or current_user(),
                AuditAction.UNKNOWN_DISMISS,
                f"unknown group {unknowns.id}",
                "",
                self._review_details(unknowns),
            )
        return self._done(dismissed, Changes.of(UNKNOWNS))
