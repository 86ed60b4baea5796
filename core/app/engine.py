"""The one facade the GUI and the CLI hold: settings, the store, the models and the matcher.

Heavy parts (MTCNN, the embedder) load lazily on first use, and the matcher is rebuilt whenever the gallery
changes. The Engine composes the stages and keeps the state (core.app.engine_state); its operations come in
mixins, one module each: people and enrollment (core.app.gallery_ops), models (model_ops), site mode (site_ops),
attendance (attendance_ops), unknown visitors (review_ops) and confusions (confusion_ops).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from core.app.attendance_ops import AttendanceOperations
from core.app.changes import ChangeKind, Changes, Outcome, Subscriber
from core.app.confusion_ops import ConfusionOperations
from core.app.engine_state import T
from core.app.gallery_ops import GalleryOperations
from core.app.import_ops import ImportOperations
from core.app.integration_ops import IntegrationOperations
from core.app.model_host import FusionState
from core.app.model_ops import ModelOperations, ReembedProgress
from core.app.presence_ops import PresenceOperations
from core.app.reporting_ops import ReportingOperations
from core.app.review_ops import ReviewOperations
from core.app.site_ops import SiteOperations
from core.app.trust_ops import TrustOperations
from core.attendance.book import AttendanceBook
from core.attendance.reports import export_csv, range_report
from core.base.cancel import CancelCheck
from core.base.errors import StoreError, StoreProblem
from core.base.records import (
    DayRow,
    GalleryStats,
    HousekeepingStatus,
    ModelRecord,
    Person,
    PersonOverview,
    Sample,
)
from core.base.settings import RecognitionSettings, Settings
from core.gallery.backups import latest_backup, restore_backup
from core.gallery.enroll import Enroller
from core.gallery.parts import PipelineParts
from core.gallery.store import GalleryStore
from core.live.capture import CaptureProgress, capture_samples
from core.live.frame_feed import decoded_frames
from core.live.recognize import FrameResult, Recognizer, recognize_source
from core.live.sources import FrameSource, open_source
from core.site.outbox import acked_seq
from core.site.packages import ModelFiles
from core.site.reports import check_range, export_site_csv, site_range_report
from core.site.service import Site, SiteRole
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


class Engine(
    GalleryOperations,
    ModelOperations,
    SiteOperations,
    AttendanceOperations,
    ReviewOperations,
    ConfusionOperations,
    ImportOperations,
    IntegrationOperations,
    ReportingOperations,
    PresenceOperations,
    TrustOperations,
):
    def __init__(
        self, settings: Settings | None = None, store: GalleryStore | None = None, registry: ModelRegistry | None = None
    ) -> None:
        self.settings = settings or Settings.load()
        self.store = store or GalleryStore(self.settings.database_path)
        # No network at run time: weights are fetched only by an explicit `rollcall models fetch`.
        self.registry = registry or ModelRegistry(allow_network=False)
        self.device = choose_device(self.settings.compute.device)
        if self.device == "cpu":
            configure_threads(self.settings.compute.torch_threads)
        self._lock = threading.RLock()
        self._detector = None
        self._embedders = {}
        self._matcher = None
        self._active_model_id = None
        self._subscribers = []
        self.embed_fallback_reason = None
        self.fusion = FusionState()
        data_dir = Path(self.store.path).parent if self.store.path != ":memory:" else self.settings.data_path
        self.site = Site(self.store, data_dir, self.settings.site)
        self.site.retention = self._retention()
        self.site.model_files = ModelFiles(
            self._shared_model_ids, self._model_onnx_here, self.export_model_file, self._install_site_model
        )
        self._background_sync = None
        self.housekeeping()

    # ---- lifecycle ----

    def close(self) -> None:
        self.stop_integration_delivery()
        self.stop_site_sync()
        self.site.close()
        self.store.close()

    def __enter__(self) -> Engine:
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
                cutoff = datetime.now(UTC) - timedelta(days=self.settings.storage.retention_days)
                unsent_after = acked_seq(self.store) if self.site.joined else None  # never purge the outbox
                purged = self.store.purge(cutoff, keep_seq_above=unsent_after)
            self.purge_evidence()  # marked events' photos: attendance.evidence_days
        except Exception as exc:  # noqa: BLE001
            purge_error = str(exc)
        self._checkpoint_quietly()  # the chain's head signed at least every storage.checkpoint_minutes
        self.housekeeping_status = HousekeepingStatus(
            backup_made, backup_error, purged, purge_error, tuple(self.store.not_owner_only())
        )
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
        return PipelineParts(
            store=self.store,
            detector=lambda: self.detector,
            embedder=lambda: self.embedder(),
            matcher=self.matcher,
            gallery_changed=self.gallery_changed,
        )

    def enroller(self) -> Enroller:
        return Enroller(self.parts, self.settings.enrollment)

    def recognizer(self, options: RecognitionSettings | None = None, source_name: str = "") -> Recognizer:
        """A recognizer with the settings' recognition (or `options`), tracking, liveness and attendance sections."""
        settings = self.settings
        return Recognizer(
            self.parts,
            options or settings.recognition,
            AttendanceBook(self.store, settings.attendance, hold_locked=self.site.role is not SiteRole.KIOSK),
            source_name=source_name,
            tracking=settings.tracking,
            liveness=settings.liveness,
            enrollment=settings.enrollment,
        )

    def open_source(
        self,
        spec: str | int,
        stop_event: threading.Event | None = None,
        on_status: Callable[[str], None] | None = None,
        realtime: bool = False,
    ) -> FrameSource:
        """A camera, video file, URL or image folder, at the camera size from the settings.

        realtime: a video file plays at its own rate and an image folder at IMAGE_FOLDER_FPS (live views);
        otherwise frames come as fast as they are used, an image folder's one second apart.
        """
        paced = {"realtime": True, "fps": IMAGE_FOLDER_FPS} if realtime else {}
        return open_source(
            spec,
            width=self.settings.camera.width_px,
            height=self.settings.camera.height_px,
            stop_event=stop_event,
            on_status=on_status,
            **paced,
        )

    def warm_up(self) -> None:
        """Load the detector, the embedder and the matcher now, not on the first face."""
        _ = self.detector, self.embedder(), self.matcher()

    def recognize(
        self,
        source: FrameSource,
        options: RecognitionSettings | None = None,
        cancel: CancelCheck | None = None,
        threaded: bool = True,
        paced: bool = False,
    ) -> Iterator[FrameResult]:
        """Recognise a source until it ends or `cancel()` is true; one result per frame.

        Frames that wrote attendance events are published as EVENTS changes. paced: see decoded_frames.
        """
        for result in recognize_source(self.recognizer(options, source.name), source, cancel, threaded, paced):
            if result.events:
                self._publish(
                    Changes.of(EVENTS, person_ids=[e.person_id for e in result.events if e.person_id is not None])
                )
            yield result

    def capture(
        self, source: FrameSource, wanted: int, cancel: CancelCheck | None = None, paced: bool = True
    ) -> Iterator[CaptureProgress]:
        """Face samples for enrollment from a live source, with guidance; save them with enroll_candidates."""
        enroller = self.enroller()
        detector = self.detector
        frames = (frame for frame, _ in decoded_frames(source, paced=paced))
        try:
            yield from capture_samples(
                enroller, detector, frames, wanted, source.name, cancel, self.settings.enrollment.capture_gap_s
            )
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
        self._checkpoint_quietly()
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

    def _done(self, value: T, changes: Changes) -> Outcome[T]:
        return Outcome(value, self._publish(changes))

    def _site_done(self, value: T, changes: Changes) -> Outcome[T]:
        """An admin station sends the people it changed to the site server, then tells subscribers."""
        if changes.person_ids and self.site.role is SiteRole.ADMIN:
            present = {p.id for p in self.store.list_people(include_inactive=True)}
            self.site.push_people(changes.person_ids & present)
        return self._done(value, changes)

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
        return GalleryStats(**self.store.stats(), derived=self.store.count_samples(derived=True))

    @property
    def reports_from_server(self) -> bool:
        """Reports read every station's events from the site server (an admin station): a network call,
        so callers on a GUI thread run them in a worker."""
        return self.site.role is SiteRole.ADMIN

    def day_report(self, day: date) -> Sequence[DayRow]:
        return self.range_report(day, day)

    def range_report(self, start: date, end: date) -> Sequence[DayRow]:
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
            count = export_site_csv(self.site.events(start, end), self.store.person_ids_by_uuid(), path)
        else:
            count = export_csv(self.store, path, start, end)
        self.write_manifest(Path(path))  # its sha256, the chain head and this station's signature (trust_ops)
        return count

    # ---- backups ----

    def backup(self, destination: Path | None = None) -> Outcome[Path]:
        """Write a backup copy of the database now (default: a time-stamped file in the backups folder)."""
        destination = destination or self.settings.backups_path / f"rollcall-{datetime.now():%Y-%m-%d-%H%M%S}.db"
        return Outcome(self.store.backup_to(destination))
