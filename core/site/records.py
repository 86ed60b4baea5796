"""Site mode's typed records: a station's role, and a sync round's progress and report."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from core.site import attendance as site_attendance
from core.site import gallery as site_gallery

ROLE_KEY, STATION_KEY, KIOSK_ID_KEY = "site_role", "site_station", "site_kiosk_id"
LAST_SYNC_KEY, LAST_ERROR_KEY, DIRTY_KEY = "site_last_sync", "site_last_error", "site_gallery_dirty"
BOOK_DIRTY_KEY = "site_hr_book_dirty"
ADMIN_STATION_DEFAULT = "admin"


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
