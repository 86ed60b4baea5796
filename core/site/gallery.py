"""The gallery between stations and the server, by version number.

Every admin write takes the next site gallery version (an UPDATE of the one site_meta row, which
also serialises concurrent admin stations) and stamps it on every row it writes; erasures leave a
UUID-only tombstone. A station pulls every row above the version it last applied, in one
REPEATABLE READ snapshot, and applies them in one local transaction with the new version. A
missed notification therefore only delays a change; it never loses one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from core.base.records import ModelRecord, SiteEmbedding, SiteGallery, SitePerson, SiteSample
from core.gallery.store import GalleryStore
from core.site.driver import psycopg
from core.site.schema import GALLERY_CHANNEL

GALLERY_VERSION_KEY = "site_gallery_version"
ACTIVE_MODEL_KEY = "site_active_model"


@dataclass(frozen=True)
class PullReport:
    from_version: int
    to_version: int
    people: int = 0
    samples: int = 0
    embeddings: int = 0
    erased_people: int = 0
    erased_samples: int = 0
    active_model: str | None = None
    erased_person_uuids: tuple[str, ...] = ()  # erased here: the station scrubs its backups of them too

    @property
    def changed(self) -> bool:
        return self.to_version != self.from_version


def local_version(store: GalleryStore) -> int:
    return int(store.meta_value(GALLERY_VERSION_KEY) or 0)


def server_version(conn: psycopg.Connection) -> int:
    with conn.transaction():
        return int(conn.execute("SELECT gallery_version FROM site_meta").fetchone()[0])


def _model(row) -> ModelRecord:
    return ModelRecord(row[0], row[1], row[2], row[3], row[4], "", row[5], row[6], row[7])


def fetch_changes(conn: psycopg.Connection, since: int, with_crops: bool) -> tuple[int, str | None, SiteGallery]:
    """Everything changed after version `since`, from one consistent snapshot.

    Without crops (kiosks), samples come as face templates only: their embeddings, no photo."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        version, active_model = conn.execute("SELECT gallery_version, active_model FROM site_meta").fetchone()
        if version == since:
            return version, active_model, SiteGallery()
        models = [_model(r) for r in conn.execute(
            "SELECT id, name, base, parent_id, embedding_size, created_at, settings, metrics FROM models"
            " WHERE version > %s", [since])]
        people = [SitePerson(*r) for r in conn.execute(
            "SELECT uuid::text, name, external_id, created_at, active FROM people WHERE version > %s", [since])]
        samples = [SiteSample(r[0], r[1], bytes(r[2]), *r[3:]) for r in conn.execute(
            "SELECT s.uuid::text, p.uuid::text, CASE WHEN %s THEN s.crop_jpeg ELSE ''::bytea END, s.source,"
            " s.content_hash, s.det_prob, s.face_px,"
            " s.sharpness, s.created_at FROM samples s JOIN people p ON p.id = s.person_id WHERE s.version > %s",
            [with_crops, since], binary=True)]
        embeddings = [SiteEmbedding(r[0], r[1], bytes(r[2])) for r in conn.execute(
            "SELECT s.uuid::text, e.model_id, e.vector FROM embeddings e JOIN samples s ON s.id = e.sample_id"
            " WHERE e.version > %s", [since], binary=True)]
        erased = conn.execute("SELECT uuid::text, kind, merged_into::text FROM erasures WHERE version > %s",
                              [since]).fetchall()
    return version, active_model, SiteGallery(
        people, samples, embeddings, models, erased_people=[u for u, kind, _ in erased if kind == "person"],
        erased_samples=[u for u, kind, _ in erased if kind == "sample"],
        merged_people={u: into for u, kind, into in erased if kind == "merged"})


def pull(conn: psycopg.Connection, store: GalleryStore, with_crops: bool) -> PullReport:
    """Apply the server's gallery changes since this station's version (nothing when it is current).

    with_crops: admin stations keep the face photos (they re-embed); kiosks keep only the templates."""
    since = local_version(store)
    version, active_model, changes = fetch_changes(conn, since, with_crops)
    if version < since:  # the server was rebuilt or restored: start over from nothing
        since = 0
        version, active_model, changes = fetch_changes(conn, since, with_crops)
    if version == since:
        return PullReport(since, version, active_model=active_model)
    with store.transaction():
        counts = store.apply_site_gallery(changes)
        store.set_meta_values({GALLERY_VERSION_KEY: str(version), ACTIVE_MODEL_KEY: active_model})
    return PullReport(since, version, counts["people"], counts["samples"], counts["embeddings"],
                      counts["erased_people"], counts["erased_samples"], active_model,
                      tuple(changes.erased_people))


