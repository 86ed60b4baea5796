"""A station's place in a site: its role, joining and leaving, one sync round, status, background sync.

The role lives in the local database (so it travels with the data folder), the server URL and
password in the 0600 credentials file, the tunables in Settings.site.
"""

from __future__ import annotations

import enum
import logging
import tempfile
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from core.site.driver import psycopg

from core.base.errors import Cancelled, RollcallError
from core.base.records import SiteGallery
from core.base.settings import SiteSettings
from core.gallery.store import GalleryStore
from core.site import attendance as site_attendance
from core.site import gallery as site_gallery
from core.site import outbox
from core.site import packages as site_packages
from core.site.connection import (Credentials, SiteError, SiteProblem, check_url, connect, load_credentials,
                                  remove_credentials, save_credentials, unreachable)
from core.site.schema import GALLERY_CHANNEL, can_administer, check_schema, migrate, register_station

log = logging.getLogger(__name__)

ROLE_KEY, STATION_KEY, KIOSK_ID_KEY = "site_role", "site_station", "site_kiosk_id"
LAST_SYNC_KEY, LAST_ERROR_KEY, DIRTY_KEY = "site_last_sync", "site_last_error", "site_gallery_dirty"
BOOK_DIRTY_KEY = "site_hr_book_dirty"
ADMIN_STATION_DEFAULT = "admin"


def server_error(exc: psycopg.Error) -> SiteError:
    detail = exc.diag.message_primary if getattr(exc, "diag", None) and exc.diag.message_primary else str(exc)
    return SiteError(f"The site server refused a statement ({type(exc).__name__}: {detail}); it changed nothing. "
                     "Local data is kept; tell the site's admin if this stays.", SiteProblem.SERVER_ERROR)


class SiteRole(enum.StrEnum):
    STANDALONE = "standalone"  # no site: SQLite only
    ADMIN = "admin"  # edits the gallery on the server; reads the whole site's attendance
    KIOSK = "kiosk"  # recognises with a local copy of the gallery; uploads its events


class SyncStage(enum.StrEnum):
    CONNECT = "connect"
    PUSH_GALLERY = "push_gallery"  # an admin station's edits that could not be sent at the time
    UPLOAD = "upload"
    PULL = "pull"
    PUBLISH_MODELS = "publish_models"  # an admin station's trained models' files the server lacks
    MODELS = "models"  # a kiosk downloads the files of models it has the record of (done/total in bytes)
    ATTENDANCE = "attendance"  # the other stations' events and the HR book


@dataclass(frozen=True)
class SyncProgress:
    stage: SyncStage
    done: int = 0
    total: int = 0
    model_id: str | None = None  # the model whose files travel (PUBLISH_MODELS, MODELS)


@dataclass(frozen=True)
class ModelRefused:
    """A model whose files came from the server damaged or unusable: nothing of it was installed."""

    model_id: str
    reason: str


@dataclass(frozen=True)
class SyncReport:
    uploaded: int
    queue_left: int
    pull: site_gallery.PullReport | None
    gallery_pushed: bool = False
    events_mirrored: site_attendance.MirrorReport | None = None
    hr_book_changed: bool = False  # published (admin station) or applied (kiosk)
    models_installed: tuple[str, ...] = ()  # a kiosk: models whose files it downloaded and installed
    models_published: tuple[str, ...] = ()  # an admin station: models whose files it uploaded
    models_refused: tuple[ModelRefused, ...] = ()  # a kiosk: damaged downloads (retried at the next sync)


@dataclass(frozen=True)
class StationStatus:
    """A station as the server sees it (an admin's `site status` lists them all)."""

    name: str
    is_admin: bool
    last_contact: datetime | None
    queue_length: int
    acked_seq: int
    gallery_version: int
    events_on_server: int
    left: bool


@dataclass(frozen=True)
class SiteStatus:
    role: SiteRole
    station: str | None = None
    server: str | None = None  # host:port/database as user; never the password
    reachable: bool | None = None  # None: not checked (standalone)
    error: str | None = None
    last_sync: datetime | None = None
    queue: int = 0  # events not yet on the server
    gallery_version: int = 0
    server_gallery_version: int | None = None
    stations: list[StationStatus] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        for item in [data, *data["stations"]]:
            for key, value in item.items():
                if isinstance(value, datetime):
                    item[key] = value.isoformat()
        return data


