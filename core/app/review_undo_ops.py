"""Engine operations that take a review back: undo an "Add to person", list dismissed visitors and restore one.

ReviewOperations inherits these. "Add to person" leaves a record of what it did (UnknownAssignment: the faces,
the samples it saved, the events it reassigned by a correction); its undo removes those samples, reassigns the
events to nobody again (a correction too, so the attendance history shows both) and puts the visitor back in
review. A dismissed visitor stays restorable while retention (`storage.retention_days`) keeps their faces.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.app.attendance_ops import current_user
from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine_state import EngineState
from core.attendance.corrections import locked_months_touched
from core.base.errors import InvalidInputError, MonthLockedError
from core.base.records import ReviewState, UnknownFace
from core.base.timekeeping import AuditAction, CorrectionKind
from core.gallery.enroll import EnrollReport


@dataclass(frozen=True)
class UnknownAssignment:
    """What "Add to person" did to an unknown visitor's group, or what its undo took back."""

    group_id: int
    person_id: int
    person_name: str
    face_ids: tuple[int, ...]
    event_ids: tuple[int, ...]  # the sightings that count (or no longer count) as the person's attendance
    sample_ids: tuple[int, ...]  # the face samples saved (or removed)
    correction_ids: tuple[int, ...]  # the reassignments behind it
    days: tuple[date, ...]  # the site-zone days whose attendance it changed
    report: EnrollReport = field(default_factory=EnrollReport, compare=False)
    undone: bool = False  # the record of an undo


@dataclass(frozen=True)
class DismissedVisitor:
    """An unknown visitor's group that was dismissed, still restorable."""

    id: int  # the group's id when it was dismissed
    face_ids: tuple[int, ...]
    first_seen: datetime
    last_seen: datetime
    sources: tuple[str, ...]
    kept_until: datetime | None  # retention deletes the oldest face then; None = kept until erased
    snapshot_jpeg: bytes = field(default=b"", repr=False)

    @property
    def count(self) -> int:
        return len(self.face_ids)


def faces_days(faces: Iterable[UnknownFace], zone) -> list[date]:
    return sorted({face.time.astimezone(zone).date() for face in faces})


class ReviewUndoOperations(EngineState):
    """Mixed into Engine (through ReviewOperations): uses its store, settings, site, _done and _site_done."""

    def _refuse_review_in_locked_month(self, days: list[date], what: str) -> None:
        months = locked_months_touched(days, self.store.locked_months())
        if months:
            raise MonthLockedError(
                f"{', '.join(months)} is locked (its timesheet is final), so {what} is refused. "
                "An admin can unlock the month first, giving a reason.",
                tuple(months),
            )

    # ---- undo "Add to person" ----

    def undo_unknown_assign(self, group_id: int, actor: str | None = None) -> Outcome[UnknownAssignment]:
        """Take back "Add to person" for a visitor: their samples go, their sightings stop counting for the
        person, and the visitor is back in review."""
        self.site.require_gallery_edit()
        self.site.require_hr_edit()
        faces = self.store.reviewed_unknown_faces(group_id, ReviewState.ASSIGNED)
        if not faces or faces[0].person_id is None:
            raise InvalidInputError(
                f"Unknown visitor {group_id} was not added to anyone, or that was already undone; nothing changed."
            )
        person = self.store.get_person(faces[0].person_id)
        done = self.store.unknown_review_details(AuditAction.UNKNOWN_ASSIGN.value, group_id)
        event_ids = [int(i) for i in done.get("event_ids", [])]
        sample_ids = [int(i) for i in done.get("sample_ids", [])]
        days = faces_days(faces, self.site_zone())
        self._refuse_review_in_locked_month(days, f"undoing the review of unknown visitor {group_id}")
        actor = actor or current_user()
        reason = f"Review undone: unknown visitor {group_id} is not this person"
        self.site.erase_on_server(sample_uuids=self.store.sample_uuids(sample_ids))
        with self.store.transaction():
            corrections = [
                self.store.add_correction(CorrectionKind.REASSIGN, reason, actor, event_id=event_id)
                for event_id in event_ids
            ]
            removed = [sample_id for sample_id in sample_ids if self.store.delete_sample(sample_id)]
            self.store.reopen_unknown_faces([f.id for f in faces], ReviewState.ASSIGNED)
            self.store.append_audit(
                actor,
                AuditAction.UNKNOWN_UNASSIGN,
                f"person {person.id}",
                reason,
                {
                    "unknown_group": group_id,
                    "faces": len(faces),
                    "samples_removed": len(removed),
                    "sightings": len(event_ids),
                    "correction_ids": [c.id for c in corrections],
                },
                person_id=person.id,
            )
        record = UnknownAssignment(
            group_id,
            person.id,
            person.name,
            tuple(f.id for f in faces),
            tuple(event_ids),
            tuple(removed),
            tuple(c.id for c in corrections),
            tuple(days),
            undone=True,
        )
        if corrections:
            self.site.publish_hr_book()
        kinds = (ChangeKind.PEOPLE, ChangeKind.SAMPLES, ChangeKind.UNKNOWNS, ChangeKind.CORRECTIONS)
        return self._site_done(record, Changes.of(*kinds, person_ids=[person.id], sample_ids=removed))

    # ---- dismissed visitors ----

    def dismissed_unknowns(self) -> list[DismissedVisitor]:
        """Dismissed visitors whose faces retention still keeps, newest sighting first."""
        by_group: dict[int, list[UnknownFace]] = {}
        for face in self.store.unknown_faces(states=(ReviewState.DISMISSED,)):
            by_group.setdefault(face.review_group if face.review_group is not None else face.id, []).append(face)
        keep_days = self.settings.storage.retention_days
        zone = self.site_zone()
        visitors = []
        for group_id, faces in by_group.items():
            best = max(faces, key=lambda f: (f.face_px, f.sharpness, f.det_prob))
            first, last = faces[0].time.astimezone(zone), faces[-1].time.astimezone(zone)
            visitors.append(
                DismissedVisitor(
                    group_id,
                    tuple(f.id for f in faces),
                    first,
                    last,
                    tuple(dict.fromkeys(f.source for f in faces)),
                    first + timedelta(days=keep_days) if keep_days > 0 else None,
                    self.store.unknown_face_crop(best.id),
                )
            )
        return sorted(visitors, key=lambda v: v.last_seen, reverse=True)

    def restore_unknown_group(self, group_id: int, actor: str | None = None) -> Outcome[DismissedVisitor]:
        """A dismissed visitor is back in review (audited)."""
        visitor = next((v for v in self.dismissed_unknowns() if v.id == group_id), None)
        if visitor is None:
            raise InvalidInputError(
                f"No dismissed visitor {group_id} is kept: restored already, or retention deleted their faces."
            )
        with self.store.transaction():
            self.store.reopen_unknown_faces(visitor.face_ids, ReviewState.DISMISSED)
            self.store.append_audit(
                actor or current_user(),
                AuditAction.UNKNOWN_RESTORE,
                f"unknown group {group_id}",
                "",
                {"unknown_group": group_id, "faces": visitor.count},
            )
        return self._done(visitor, Changes.of(ChangeKind.UNKNOWNS))
