"""Engine operations on the gallery's people: enrollment from photos, captured faces or a folder, and
renaming, merging, removing samples and erasing a person.

Engine inherits these (it stays the one door). On a site's admin station each edit reaches the site server
(kiosks follow at their next sync); on a kiosk they are refused. Each returns an Outcome with its Changes and
notifies subscribers.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import replace
from pathlib import Path

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine_state import EngineState
from core.base.cancel import CancelCheck
from core.base.errors import MonthLockedError
from core.base.records import FileProblem, Person, PersonDeleted
from core.base.timekeeping import AuditAction
from core.gallery.backups import erase_person_from_backups
from core.gallery.enroll import EnrollReport, FaceCandidate, ImportProgress
from core.gallery.unknowns import SNAPSHOTS_FOLDER, clear_group_snapshots
from core.site.service import SiteRole

PEOPLE, SAMPLES, EVENTS = ChangeKind.PEOPLE, ChangeKind.SAMPLES, ChangeKind.EVENTS


class GalleryOperations(EngineState):
    """Mixed into Engine: uses its store, settings, site, enroller, _audit_person, _publish, _done and _site_done."""

    # ---- enrollment ----

    def enroll_files(
        self,
        name: str,
        paths: Iterable[Path],
        external_id: str | None = None,
        add_to_existing: bool = False,
        allow_duplicate: bool = False,
        cancel: CancelCheck | None = None,
    ) -> Outcome[EnrollReport]:
        """Enroll one person from photo files (see Enroller.enroll_files)."""
        self.site.require_gallery_edit()
        report = self.enroller().enroll_files(
            name, [Path(p) for p in paths], external_id, add_to_existing, allow_duplicate, cancel
        )
        return self._site_done(report, self._enroll_changes(report))

    def enroll_candidates(
        self,
        name: str,
        candidates: list[FaceCandidate],
        external_id: str | None = None,
        person_id: int | None = None,
        allow_duplicate: bool = False,
    ) -> Outcome[EnrollReport]:
        """Save captured faces as a new person, or as more samples of `person_id`."""
        self.site.require_gallery_edit()
        report = self.enroller().save(name, candidates, external_id, person_id, allow_duplicate)
        return self._site_done(report, self._enroll_changes(report))

    def add_photos(
        self, person_id: int, paths: Iterable[Path], cancel: CancelCheck | None = None
    ) -> Outcome[EnrollReport]:
        """Add photo files to one person by id."""
        self.site.require_gallery_edit()
        report = self.enroller().add_files(person_id, [Path(p) for p in paths], cancel)
        return self._site_done(report, self._enroll_changes(report))

    def import_folder(
        self, root: Path, cancel: CancelCheck | None = None
    ) -> Generator[ImportProgress, None, Outcome[EnrollReport]]:
        """Import a folder with one sub-folder per person, yielding progress after each photo.

        People saved before a cancel or an error are kept, and published as changes.
        """
        self.site.require_gallery_edit()
        report = EnrollReport()
        try:
            for step in self.enroller().import_tree(Path(root), cancel):
                report = step.report
                yield step
        finally:
            changes = self._site_done(None, self._enroll_changes(report)).changes
        return Outcome(report, changes)

    @staticmethod
    def _enroll_changes(report: EnrollReport) -> Changes:
        kinds = [SAMPLES] if report.samples_added else []
        if report.people_added:
            kinds.append(PEOPLE)
        return Changes.of(*kinds, person_ids=report.person_ids.values(), sample_ids=report.sample_ids)

    # ---- people ----

    def rename_person(self, person_id: int, new_name: str, allow_duplicate: bool = False) -> Outcome[Person]:
        self.site.require_gallery_edit()
        with self.store.transaction():
            before = self.store.get_person(person_id)  # the log keeps no names (erasure): see AuditEntry
            person = self.store.rename_person(person_id, new_name, allow_duplicate=allow_duplicate)
            self._audit_person(AuditAction.PERSON_RENAME, before)
        return self._site_done(person, Changes.of(PEOPLE, person_ids=[person.id]))

    def merge_people(self, keep_id: int, merge_id: int) -> Outcome[dict[str, int]]:
        """Move `merge_id`'s samples and events to `keep_id`, then delete `merge_id`."""
        self.site.require_gallery_edit()
        zone = self.site_zone()
        locked = sorted(
            {f"{e.time.astimezone(zone):%Y-%m}" for e in self.store.events(person_id=merge_id)}
            & set(self.store.locked_months())
        )
        if locked:  # their events would start counting for the person kept, inside a final timesheet
            raise MonthLockedError(
                f"{', '.join(locked)} is locked (its timesheet is final), and the person merged away has events in "
                "it, so merging is refused. Unlock the month first, giving a reason.",
                tuple(locked),
            )
        merged_uuid = self.store.person_uuid(merge_id)
        with self.store.transaction():
            merged = self.store.get_person(merge_id)
            moved = self.store.merge_people(keep_id, merge_id)
            self._audit_person(AuditAction.PERSON_MERGE, merged, {"into_person_id": keep_id, **moved})
        if self.site.role is SiteRole.ADMIN:
            gallery = self.store.site_gallery(person_ids=[keep_id])
            gallery.merged_people[merged_uuid] = self.store.person_uuid(keep_id)
            self.site.push(gallery)
        return self._done(
            moved, Changes.of(PEOPLE, SAMPLES, EVENTS, person_ids=[keep_id, merge_id], deleted_person_ids=[merge_id])
        )

    def remove_samples(self, sample_ids: Iterable[int]) -> Outcome[int]:
        """Remove face samples (with their embeddings); returns how many were removed."""
        self.site.require_gallery_edit()
        sample_ids = [int(i) for i in sample_ids]
        derived = [i for i in self.store.derived_sample_ids(sample_ids) if i not in sample_ids]  # go with them
        self.site.erase_on_server(sample_uuids=self.store.sample_uuids(sample_ids + derived))
        with self.store.transaction():
            removed = sum(self.store.delete_sample(sample_id) for sample_id in sample_ids)
        return self._done(removed, Changes.of(SAMPLES, sample_ids=sample_ids) if removed else Changes())

    @property
    def review_snapshots_dir(self) -> Path:
        """Where `rollcall unknowns` writes each group's best face."""
        return self.settings.data_path / SNAPSHOTS_FOLDER

    def clear_review_listing(self) -> None:
        """An erasure makes the last listing's face files stale: they go (the next listing writes them anew)."""
        clear_group_snapshots(self.review_snapshots_dir)

    def delete_person(self, person_id: int) -> Outcome[PersonDeleted]:
        """Erase a person everywhere: the database (overwritten, vacuumed) and every backup file.
        Backups that could not be scrubbed are named in the record's `backups_not_scrubbed`.
        On a site's admin station the server erases them first (and every kiosk at its next sync).
        The audit log records the delete by id only (no name outlives the erasure)."""
        self.site.require_gallery_edit()
        self.site.erase_on_server(person_uuids=[self.store.person_uuid(person_id)])  # refused there: kept here
        with self.store.transaction():
            person = self.store.get_person(person_id)
            removed = self.store.delete_person(person_id)
            self._audit_person(
                AuditAction.PERSON_DELETE,
                person,
                {"samples": removed.samples, "embeddings": removed.embeddings, "events": removed.events},
            )
        self.store.erase_freed_space()  # skipped inside the transaction
        self.clear_review_listing()  # its face files may show faces given to this person
        changes = self._publish(
            Changes.of(PEOPLE, SAMPLES, EVENTS, person_ids=[person_id], deleted_person_ids=[person_id])
        )
        try:
            backups = self.settings.backups_path
        except OSError as exc:
            problem = FileProblem(self.settings.data_path, str(exc))
            return Outcome(replace(removed, backups_not_scrubbed=(problem,)), changes)
        scrubbed, not_scrubbed = erase_person_from_backups(backups, person_id)
        return Outcome(replace(removed, backups_scrubbed=scrubbed, backups_not_scrubbed=not_scrubbed), changes)