@dataclass(frozen=True)
class SiteEvent:
    """An attendance event as the server holds it: the station's own time and when it arrived."""

    kiosk: str
    person_uuid: str | None
    person_name: str | None
    external_id: str | None
    kind: str
    time: datetime  # in the station's own UTC offset
    received_at: datetime
    source: str
    similarity: float

    @property
    def day(self) -> date:
        return self.time.date()


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

    def _admin_connection(self, credentials: Credentials) -> psycopg.Connection:
        conn = connect(credentials, self.settings)
        if not can_administer(conn):
            conn.close()
            raise SiteError(f"{credentials.redacted} is not the database's owner. `site init` and `site join` need "
                            "the owner's (or a superuser's) address; kiosks then get their own role.",
                            SiteProblem.NOT_ALLOWED)
        return conn

    @staticmethod
    @contextmanager
    def _server_errors(credentials: Credentials) -> Iterator[None]:
        """psycopg's errors while joining, as messages a user can act on."""
        try:
            yield
        except psycopg.errors.InsufficientPrivilege as exc:
            raise SiteError(f"The server refused: {exc.diag.message_primary}. The address given to `site init` or "
                            "`site join` must be the database owner's, with the CREATEROLE right.",
                            SiteProblem.NOT_ALLOWED) from None
        except psycopg.OperationalError as exc:
            raise unreachable(credentials, exc) from None
        except psycopg.Error as exc:
            raise server_error(exc) from None

    def init(self, url: str, station: str = ADMIN_STATION_DEFAULT) -> SiteStatus:
        """Make this data folder an admin station: create or update the schema, upload the local gallery."""
        self._refuse_if_joined()
        credentials = check_url(url)
        with self._server_errors(credentials), self._admin_connection(credentials) as conn:
            migrate(conn)
            kiosk_id, _, _, high = register_station(conn, station, is_admin=True)
            site_gallery.push(conn, self.store.site_gallery(), self.store.active_model_id())
            site_gallery.pull(conn, self.store, with_crops=True)
        self.store.raise_event_seq(high)
        save_credentials(self.data_dir, credentials)
        self.store.set_meta_values({ROLE_KEY: SiteRole.ADMIN, STATION_KEY: station, KIOSK_ID_KEY: str(kiosk_id),
                                    outbox.ACKED_KEY: "0", BOOK_DIRTY_KEY: "1"})
        return self.status()

    def join(self, url: str, kiosk: str) -> SiteStatus:
        """Make this data folder a kiosk: its own least-privilege login, then the gallery pulled."""
        self._refuse_if_joined()
        if not kiosk.strip():
            raise SiteError("Give the kiosk a name, e.g. --kiosk north-door.", SiteProblem.BAD_URL)
        people = self.store.stats()["people"]
        if people:
            raise SiteError(f"This data folder already has {people} people. A kiosk's gallery comes from the site "
                            "server: join with an empty data folder, or make this one the admin station with "
                            "`rollcall site init`.", SiteProblem.ALREADY_JOINED)
        admin = check_url(url)
        with self._server_errors(admin), self._admin_connection(admin) as conn:
            check_schema(conn)
            kiosk_id, login, password, high = register_station(conn, kiosk.strip(), is_admin=False)
        own = admin.with_login(login, password)
        with self._server_errors(own), connect(own, self.settings) as conn:  # the kiosk's own login works first
            site_gallery.pull(conn, self.store, with_crops=False)
        self.store.raise_event_seq(high)
        save_credentials(self.data_dir, own)
        self.store.set_meta_values({ROLE_KEY: SiteRole.KIOSK, STATION_KEY: kiosk.strip(),
                                    KIOSK_ID_KEY: str(kiosk_id), outbox.ACKED_KEY: "0"})
        return self.status()

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
        self.store.set_meta_values({key: None for key in (
            ROLE_KEY, STATION_KEY, KIOSK_ID_KEY, LAST_SYNC_KEY, LAST_ERROR_KEY, DIRTY_KEY, outbox.ACKED_KEY,
            site_gallery.GALLERY_VERSION_KEY, site_gallery.ACTIVE_MODEL_KEY, BOOK_DIRTY_KEY,
            site_attendance.MIRROR_CURSOR_KEY, site_attendance.FACES_CURSOR_KEY, site_attendance.REPORTED_KEY,
            site_attendance.CORRECTION_FACES_SENT_KEY, site_attendance.CORRECTION_FACES_CURSOR_KEY,
            site_attendance.BOOK_VERSION_KEY,
            site_attendance.BOOK_INCOMPLETE_KEY)})

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
                    if self.store.meta_value(DIRTY_KEY):
                        yield SyncProgress(SyncStage.PUSH_GALLERY)
                        site_gallery.push(conn, self.store.site_gallery(), self.store.active_model_id())
                        self.store.set_meta_values({DIRTY_KEY: None})
                        pushed = True
                uploaded = 0
                for step in outbox.upload(conn, self.store, kiosk_id, self.settings.upload_batch, cancel):
                    uploaded = step.sent
                    yield SyncProgress(SyncStage.UPLOAD, step.sent, step.total)
                if cancel and cancel():
                    raise Cancelled("Sync stopped; the rest goes at the next sync.")
                yield SyncProgress(SyncStage.PULL)
                pulled = site_gallery.pull(conn, self.store, with_crops=self.role is SiteRole.ADMIN)
                if pulled.changed:
                    self.unreported_pull = pulled  # applied here even if a later step of this round fails
                published: tuple[str, ...] = ()
                installed: tuple[str, ...] = ()
                refused: tuple[ModelRefused, ...] = ()
                if self.role is SiteRole.ADMIN:
                    published = yield from self._publish_missing(conn)
                else:
                    installed, refused = yield from self._fetch_models(conn, cancel)
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
            except psycopg.Error as exc:
                self.close()
                error = unreachable(credentials, exc) if isinstance(exc, psycopg.OperationalError) else server_error(exc)
                self.store.set_meta_values({LAST_ERROR_KEY: str(error)})
                raise error from None
            except SiteError as exc:
                self.close()
                self.store.set_meta_values({LAST_ERROR_KEY: str(exc)})
                raise
        self.store.set_meta_values({LAST_SYNC_KEY: datetime.now(timezone.utc).isoformat(),
                                    LAST_ERROR_KEY: refused[0].reason if refused else None})
        return SyncReport(uploaded, queue, pulled, pushed, mirrored, book_changed, installed, published, refused)

    # ---- trained models' files ----

    def _publish_missing(self, conn: psycopg.Connection) -> Generator[SyncProgress, None, tuple[str, ...]]:
        """An admin station uploads the files of its models whose package the server lacks (or has of
        another export): a publish that failed earlier, or models from before the site existed."""
        files = self.model_files
        if files is None:
            return ()
        shared = files.shared()
        with conn.transaction():  # a package needs its record on the server (pushed above)
            on_server = {r[0] for r in conn.execute("SELECT id FROM models WHERE id = ANY(%s)", [shared])}
        packages = site_packages.headers(conn, shared)
        wanted = [(m, onnx) for m in shared if m in on_server and (onnx := files.onnx(m)) is not None
                  and (m not in packages or packages[m].onnx_name != onnx.name)]
        for number, (model_id, onnx) in enumerate(wanted):
            yield SyncProgress(SyncStage.PUBLISH_MODELS, number, len(wanted), model_id)
            self._upload_package(conn, model_id, onnx)
        return tuple(m for m, _ in wanted)

    def _upload_package(self, conn: psycopg.Connection, model_id: str, onnx: Path) -> None:
        with tempfile.TemporaryDirectory(dir=self.data_dir, prefix=".model-upload-") as folder:
            package = self.model_files.write_package(model_id, Path(folder) / model_id)
            site_packages.upload(conn, model_id, onnx.name, package, self.settings.model_part_mib * site_packages.MIB)

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
            self._run(lambda conn: self._upload_package(conn, model_id, onnx))
        except SiteError as exc:
            self.store.set_meta_values({LAST_ERROR_KEY: str(exc)})
            log.warning("Model %s's files go to the site server at the next sync: %s", model_id, exc)
            return False
        return True

    def _fetch_models(self, conn: psycopg.Connection, cancel: Callable[[], bool] | None
                      ) -> Generator[SyncProgress, None, tuple[tuple[str, ...], tuple[ModelRefused, ...]]]:
        """A kiosk downloads and installs the files of every model it has the record of but not the files,
        when the server has them (the site's active model first)."""
        files = self.model_files
        if files is None:
            return (), ()
        active = (self.store.meta_value(site_gallery.ACTIVE_MODEL_KEY) or "").split("+")[0]  # a fused one's FaceNet
        missing = sorted((m for m in files.shared() if files.onnx(m) is None), key=lambda m: m != active)
        if not missing:
            return (), ()
        packages = site_packages.headers(conn, missing)
        installed, refused = [], []
        for model_id in (m for m in missing if m in packages):
            package = None
            try:
                downloading = site_packages.download(conn, model_id, self.data_dir, cancel)
                while True:
                    try:
                        step = next(downloading)
                    except StopIteration as done:
                        package = done.value
                        break
                    yield SyncProgress(SyncStage.MODELS, step.done_bytes, step.total_bytes, model_id)
                files.install(model_id, package)
                installed.append(model_id)
            except Cancelled:
                raise
            except SiteError as exc:
                if exc.problem is not SiteProblem.MODEL_FILES:
                    raise
                refused.append(ModelRefused(model_id, str(exc)))
            except RollcallError as exc:  # the package's files failed their own checks
                refused.append(ModelRefused(model_id, f"Model {model_id} from the site server was not installed: "
                                                      f"{exc}"))
            finally:
                if package is not None:
                    package.unlink(missing_ok=True)
        for refusal in refused:
            log.error("%s", refusal.reason)
        return tuple(installed), tuple(refused)

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
        """Erasure goes to the server first: refused there, nothing is deleted here either."""
        if self.role is SiteRole.ADMIN:
            self._run(lambda conn: site_gallery.push(conn, site_gallery.erased(person_uuids, sample_uuids)))

    # ---- reading the site ----

    def events(self, start: date, end: date) -> list[SiteEvent]:
        """Every station's events from start to end (the stations' own days), oldest first."""
        if self.role is not SiteRole.ADMIN:
            raise SiteError("Only the admin station reads the whole site's attendance.", SiteProblem.NEEDS_ADMIN)

        def fetch(conn: psycopg.Connection):
            with conn.transaction():
                return conn.execute(
                    "SELECT k.name, e.person_uuid::text, p.name, p.external_id, e.kind, e.kiosk_time,"
                    " e.kiosk_utc_offset_min, e.received_at, e.source, e.similarity FROM events e"
                    " JOIN kiosks k ON k.id = e.kiosk_id LEFT JOIN people p ON p.uuid = e.person_uuid"
                    " WHERE e.kiosk_day BETWEEN %s AND %s ORDER BY e.kiosk_time, k.name, e.kiosk_seq",
                    [start, end]).fetchall()

        return [SiteEvent(r[0], r[1], r[2], r[3], r[4], r[5].astimezone(timezone(timedelta(minutes=r[6]))), r[7],
                          r[8], float(r[9])) for r in self._run(fetch)]

    def status(self, check_server: bool = True) -> SiteStatus:
        role = self.role
        if role is SiteRole.STANDALONE:
            return SiteStatus(role)
        last_sync = self.store.meta_value(LAST_SYNC_KEY)
        base = dict(role=role, station=self.station, server=self.credentials().redacted,
                    last_sync=datetime.fromisoformat(last_sync) if last_sync else None,
                    queue=outbox.queue_length(self.store), gallery_version=site_gallery.local_version(self.store),
                    error=self.store.meta_value(LAST_ERROR_KEY))
        if not check_server:
            return SiteStatus(**base)

        def ask(conn: psycopg.Connection):
            with conn.transaction():
                version = conn.execute("SELECT gallery_version FROM site_meta").fetchone()[0]
                stations = []
                if role is SiteRole.ADMIN:
                    stations = [StationStatus(*row) for row in conn.execute(
                        "SELECT k.name, k.is_admin, k.last_contact, k.queue_length, k.acked_seq, k.gallery_version,"
                        " (SELECT count(*) FROM events e WHERE e.kiosk_id = k.id), k.left_at IS NOT NULL"
                        " FROM kiosks k ORDER BY k.name")]
                return version, stations

        try:
            version, stations = self._run(ask)
        except SiteError as exc:
            return SiteStatus(**{**base, "reachable": False, "error": str(exc)})
        return SiteStatus(**{**base, "reachable": True, "server_gallery_version": version, "stations": stations})


