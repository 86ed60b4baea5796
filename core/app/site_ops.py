"""Engine operations for site mode (core.site): status, init, join and leave, sync rounds in the foreground or
the background, and what a pulled gallery changes here (the active model, the matcher, erasures in the backups).

Engine inherits these (it stays the one door). Each round returns an Outcome with its Changes and notifies
subscribers, also when it fails after its pull had applied a gallery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine_state import EngineState
from core.base.cancel import CancelCheck
from core.base.errors import Cancelled, ModelNotFoundError
from core.base.records import SiteGallery
from core.gallery.store import GalleryStore
from core.site.connection import SiteError
from core.site.gallery import PullReport
from core.site.service import BackgroundSync, SiteStatus, SyncProgress, SyncReport

PEOPLE, SAMPLES, EVENTS, MODELS, SITE = (
    ChangeKind.PEOPLE,
    ChangeKind.SAMPLES,
    ChangeKind.EVENTS,
    ChangeKind.MODELS,
    ChangeKind.SITE,
)

log = logging.getLogger(__name__)


class SiteOperations(EngineState):
    """Mixed into Engine: uses its site, store, settings, _lock and cached model state, _background_sync,
    _model_can_run, _done and _publish."""

    def site_status(self, check_server: bool = True) -> SiteStatus:
        """The role, the server (without password), reachability, last sync and the queue."""
        return self.site.status(check_server)

    def site_init(self, url: str, station: str = "admin") -> Outcome[SiteStatus]:
        """Make this data folder the site's admin station (schema created, local gallery uploaded)."""
        status = self.site.init(url, station)
        self._after_pull()
        return self._done(status, Changes.of(SITE, PEOPLE, SAMPLES, MODELS))

    def site_join(self, url: str, kiosk: str) -> Outcome[SiteStatus]:
        """Make this data folder a kiosk of the site, with its own login, and pull the gallery."""
        status = self.site.join(url, kiosk)
        self._after_pull()
        return self._done(status, Changes.of(SITE, PEOPLE, SAMPLES, MODELS))

    def site_leave(self, force: bool = False) -> Outcome[None]:
        """Back to standalone; local people and events stay. Refused while events are unsent, unless forced."""
        self.stop_site_sync()
        self.site.leave(force)
        return self._done(None, Changes.of(SITE))

    def site_retire(self, kiosk: str) -> Outcome[None]:
        """The admin station retires a kiosk: its login ends at once, even while it holds a transaction open."""
        self.site.retire(kiosk)
        return self._done(None, Changes.of(SITE))

    def site_sync(self, cancel: CancelCheck | None = None) -> Generator[SyncProgress, None, Outcome[SyncReport]]:
        """One push-and-pull round with the site server; raises SiteError when it cannot be reached."""
        try:
            report = yield from self.site.sync(cancel)
        except (SiteError, Cancelled):
            self._publish(self._failed_sync_changes())  # the status bar shows the station offline, with its queue
            raise
        return Outcome(report, self._publish(self._sync_changes(report)))

    def sync_site_now(self) -> Outcome[SyncReport]:
        generator = self.site_sync()
        while True:
            try:
                next(generator)
            except StopIteration as done:
                return done.value

    def start_site_sync(self, on_result: Callable[[SyncReport | SiteError], None] | None = None) -> bool:
        """Sync in the background while the app or `recognize` runs (no-op when standalone)."""
        if not self.site.joined or self._background_sync is not None:
            return False

        def handle(result: SyncReport | SiteError) -> None:
            if isinstance(result, SyncReport):
                self._publish(self._sync_changes(result))
            else:
                self._publish(self._failed_sync_changes())
            if on_result:
                on_result(result)

        self._background_sync = BackgroundSync(self.site, handle).start()
        return True

    def stop_site_sync(self) -> None:
        background, self._background_sync = self._background_sync, None
        if background is not None:
            background.stop()

    def _sync_changes(self, report: SyncReport) -> Changes:
        self._checkpoint_quietly(force=True)  # every sync ends with a signed checkpoint of the chain's head
        changes = self._pulled_changes(report.pull)
        self.site.unreported_pull = None
        if report.models_installed:  # the site's active model may run here now
            self._after_pull()
            changes = changes | Changes.of(MODELS, model_ids=list(report.models_installed))
        mirrored = report.events_mirrored
        if mirrored is not None and (mirrored.added or mirrored.updated):
            changes = changes | Changes.of(EVENTS)
        if report.hr_book_changed:
            changes = changes | Changes.of(ChangeKind.SCHEDULES, ChangeKind.CORRECTIONS)
        return changes

    def _pulled_changes(self, pull: PullReport | None) -> Changes:
        """A pulled gallery reaches the matcher, the active model and the backups (erasures)."""
        if pull is None or not pull.changed:
            return Changes.of(SITE)
        self._after_pull()
        self._erase_from_backups(pull.erased_person_uuids)
        return Changes.of(SITE, PEOPLE, SAMPLES, EVENTS, MODELS)

    def _failed_sync_changes(self) -> Changes:
        """A round that failed after its pull had applied a gallery: it still reaches the matcher now."""
        pull, self.site.unreported_pull = self.site.unreported_pull, None
        return self._pulled_changes(pull)

    def _after_pull(self) -> None:
        """The site's active model (when this station has it) and a fresh matcher."""
        site_model = self.store.meta_value("site_active_model")
        with self._lock:
            if site_model and site_model != self.store.active_model_id():
                try:
                    self.store.get_model(site_model)
                    if self._model_can_run(site_model):  # else it switches once the files arrive
                        self.store.set_active_model(site_model)
                        self._active_model_id, self._detector = None, None
                    else:
                        log.warning("The site uses model %s; its files are not here yet.", site_model)
                except ModelNotFoundError:
                    log.warning("The site uses model %s, which this station does not have.", site_model)
            self._matcher = None

    def _erase_from_backups(self, person_uuids: Iterable[str]) -> None:
        """People erased on the site server leave this station's backup files too."""
        erased = SiteGallery(erased_people=list(person_uuids))
        if not erased:
            return
        self.clear_review_listing()
        for backup in sorted(self.settings.backups_path.glob("rollcall-*.db")):
            try:
                with GalleryStore(backup) as old:
                    old.apply_site_gallery(erased)
            except Exception as exc:  # noqa: BLE001 - report, but the live database is already clean
                log.warning("Could not erase people from backup %s: %s", backup, exc)