def push(conn: psycopg.Connection, gallery: SiteGallery, active_model: str | None = None) -> int:
    """An admin station's write: upserts by UUID and erasures, all stamped with one new version."""
    with conn.transaction():
        version = conn.execute("UPDATE site_meta SET gallery_version = gallery_version + 1,"
                               " active_model = coalesce(%s, active_model) RETURNING gallery_version",
                               [active_model]).fetchone()[0]
        with conn.cursor() as cursor:
            if gallery.models:
                cursor.executemany(
                    "INSERT INTO models (id, name, base, parent_id, embedding_size, created_at, settings, metrics,"
                    " version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                    " name = excluded.name, metrics = excluded.metrics, version = excluded.version",
                    [(m.id, m.name, m.base, m.parent_id, m.embedding_size, m.created_at, _json(m.settings),
                      _json(m.metrics), version) for m in gallery.models])
            if gallery.erased_people:
                cursor.execute("DELETE FROM people WHERE uuid = ANY(%s::uuid[])", [gallery.erased_people])
                cursor.execute("DELETE FROM events WHERE person_uuid = ANY(%s::uuid[])", [gallery.erased_people])
            if gallery.erased_samples:
                cursor.execute("DELETE FROM samples WHERE uuid = ANY(%s::uuid[])", [gallery.erased_samples])
            erasures = ([(u, "person", None, version) for u in gallery.erased_people]
                        + [(u, "sample", None, version) for u in gallery.erased_samples]
                        + [(u, "merged", kept, version) for u, kept in gallery.merged_people.items()])
            # tombstones first: a person erased (or merged away) is never brought back by an upsert below
            if erasures:
                cursor.executemany("INSERT INTO erasures (uuid, kind, merged_into, version) VALUES (%s, %s, %s, %s)"
                                   " ON CONFLICT (uuid) DO UPDATE SET kind = excluded.kind,"
                                   " merged_into = excluded.merged_into, version = excluded.version", erasures)
            if gallery.people:  # a person erased by another admin station is never brought back
                cursor.executemany(
                    "INSERT INTO people (uuid, name, external_id, created_at, active, version)"
                    " SELECT %s, %s, %s, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM erasures WHERE uuid = %s)"
                    " ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, external_id = excluded.external_id,"
                    " active = excluded.active, version = excluded.version, changed_by = session_user"
                    " WHERE (people.name, people.external_id, people.active)"
                    " IS DISTINCT FROM (excluded.name, excluded.external_id, excluded.active)",
                    [(p.uuid, p.name, p.external_id, p.created_at, p.active, version, p.uuid) for p in gallery.people])
            if gallery.samples:
                cursor.executemany(
                    "INSERT INTO samples (uuid, person_id, crop_jpeg, source, content_hash, det_prob, face_px,"
                    " sharpness, created_at, version) SELECT %s, p.id, %s, %s, %s, %s, %s, %s, %s, %s FROM people p"
                    " WHERE p.uuid = %s AND NOT EXISTS (SELECT 1 FROM erasures WHERE uuid = %s)"
                    " ON CONFLICT (uuid) DO UPDATE SET person_id = excluded.person_id, version = excluded.version"
                    " WHERE samples.person_id IS DISTINCT FROM excluded.person_id",
                    [(s.uuid, s.crop_jpeg, s.source, s.content_hash, s.det_prob, s.face_px, s.sharpness,
                      s.created_at, version, s.person_uuid, s.uuid) for s in gallery.samples])
            if gallery.embeddings:
                cursor.executemany(
                    "INSERT INTO embeddings (sample_id, model_id, vector, version) SELECT s.id, %s, %s, %s"
                    " FROM samples s WHERE s.uuid = %s ON CONFLICT (sample_id, model_id) DO UPDATE SET"
                    " vector = excluded.vector, version = excluded.version"
                    " WHERE embeddings.vector IS DISTINCT FROM excluded.vector",
                    [(e.model_id, e.vector, version, e.sample_uuid) for e in gallery.embeddings])
            for merged, kept in gallery.merged_people.items():  # after the samples moved to the person kept
                cursor.execute("UPDATE events SET person_uuid = %s WHERE person_uuid = %s", [kept, merged])
                cursor.execute("DELETE FROM people WHERE uuid = %s", [merged])
        conn.execute("SELECT pg_notify(%s, %s)", [GALLERY_CHANNEL, str(version)])
    return version


def _json(value: dict) -> str:
    return json.dumps(value, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item") else str(o))


def erased(person_uuids: Iterable[str] = (), sample_uuids: Iterable[str] = ()) -> SiteGallery:
    return SiteGallery(erased_people=list(person_uuids), erased_samples=list(sample_uuids))
