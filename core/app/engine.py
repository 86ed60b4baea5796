"""The one facade the GUI and the CLI hold: settings, the store, the models and the matcher.

Heavy parts (MTCNN, the embedder) load lazily on first use, and the matcher is rebuilt whenever the gallery
changes. The Engine composes the stages and keeps the state; its operations come in mixins, one module each:
models (core.app.model_ops), site mode (site_ops), attendance (attendance_ops), unknown visitors (review_ops)
and confusions (confusion_ops).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Generator, Iterable, Iterator

from core.app.attendance_ops import AttendanceOperations
from core.app.changes import ChangeKind, Changes, Outcome, Subscriber
from core.app.confusion_ops import ConfusionOperations
from core.app.import_ops import ImportOperations
from core.app.model_host import FusionState
from core.app.model_ops import ModelOperations, ReembedProgress
from core.app.review_ops import ReviewOperations
from core.app.site_ops import SiteOperations
from core.attendance.book import AttendanceBook
from core.attendance.reports import export_csv, range_report
from core.base.cancel import CancelCheck
from core.base.errors import StoreError, StoreProblem
from core.base.records import (DayRow, FileProblem, GalleryStats, HousekeepingStatus, ModelRecord, Person,
                               PersonDeleted, PersonOverview, Sample)
from core.base.settings import RecognitionSettings, Settings
from core.base.timekeeping import AuditAction
from core.gallery.backups import erase_person_from_backups, latest_backup, restore_backup
from core.gallery.enroll import Enroller, EnrollReport, FaceCandidate, ImportProgress
from core.gallery.match import GalleryMatcher
from core.gallery.parts import PipelineParts
from core.gallery.store import GalleryStore
from core.live.capture import CaptureProgress, capture_samples
from core.live.recognize import FrameResult, Recognizer, decoded_frames, recognize_source
from core.live.sources import FrameSource, open_source
from core.site.outbox import acked_seq
from core.site.packages import ModelFiles
from core.site.reports import check_range, export_site_csv, site_range_report
from core.site.service import BackgroundSync, Site, SiteRole
from core.vision.detect import FaceDetector
from core.vision.embed import Embedder, OnnxEmbedder
from core.vision.models import ModelRegistry
from core.vision.runtime import choose_device, configure_threads, describe_device

__all__ = ["Engine", "ReembedProgress", "RestoreRecord"]

PEOPLE, SAMPLES, EVENTS, SETTINGS = ChangeKind.PEOPLE, ChangeKind.SAMPLES, ChangeKind.EVENTS, ChangeKind.SETTINGS
IMAGE_FOLDER_FPS = 5.0  # an image folder shown live is a slideshow at this rate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreRecord:
    backup: Path  # the backup now in use
    previous_kept_as: Path | None  # the replaced (perhaps damaged) database, renamed


class Engine(ModelOperations, SiteOperations, AttendanceOperations, ReviewOperations, ConfusionOperations,
             ImportOperations):
    def __init__(self, settings: Settings | None = None, store: GalleryStore | None = None,
                 registry: ModelRegistry | None = None) -> None:
        self.settings = settings or Settings.load()
        self.store = store or GalleryStore(self.settings.database_path)
        # No network at run time: weights are fetched only by an explicit `rollcall models fetch`.
        self.registry = registry or ModelRegistry(allow_network=False)
        self.device = choose_device(self.settings.compute.device)
        if self.device == "cpu":
            configure_threads(self.settings.compute.torch_threads)
        self._lock = threading.RLock()
        self._detector: FaceDetector | None = None
        self._embedders: dict[str, Embedder | OnnxEmbedder] = {}
        self._matcher: GalleryMatcher | None = None
        self._active_model_id: str | None = None
        self._subscribers: list[Subscriber] = []
        self.embed_fallback_reason: str | None = None  # why ONNX Runtime was planned but torch runs
        self.fusion = FusionState()
        data_dir = Path(self.store.path).parent if self.store.path != ":memory:" else self.settings.data_path
        self.site = Site(self.store, data_dir, self.settings.site)
        self.site.retention = self._retention()
        self.site.model_files = ModelFiles(self._shared_model_ids, self._model_onnx_here, self.export_model_file,
                                           self._install_site_model)
        self._background_sync: BackgroundSync | None = None
        self.housekeeping()

    # ---- lifecycle ----

    def close(self) -> None:
        self.stop_site_sync()
        self.site.close()
        self.store.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _retention(self) -> timedelta | None:
        days = self.settings.storage.retention_days
        return timedelta(days=days) if days > 0 else None

    def housekeeping(self) -> HousekeepingStatus:
        """Once a day: a backup of the database, the retention purge and the owner-only check. Never blocks
        the app: what failed is in the status (kept as `housekeeping_status` for the GUI and CLI to show)."""
        backup_made = backup_error = purge_error = None
        purged = 0
        try:
            storage = self.settings.storage
            if storage.backups_kept > 0:
                backup_made = self.store.auto_backup(self.settings.backups_path, keep=storage.backups_kept)
        except Exception as exc:  # noqa: BLE001 - housekeeping must never stop attendance
            backup_error = str(exc)
        try:
            if self.settings.storage.retention_days > 0:
                cutoff = datetime.now(timezone.utc) - timedelta(days=self.settings.storage.retention_days)
                unsent_after = acked_seq(self.store) if self.site.joined else None  # never purge the outbox
                purged = self.store.purge(cutoff, keep_seq_above=unsent_after)
        except Exception as exc:  # noqa: BLE001
            purge_error = str(exc)
        self.housekeeping_status = HousekeepingStatus(backup_made, backup_error, purged, purge_error,
                                                      tuple(self.store.not_owner_only()))
        for problem in self.housekeeping_status.problems():
            log.warning("Housekeeping: %s", problem)
        return self.housekeeping_status

    @property
    def device_description(self) -> str:
        return describe_device(self.device)

    def apply_settings(self, settings: Settings) -> None:
        with self._lock:
            self.settings = settings
            self.site.settings = settings.site
            self.site.retention = self._retention()
            self._matcher = None
        self._publish(Changes.of(SETTINGS))

    # ---- recovery (works while the database cannot be opened) ----

    @staticmethod
    def newest_backup(settings: Settings) -> Path | None:
        """The newest backup in the settings' backups folder, or None."""
        try:
            return latest_backup(settings.backups_path)
        except OSError:
            return None

    @staticmethod
    def restore(settings: Settings, backup: Path | None = None) -> RestoreRecord:
        """Replace the database with `backup` (default: the newest); the replaced file is kept."""
        backup = backup or Engine.newest_backup(settings)
        if backup is None:
            raise StoreError(f"No backup found in {settings.backups_path}.", StoreProblem.NO_BACKUP)
        kept = restore_backup(backup, settings.database_path)
        return RestoreRecord(backup=Path(backup), previous_kept_as=kept)

    # ---- pipeline stages ----

    @property
    def parts(self) -> PipelineParts:
        return PipelineParts(store=self.store, detector=lambda: self.detector, embedder=lambda: self.embedder(),
                             matcher=self.matcher, gallery_changed=self.gallery_changed)

    def enroller(self) -> Enroller:
        return Enroller(self.parts, self.settings.enrollment)

    def recognizer(self, options: RecognitionSettings | None = None, source_name: str = "") -> Recognizer:
        """A recognizer with the settings' recognition (or `options`), tracking, liveness and attendance sections."""
        settings = self.settings
        return Recognizer(self.parts, options or settings.recognition, AttendanceBook(self.store, settings.attendance),
                          source_name=source_name, tracking=settings.tracking, liveness=settings.liveness,
                          enrollment=settings.enrollment)

    def open_source(self, spec: str | int, stop_event: threading.Event | None = None,
                    on_status: Callable[[str], None] | None = None, realtime: bool = False) -> FrameSource:
        """A camera, video file, URL or image folder, at the camera size from the settings.

        realtime: a video file plays at its own rate and an image folder at IMAGE_FOLDER_FPS (live views);
        otherwise frames come as fast as they are used, an image folder's one second apart.
        """
        paced = {"realtime": True, "fps": IMAGE_FOLDER_FPS} if realtime else {}
        return open_source(spec, width=self.settings.camera.width_px, height=self.settings.camera.height_px,
                           stop_event=stop_event, on_status=on_status, **paced)

    def warm_up(self) -> None:
        """Load the detector, the embedder and the matcher now, not on the first face."""
        _ = self.detector, self.embedder(), self.matcher()

    def recognize(self, source: FrameSource, options: RecognitionSettings | None = None,
                  cancel: CancelCheck | None = None, threaded: bool = True,
                  paced: bool = False) -> Iterator[FrameResult]:
        """Recognise a source until it ends or `cancel()` is true; one result per frame.

        Frames that wrote attendance events are published as EVENTS changes. paced: see decoded_frames.
        """
        for result in recognize_source(self.recognizer(options, source.name), source, cancel, threaded, paced):
            if result.events:
                self._publish(Changes.of(EVENTS, person_ids=[e.person_id for e in result.events
                                                             if e.person_id is not None]))
            yield result

    def capture(self, source: FrameSource, wanted: int, cancel: CancelCheck | None = None,
                paced: bool = True) -> Iterator[CaptureProgress]:
        """Face samples for enrollment from a live source, with guidance; save them with enroll_candidates."""
        enroller = self.enroller()
        detector = self.detector
        frames = (frame for frame, _ in decoded_frames(source, paced=paced))
        try:
            yield from capture_samples(enroller, detector, frames, wanted, source.name, cancel,
                                       self.settings.enrollment.capture_gap_s)
        finally:
            frames.close()

    # ---- change notification ----

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber(changes)` after every operation that changed something (from the thread that
        ran it); returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)
        return unsubscribe

    def _publish(self, changes: Changes) -> Changes:
        """Drop what the change makes stale, then tell every subscriber once."""
        if not changes:
            return changes
        if changes.touches(PEOPLE, SAMPLES):  # activate_model swaps in its own new matcher
            self.gallery_changed()
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(changes)
            except Exception:  # noqa: BLE001 - the change is committed; a broken listener must not undo that
                log.exception("A change subscriber failed")
        return changes

    def _done(self, value, changes: Changes) -> Outcome:
        return Outcome(value, self._publish(changes))

    def _site_done(self, value, changes: Changes) -> Outcome:
        """An admin station sends the people it changed to the site server, then tells subscribers."""
        if changes.person_ids and self.site.role is SiteRole.ADMIN:
            present = {p.id for p in self.store.list_people(include_inactive=True)}
            self.site.push_people(changes.person_ids & present)
        return self._done(value, changes)

    @staticmethod
    def _enroll_changes(report: EnrollReport) -> Changes:
        kinds = [SAMPLES] if report.samples_added else []
        if report.people_added:
            kinds.append(PEOPLE)
        return Changes.of(*kinds, person_ids=report.person_ids.values(), sample_ids=report.sample_ids)

    # ---- queries ----

    def people(self, search: str | None = None, include_inactive: bool = False) -> list[PersonOverview]:
        """People with their sample counts (one query)."""
        return self.store.people_overview(search, include_inactive)

    def person(self, person_id: int) -> Person:
        return self.store.get_person(person_id)

    def find_person(self, name_or_id: str) -> Person:
        return self.store.find_person(name_or_id)

    def samples(self, person_id: int) -> list[Sample]:
        return self.store.list_samples(person_id)

    def sample_crop(self, sample_id: int) -> bytes:
        return self.store.sample_crop(sample_id)

    def models(self) -> list[ModelRecord]:
        return self.store.list_models()

    def model(self, model_id: str) -> ModelRecord:
        return self.store.get_model(model_id)

    def stats(self) -> GalleryStats:
        return GalleryStats(**self.store.stats())

    @property
    def reports_from_server(self) -> bool:
        """Reports read every station's events from the site server (an admin station): a network call,
        so callers on a GUI thread run them in a worker."""
        return self.site.role is SiteRole.ADMIN

    def day_report(self, day: date) -> list[DayRow]:
        return self.range_report(day, day)

    def range_report(self, start: date, end: date) -> list[DayRow]:
        """On a site's admin station: the whole site (SiteDayRow, with the stations)."""
        if self.site.role is SiteRole.ADMIN:
            check_range(start, end)
            return site_range_report(self.site.events(start, end), self.store.person_ids_by_uuid())
        return range_report(self.store, start, end)

    def export_csv(self, path: Path | str, start: date, end: date) -> int:
        """Write the events from `start` to `end` as CSV; returns the number of rows.

        On a site's admin station every station's events, with a `kiosk` column."""
        if self.site.role is SiteRole.ADMIN:
            check_range(start, end)
            return export_site_csv(self.site.events(start, end), self.store.person_ids_by_uuid(), path)
        return export_csv(self.store, path, start, end)

    # ---- enrollment ----

    def enroll_files(self, name: str, paths: Iterable[Path], external_id: str | None = None,
                     add_to_existing: bool = False, allow_duplicate: bool = False,
                     cancel: CancelCheck | None = None) -> Outcome[EnrollReport]:
        """Enroll one person from photo files (see Enroller.enroll_files)."""
        self.site.require_gallery_edit()
        report = self.enroller().enroll_files(name, [Path(p) for p in paths], external_id, add_to_existing,
                                              allow_duplicate, cancel)
        return self._site_done(report, self._enroll_changes(report))

    def enroll_candidates(self, name: str, candidates: list[FaceCandidate], external_id: str | None = None,
                          person_id: int | None = None, allow_duplicate: bool = False) -> Outcome[EnrollReport]:
        """Save captured faces as a new person, or as more samples of `person_id`."""
        self.site.require_gallery_edit()
        report = self.enroller().save(name, candidates, external_id, person_id, allow_duplicate)
        return self._site_done(report, self._enroll_changes(report))

    def add_photos(self, person_id: int, paths: Iterable[Path],
                   cancel: CancelCheck | None = None) -> Outcome[EnrollReport]:
        """Add photo files to one person by id."""
        self.site.require_gallery_edit()
        report = self.enroller().add_files(person_id, [Path(p) for p in paths], cancel)
        return self._site_done(report, self._enroll_changes(report))

    def import_folder(self, root: Path, cancel: CancelCheck | None = None
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

    # ---- people ----

    def rename_person(self, person_id: int, new_name: str, allow_duplicate: bool = False) -> Outcome[Person]:
        self.site.require_gallery_edit()
        with self.store.transaction():
            before = self.store.get_person(person_id)  # the log keeps no names (erasure): see AuditEntry
            person = self.store.rename_person(person_id, new_name, allow_duplicate=allow_duplicate)
            self._audit_person(AuditAction.PERSON_RENAME, before)
        return self._site_done(person, Changes.of(PEOPLE, person_ids=[person.id]))

    def set_external_id(self, person_id: int, external_id: str | None) -> Outcome[Person]:
        self.site.require_gallery_edit()
        person = self.store.set_external_id(person_id, external_id)
        return self._site_done(person, Changes.of(PEOPLE, person_ids=[person.id]))

    def merge_people(self, keep_id: int, merge_id: int) -> Outcome[dict[str, int]]:
        """Move `merge_id`'s samples and events to `keep_id`, then delete `merge_id`."""
        self.site.require_gallery_edit()
        merged_uuid = self.store.person_uuid(merge_id)
        with self.store.transaction():
            merged = self.store.get_person(merge_id)
            moved = self.store.merge_people(keep_id, merge_id)
            self._audit_person(AuditAction.PERSON_MERGE, merged, {"into_person_id": keep_id, **moved})
        if self.site.role is SiteRole.ADMIN:
            gallery = self.store.site_gallery(person_ids=[keep_id])
            gallery.merged_people[merged_uuid] = self.store.person_uuid(keep_id)
            self.site.push(gallery)
        return self._done(moved, Changes.of(PEOPLE, SAMPLES, EVENTS, person_ids=[keep_id, merge_id],
                                            deleted_person_ids=[merge_id]))

    def remove_samples(self, sample_ids: Iterable[int]) -> Outcome[int]:
        """Remove face samples (with their embeddings); returns how many were removed."""
        self.site.require_gallery_edit()
        sample_ids = [int(i) for i in sample_ids]
        self.site.erase_on_server(sample_uuids=self.store.sample_uuids(sample_ids))
        with self.store.transaction():
            removed = sum(self.store.delete_sample(sample_id) for sample_id in sample_ids)
        return self._done(removed, Changes.of(SAMPLES, sample_ids=sample_ids) if removed else Changes())

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
            self._audit_person(AuditAction.PERSON_DELETE, person, {
                "samples": removed.samples, "embeddings": removed.embeddings, "events": removed.events})
        self.store.erase_freed_space()  # skipped inside the transaction
        changes = self._publish(Changes.of(PEOPLE, SAMPLES, EVENTS, person_ids=[person_id],
                                           deleted_person_ids=[person_id]))
        try:
            backups = self.settings.backups_path
        except OSError as exc:
            problem = FileProblem(self.settings.data_path, str(exc))
            return Outcome(replace(removed, backups_not_scrubbed=(problem,)), changes)
        scrubbed, not_scrubbed = erase_person_from_backups(backups, person_id)
        return Outcome(replace(removed, backups_scrubbed=scrubbed, backups_not_scrubbed=not_scrubbed), changes)

    # ---- backups ----

    def backup(self, destination: Path | None = None) -> Outcome[Path]:
        """Write a backup copy of the database now (default: a time-stamped file in the backups folder)."""
        destination = destination or self.settings.backups_path / f"rollcall-{datetime.now():%Y-%m-%d-%H%M%S}.db"
        return Outcome(self.store.backup_to(destination))
