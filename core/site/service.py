"""A station's place in a site: its role, joining and leaving, one sync round.

The role lives in the local database (so it travels with the data folder), the server URL and
password in the 0600 credentials file, the tunables in Settings.site. Status and reading the site are
in core.site.status, model files in core.site.model_sharing, the syncing thread in core.site.background;
their public names are importable from here too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from core.base.errors import Cancelled
from core.base.records import SiteGallery
from core.base.settings import SiteSettings
from core.gallery.store import GalleryStore
from core.site import attendance as site_attendance
from core.site import gallery as site_gallery
from core.site import membership, model_sharing, outbox
from core.site import packages as site_packages
from core.site.background import BackgroundSync
from core.site.connection import (
    Credentials,
    SiteError,
    SiteProblem,
    check_url,
    connect,
    load_credentials,
    remove_credentials,
    save_credentials,
    server_error,
    unreachable,
)
from core.site.driver import psycopg
from core.site.hardening import hardening_gaps
from core.site.intake import write_limits
from core.site.records import (
    ADMIN_STATION_DEFAULT,
    BOOK_DIRTY_KEY,
    DIRTY_KEY,
    KIOSK_ID_KEY,
    LAST_ERROR_KEY,
    LAST_SYNC_KEY,
    ROLE_KEY,
    STATION_KEY,
    ModelRefused,
    SiteRole,
    SyncProgress,
    SyncReport,
    SyncStage,
)
from core.site.roles import check_station_name, retire_stale_logins, retire_station
from core.site.schema import migrate
from core.site.status import (
    ServerStatus,
    SiteEvent,
    SiteStatus,
    StationStatus,
    read_server_status,
    read_site_events,
)
from core.site.trust import REFUSED_KEY, record_skipped, skipped_rows

__all__ = ["ADMIN_STATION_DEFAULT", "BackgroundSync", "ModelRefused", "Site", "SiteEvent", "SiteRole", "SiteStatus",
           "StationStatus", "SyncProgress", "SyncReport", "SyncStage"]

log = logging.getLogger(__name__)

BACKUPS_FOLDER = "backups"  # in the data folder (Settings.backups_path)


class Site:
    """This station's link to the site server (one shared connection, used under a lock)."""

    def __init__(self, store: GalleryStore, data_dir: Path, settings: SiteSettings):
        self.store, self.data_dir, self.settings = store, Path(data_dir), settings
        self._lock = threading.RLock()
        self._conn: psycopg.Connection | None = None
        self.retention: timedelta | None = None  # the admin station drops strangers' faces on the server after it
        # The last gallery pull applied by a round that then failed: the Engine still owes it a fresh matcher.
        self.unreported_pull: site_gallery.PullReport | None = None
        self.model_files: site_packages.ModelFiles | None = None  # trained models' files travel (set by the Engine)

    # ---- role ----

    @property
    def role(self) -> SiteRole:
        return SiteRole(self.store.meta_value(ROLE_KEY) or SiteRole.STANDALONE)

    @property
    def station(self) -> str | None:
        return self.store.meta_value(STATION_KEY)

    @property
    def joined(self) -> bool:
        return self.role is not SiteRole.STANDALONE

    def credentials(self) -> Credentials:
        credentials = load_credentials(self.data_dir)
        if credentials is None or not self.joined:
            raise SiteError("This station is not part of a site. Use `rollcall site init URL` (admin station) or "
                            "`rollcall site join URL --kiosk NAME`.", SiteProblem.NOT_JOINED)
        return credentials

    # ---- the connection ----

    def _connection(self) -> psycopg.Connection:
        """The shared connection; one the server dropped meanwhile (a restart) is replaced, not reported."""
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            try:
                with self._conn.transaction():
                    self._conn.execute("SELECT 1")
                return self._conn
            except psycopg.OperationalError:
                pass
        self.close()
        self._conn = connect(self.credentials(), self.settings)
        return self._conn

    def _run(self, work: Callable[[psycopg.Connection], object]):
        """Run `work` with the connection; a lost connection becomes SiteError and is dropped."""
        with self._lock:
            try:
                return work(self._connection())
            except psycopg.errors.InsufficientPrivilege as exc:
                raise SiteError(f"The site server refused this: {exc.diag.message_primary}. Gallery changes need "
                                "the admin station.", SiteProblem.NOT_ALLOWED) from None
            except psycopg.OperationalError as exc:
                self.close()
                raise unreachable(self.credentials(), exc) from None
            except psycopg.Error as exc:
                raise server_error(exc) from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except psycopg.Error:
                    pass
                self._conn = None

    # ---- joining and leaving ----

    def _refuse_if_joined(self) -> None:
        if self.joined:
            raise SiteError(f"This station is already the {self.role} {self.station!r} of a site; run "
                            "`rollcall site leave` first.", SiteProblem.ALREADY_JOINED)

    def init(self, url: str, station: str = ADMIN_STATION_DEFAULT) -> SiteStatus:
        """Make this data folder an admin station: create or update the schema, upload the local gallery."""
        self._refuse_if_joined()
        station = check_station_name(station, kiosk=False)
        credentials = check_url(url)
        kiosk_id, high = membership.init_on_server(self.store, credentials, self.settings, station)
        self.store.raise_event_seq(high)
        save_credentials(self.data_dir, credentials)
        self.store.set_meta_values({ROLE_KEY: SiteRole.ADMIN, STATION_KEY: station, KIOSK_ID_KEY: str(kiosk_id),
                                    outbox.ACKED_KEY: "0", BOOK_DIRTY_KEY: "1"})
        return self.status()

    def join(self, url: str, kiosk: str) -> SiteStatus:
        """Make this data folder a kiosk: its own least-privilege login, then the gallery pulled. Joining under
        the name of an earlier copy retires that copy's login; the returned status's `notice` says what the
        earlier copy still held."""
        self._refuse_if_joined()
        kiosk = check_station_name(kiosk, kiosk=True)  # before anything reaches the server
        people = self.store.stats()["people"]
        if people:
            raise SiteError(f"This data folder already has {people} people. A kiosk's gallery comes from the site "
                            "server: join with an empty data folder, or make this one the admin station with "
                            "`rollcall site init`.", SiteProblem.ALREADY_JOINED)
        registered, own = membership.join_on_server(self.store, check_url(url), self.settings, kiosk)
        self.store.raise_event_seq(registered.high_seq)
        save_credentials(self.data_dir, own)
        self.store.set_meta_values({ROLE_KEY: SiteRole.KIOSK, STATION_KEY: kiosk,
                                    KIOSK_ID_KEY: str(registered.kiosk_id), outbox.ACKED_KEY: "0"})
        notice = membership.replaced_notice(kiosk, registered)
        if notice:
            log.warning("%s", notice)
        return replace(self.status(), notice=notice)

    def leave(self, force: bool = False) -> None:
        """Back to standalone, keeping every local row. Refused while events are unsent, unless forced."""
        if not self.joined:
            raise SiteError("This station is not part of a site.", SiteProblem.NOT_JOINED)
        try:
            for _ in self.sync():
                pass
            if self.role is SiteRole.KIOSK:  # its login can add no more events
                self._run(lambda conn: conn.execute("SELECT rollcall_leave()"))
        except SiteError as exc:
            if not force:
                raise SiteError(f"{exc} Leave anyway with --force: {outbox.queue_length(self.store)} queued events "
                                "then stay only on this station.", SiteProblem.UNSENT_EVENTS) from None
        queued = outbox.queue_length(self.store)
        if queued and not force:
            raise SiteError(f"{queued} events are not on the server yet; sync first or leave with --force.",
                            SiteProblem.UNSENT_EVENTS)
        self.close()
        remove_credentials(self.data_dir)
        self.store.set_meta_values({key: None for key in membership.SITE_META_KEYS})

    def retire(self, kiosk: str) -> None:
        """The admin station retires a kiosk (stolen, or gone without `site leave`): its login stops working and
        its sessions end first, so even one holding a transaction open cannot stop this."""
        if self.role is not SiteRole.ADMIN:
            raise SiteError("Only the admin station retires a kiosk.", SiteProblem.NEEDS_ADMIN)
        self._run(lambda conn: retire_station(conn, kiosk))

    def what_leaving_keeps(self) -> str:
        """What this station keeps of the site's data after `leave` ("" when standalone)."""
        return {SiteRole.KIOSK: membership.LEFT_KIOSK_KEEPS, SiteRole.ADMIN: membership.LEFT_ADMIN_KEEPS}.get(
            self.role, "")

    # ---- one sync round ----

    def sync(self, cancel: Callable[[], bool] | None = None) -> Generator[SyncProgress, None, SyncReport]:
        """Push (an admin's unsent gallery edits, then the event outbox) and pull the gallery."""
        credentials = self.credentials()
        kiosk_id = int(self.store.meta_value(KIOSK_ID_KEY) or 0)
        with self._lock:
            try:
                yield SyncProgress(SyncStage.CONNECT)
                conn = self._connection()
                pushed = False
                if self.role is SiteRole.ADMIN:
                    migrate(conn)
                    write_limits(conn, self.settings)
                    retire_stale_logins(conn)  # a kiosk that left, or was replaced, while its login lived on
                    if self.store.meta_value(DIRTY_KEY):
                        yield SyncProgress(SyncStage.PUSH_GALLERY)
                        site_gallery.push(conn, self.store.site_gallery(), self.store.active_model_id())
                        self.store.set_meta_values({DIRTY_KEY: None})
                        pushed = True
                uploaded, refusal = 0, None
                try:
                    for step in outbox.upload(conn, self.store, kiosk_id, self.settings.upload_batch, cancel):
                        uploaded = step.sent
                        yield SyncProgress(SyncStage.UPLOAD, step.sent, step.total)
                except outbox.UploadRefused as refused_upload:  # the rest of the round goes on; the queue waits
                    refusal = refused_upload.error
                    if self.role is SiteRole.KIOSK:
                        with conn.transaction():
                            conn.execute("SELECT rollcall_upload_refused()")
                if cancel and cancel():
                    raise Cancelled("Sync stopped; the rest goes at the next sync.")
                yield SyncProgress(SyncStage.PULL)
                pulled = site_gallery.pull(conn, self.store, with_crops=self.role is SiteRole.ADMIN)
                if pulled.erased_faces:  # the station's backups too, before their people are erased there
                    site_gallery.claim_in_backups(self.data_dir / BACKUPS_FOLDER, dict(pulled.erased_faces))
                if pulled.changed:
                    self.unreported_pull = pulled  # applied here even if a later step of this round fails
                published: tuple[str, ...] = ()
                installed: tuple[str, ...] = ()
                refused: tuple[ModelRefused, ...] = ()
                if self.role is SiteRole.ADMIN:
                    published = yield from model_sharing.publish_missing(conn, self.model_files, self.data_dir,
                                                                          self._part_bytes)
                else:
                    installed, refused = yield from model_sharing.fetch_models(conn, self.store, self.model_files,
                                                                                self.data_dir, cancel)
                yield SyncProgress(SyncStage.ATTENDANCE)
                site_attendance.upload_unknown_faces(conn, self.store, outbox.acked_seq(self.store),
                                                     self.settings.upload_batch)
                mirrored = site_attendance.mirror_events(conn, self.store, kiosk_id, self.settings.upload_batch)
                if self.role is SiteRole.ADMIN:
                    site_attendance.mirror_unknown_faces(conn, self.store, self.settings.upload_batch)
                    if self.retention is not None:
                        site_attendance.purge_unknown_faces(conn, self.retention)
                    book_changed = bool(self.store.meta_value(BOOK_DIRTY_KEY))
                    if book_changed:
                        site_attendance.publish_book(conn, self.store)
                        self.store.set_meta_values({BOOK_DIRTY_KEY: None})
                    site_attendance.mirror_correction_faces(conn, self.store, self.settings.upload_batch)
                else:
                    book_changed = site_attendance.pull_book(conn, self.store)
                    site_attendance.upload_correction_faces(conn, self.store)
                queue = outbox.queue_length(self.store)
                with conn.transaction():
                    if self.role is SiteRole.KIOSK:
                        conn.execute("SELECT rollcall_heartbeat(%s, %s, %s)",
                                     [queue, outbox.acked_seq(self.store), pulled.to_version])
                    else:
                        conn.execute("UPDATE kiosks SET last_contact = now(), queue_length = %s, acked_seq = %s,"
                                     " gallery_version = %s WHERE id = %s",
                                     [queue, outbox.acked_seq(self.store), pulled.to_version, kiosk_id])
                site_attendance.fetch_reported_up_to(conn, self.store)
                if refusal is not None:
                    raise refusal
            except psycopg.Error as exc:
                self.close()
                lost = isinstance(exc, psycopg.OperationalError)
                error = unreachable(credentials, exc) if lost else server_error(exc)
                self.store.set_meta_values({LAST_ERROR_KEY: str(error)})
                raise error from None
            except SiteError as exc:
                self.close()
                self.store.set_meta_values({LAST_ERROR_KEY: str(exc)})
                raise
        self.store.set_meta_values({LAST_SYNC_KEY: datetime.now(UTC).isoformat(),
                                    LAST_ERROR_KEY: refused[0].reason if refused else None})
        return SyncReport(uploaded, queue, pulled, pushed, mirrored, book_changed, installed, published, refused)

    # ---- trained models' files ----

    @property
    def _part_bytes(self) -> int:
        return self.settings.model_part_mib * site_packages.MIB

    def publish_model(self, model_id: str) -> bool:
        """An admin station sends a model's files (its `.rollcall-model` package) to the server now, so every
        kiosk installs them at its next sync. Elsewhere nothing. A server that is away gets them at the next
        sync. True when uploaded."""
        files = self.model_files
        if self.role is not SiteRole.ADMIN or files is None or model_id not in files.shared():
            return False
        onnx = files.onnx(model_id)
        if onnx is None:
            log.warning("Model %s has no ONNX file here; its files are not sent to the site server.", model_id)
            return False
        try:
            self._run(lambda conn: model_sharing.upload_package(conn, files, self.data_dir, model_id, onnx,
                                                                self._part_bytes))
        except SiteError as exc:
            self.store.set_meta_values({LAST_ERROR_KEY: str(exc)})
            log.warning("Model %s's files go to the site server at the next sync: %s", model_id, exc)
            return False
        return True

    # ---- admin station: gallery edits go to the server ----

    def require_gallery_edit(self) -> None:
        """Refuse a gallery edit on a kiosk; on an admin station, make sure the server answers first."""
        role = self.role
        if role is SiteRole.KIOSK:
            raise SiteError(f"This station is the kiosk {self.station!r} of a site: people and photos are changed "
                            "on the admin station, which writes them to the site server. Nothing was changed here.",
                            SiteProblem.NEEDS_ADMIN)
        if role is SiteRole.ADMIN:
            self._run(lambda conn: conn.execute("SELECT 1"))

    def push(self, gallery: SiteGallery, active_model: str | None = None) -> None:
        """Send an admin edit now; if the server went away meanwhile, a full push follows at the next sync."""
        if self.role is not SiteRole.ADMIN or not (gallery or active_model):
            return
        try:
            self._run(lambda conn: site_gallery.push(conn, gallery, active_model))
        except SiteError as exc:
            self.store.set_meta_values({DIRTY_KEY: "1", LAST_ERROR_KEY: str(exc)})
            log.warning("Gallery change kept on this admin station; it is sent at the next sync: %s", exc)

    def push_people(self, person_ids: Iterable[int], active_model: str | None = None) -> None:
        if self.role is SiteRole.ADMIN:
            self.push(self.store.site_gallery(person_ids=list(person_ids)), active_model)

    # ---- time and attendance: edited on the admin station, applied everywhere ----

    @property
    def hr_edits_allowed(self) -> bool:
        return self.role is not SiteRole.KIOSK

    def require_hr_edit(self) -> None:
        """Groups, holidays, leave, corrections and locks are the site's: a kiosk refuses to change them."""
        if self.role is SiteRole.KIOSK:
            raise SiteError(f"This station is the kiosk {self.station!r} of a site: schedules, holidays, leave and "
                            "corrections are made on the admin station, which sends them to every kiosk. Nothing was "
                            "changed here.", SiteProblem.NEEDS_ADMIN)

    def publish_hr_book(self) -> None:
        """Send the admin station's HR tables now; if the server is away, they go at the next sync."""
        if self.role is not SiteRole.ADMIN:
            return
        self.store.set_meta_values({BOOK_DIRTY_KEY: "1"})
        try:
            self._run(lambda conn: site_attendance.publish_book(conn, self.store))
            self.store.set_meta_values({BOOK_DIRTY_KEY: None})
        except SiteError as exc:
            self.store.set_meta_values({LAST_ERROR_KEY: str(exc)})
            log.warning("HR change kept on this admin station; it is sent at the next sync: %s", exc)

    def reported_up_to(self) -> datetime | None:
        """Standalone: None (this station has every event). In a site: as of the last sync."""
        return site_attendance.reported_up_to(self.store) if self.joined else None

    def erase_on_server(self, person_uuids: Iterable[str] = (), sample_uuids: Iterable[str] = ()) -> None:
        """Erasure goes to the server first: refused there, nothing is deleted here either. With a person go,
        in the same transaction, the strangers' faces this station gave them (and every station's copy at its
        next sync) and their entries in the server's HR book."""
        if self.role is not SiteRole.ADMIN:
            return
        people, samples = list(person_uuids), list(sample_uuids)
        faces = site_gallery.faces_given_to(self.store, people)

        def erase(conn: psycopg.Connection) -> None:
            with conn.transaction():
                site_gallery.push(conn, site_gallery.erased(people, samples))
                site_gallery.erase_given_faces(conn, faces)
                if people:
                    site_attendance.erase_from_book(conn, people)

        self._run(erase)
        if people:
            self.store.set_meta_values({BOOK_DIRTY_KEY: "1"})  # the book without them goes out at the next sync

    # ---- reading the site ----

    def events(self, start: date, end: date) -> list[SiteEvent]:
        """Every station's events from start to end (the stations' own days), oldest first."""
        if self.role is not SiteRole.ADMIN:
            raise SiteError("Only the admin station reads the whole site's attendance.", SiteProblem.NEEDS_ADMIN)
        skipped: list[tuple[str, str, str]] = []
        events = self._run(lambda conn: read_site_events(conn, start, end, skipped))
        record_skipped(self.store, skipped)
        return events

    def status(self, check_server: bool = True) -> SiteStatus:
        role = self.role
        if role is SiteRole.STANDALONE:
            return SiteStatus(role)
        last_sync = self.store.meta_value(LAST_SYNC_KEY)
        base = {"role": role, "station": self.station, "server": self.credentials().redacted,
                "last_sync": datetime.fromisoformat(last_sync) if last_sync else None,
                "queue": outbox.queue_length(self.store), "gallery_version": site_gallery.local_version(self.store),
                "error": self.store.meta_value(LAST_ERROR_KEY)}
        skipped_total, skipped = skipped_rows(self.store)
        refused_total, refused = skipped_rows(self.store, REFUSED_KEY)
        base |= {"skipped_total": skipped_total, "skipped": skipped, "refused_total": refused_total,
                 "refused": refused}
        if not check_server:
            return SiteStatus(**base)

        def read(conn: psycopg.Connection) -> tuple[ServerStatus, list[str]]:
            return read_server_status(conn, role), hardening_gaps(conn) if role is SiteRole.ADMIN else []

        try:
            server, gaps = self._run(read)
        except SiteError as exc:
            return SiteStatus(**{**base, "reachable": False, "error": str(exc)})
        return SiteStatus(**{**base, "reachable": True, "server_gallery_version": server.gallery_version,
                             "stations": server.stations, "pending_held_by": server.pending_held_by,
                             "quota": server.quota, "server_gaps": gaps})
