"""Helpers for the site tests: stations (a store and its Site link) and synthetic people and events."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from core.app.engine import Engine
from core.base.records import AttendanceEvent, EventKind, ModelRecord
from core.base.settings import Settings, SiteSettings
from core.gallery.store import GalleryStore
from core.site.service import Site

MODEL = ModelRecord(
    "facenet-keras-128", "FaceNet (Keras)", "facenet-keras-128", None, 128, "", datetime(2026, 1, 1).astimezone()
)
FAST = SiteSettings(sync_interval_s=0.2, connect_timeout_s=2, upload_batch=50)


def station(folder: Path, settings: SiteSettings = FAST) -> Site:
    folder.mkdir(parents=True, exist_ok=True)
    return Site(GalleryStore(folder / "rollcall.db"), folder, settings)


def admin_and_kiosk(url: str, folder: Path, kiosk_name: str) -> tuple[Site, Site]:
    """An admin station with one person enrolled, and a kiosk that joined it."""
    admin = station(folder / "admin")
    enroll(admin.store, "Ada Lovelace", seed=1)
    admin.init(url)
    kiosk = station(folder / "kiosk")
    kiosk.join(url, kiosk_name)
    return admin, kiosk


def enroll(store: GalleryStore, name: str, samples: int = 2, seed: int = 0) -> int:
    """A person with `samples` synthetic crops and embeddings of MODEL."""
    rng = np.random.default_rng(seed)
    store.register_model(MODEL)
    person = store.add_person(name, allow_duplicate=True)
    vectors = []
    for i in range(samples):
        crop = f"{name}-{seed}-{i}".encode() * 50
        sample = store.add_sample(person.id, crop, "test", hashlib.sha256(crop).hexdigest(), 0.99, 100, 50.0)
        vector = rng.normal(size=128).astype(np.float32)
        vectors.append((sample.id, vector / np.linalg.norm(vector)))
    store.put_embeddings(MODEL.id, vectors)
    return person.id


def write_events(
    store: GalleryStore,
    count: int,
    start: datetime | None = None,
    person_id: int | None = None,
    step: timedelta = timedelta(seconds=1),
) -> list[AttendanceEvent]:
    moment = start or datetime.now().astimezone()
    kind = EventKind.UNKNOWN if person_id is None else EventKind.CHECK_IN
    return [
        store.record_event(AttendanceEvent(None, person_id, None, kind, moment + i * step, "cam", 0.5))
        for i in range(count)
    ]


def joined_since(url: str, days: float) -> None:
    """Every station of the site joined `days` ago: the server takes no event dated before a station joined."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE kiosks SET joined_at = now() - %s * interval '1 day'", [days])


def sync_keeping_refused(site: Site):
    """One sync round in which the server may refuse some events (kept on the station): the report, or None."""
    from core.site.connection import SiteError, SiteProblem

    try:
        return sync(site)
    except SiteError as exc:
        if exc.problem is not SiteProblem.REFUSED:
            raise
        return None


def server_counts(conn, kiosk: str | None = None) -> tuple[int, int]:
    """(events on the server, distinct event UUIDs) for one station or all."""
    where, params = ("WHERE kiosk_id = (SELECT id FROM kiosks WHERE name = %s)", [kiosk]) if kiosk else ("", [])
    return conn.execute(f"SELECT count(*), count(DISTINCT event_uuid) FROM events {where}", params).fetchone()


def local_uuids(store: GalleryStore) -> set[str]:
    return {e.uuid for e in store.outbox(0, 10**9)}


def server_uuids(conn, kiosk: str) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT event_uuid::text FROM events WHERE kiosk_id = (SELECT id FROM kiosks WHERE name = %s)", [kiosk]
        )
    }


def sync(site: Site):
    generator = site.sync()
    while True:
        try:
            next(generator)
        except StopIteration as done:
            return done.value


def make_engine(folder, interval_s: float = 60.0) -> Engine:
    settings = Settings()
    settings.storage.data_dir = str(folder)
    settings.storage.backups_kept = 0
    settings.site = SiteSettings(sync_interval_s=interval_s, connect_timeout_s=2)
    settings.compute.active_model = MODEL.id  # the synthetic people have embeddings of this model only
    return Engine(settings)