class BackgroundSync:
    """Sync rounds on a thread every `sync_interval_s`, woken early by a gallery NOTIFY.

    Failures (server down) are reported to `on_result` and retried next round; nothing is lost,
    the events stay in the local outbox.
    """

    def __init__(self, site: Site, on_result: Callable[[SyncReport | SiteError], None]):
        self.site, self.on_result = site, on_result
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rollcall-site-sync", daemon=True)
        self._listener: psycopg.Connection | None = None

    def start(self) -> "BackgroundSync":
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._thread.join(timeout if timeout is not None else self.site.settings.connect_timeout_s + 5)

    def _round(self) -> None:
        try:
            generator = self.site.sync(cancel=self._stop.is_set)
            while True:
                next(generator)
        except StopIteration as done:
            self.on_result(done.value)
        except Cancelled:
            pass
        except SiteError as exc:
            self.on_result(exc)
        except Exception as exc:  # noqa: BLE001 - a broken round must not end background sync
            log.exception("Background sync round failed")
            self.on_result(SiteError(f"Sync failed: {exc}", SiteProblem.UNREACHABLE))

    def _wait(self) -> None:
        """Sleep until the next round, or until the server announces a new gallery version."""
        deadline = self.site.settings.sync_interval_s
        slice_s = min(1.0, max(deadline, 0.05))
        waited = 0.0
        while waited < deadline and not self._stop.is_set():
            if self._listen_once(slice_s):
                return
            waited += slice_s

    def _listen_once(self, timeout: float) -> bool:
        if not self.site.settings.listen:
            self._stop.wait(timeout)
            return False
        try:
            if self._listener is None or self._listener.closed:
                self._listener = connect(self.site.credentials(), self.site.settings, autocommit=True)
                self._listener.execute(f"LISTEN {GALLERY_CHANNEL}")
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                return True
            return False
        except (psycopg.Error, SiteError):
            if self._listener is not None:
                self._listener.close()
            self._listener = None
            self._stop.wait(timeout)
            return False

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._round()
                self._wait()
        finally:
            if self._listener is not None:
                self._listener.close()
