"""The gallery between stations and the server, by version number.

Every admin write takes the next site gallery version (an UPDATE of the one site_meta row, which
also serialises concurrent admin stations) and stamps it on every row it writes; erasures leave a
UUID-only tombstone. A station pulls every row above the version it last applied, in one
REPEATABLE READ snapshot, and applies them in one local transaction with the new version. A
missed notification therefore only delays a change; it never loses one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.base.errors import RollcallError
from core.base.records import ModelRecord, ReviewState, SiteEmbedding, SiteGallery, SitePerson, SiteSample
from core.gallery.store import GalleryStore
from core.site.driver import psycopg
from core.site.schema import GALLERY_CHANNEL
from core.site.trust import record_skipped, template_problem

log = logging.getLogger(__name__)

GALLERY_VERSION_KEY = "site_gallery_version"
FACE_ERASURE = "face"  # an erasures row: a kept face (its event's UUID) given to the erased person (merged_into: key)
ERASED_KEY_SALT = "rollcall-erased:"  # a person's tombstone is a one-way key of their UUID, never the UUID


def erased_key(person_uuid: str) -> str:
    """The tombstone of an erased person on the server: the server keeps no trace of their UUID, and a
    station recognises its own people's keys. SQL computes the same key (outbox's upload check)."""
    digest = hashlib.sha256(f"{ERASED_KEY_SALT}{uuid.UUID(person_uuid)}".encode()).hexdigest()
    return str(uuid.UUID(digest[:32]))
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
    erased_faces: tuple[tuple[str, str], ...] = ()  # (event, person) UUIDs: kept faces given to someone erased

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


def fetch_changes(conn: psycopg.Connection, since: int, with_crops: bool
                  ) -> tuple[int, str | None, dict[str, str], SiteGallery]:
    """Everything changed after version `since`, from one consistent snapshot: (version, active model,
    erased kept faces as {event UUID: person UUID}, the gallery's changes).

    Without crops (kiosks), samples come as face templates only: their embeddings, no photo."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        version, active_model = conn.execute("SELECT gallery_version, active_model FROM site_meta").fetchone()
        if version == since:
            return version, active_model, {}, SiteGallery()
        models = [_model(r) for r in conn.execute(
            "SELECT id, name, base, parent_id, embedding_size, created_at, settings, metrics FROM models"
            " WHERE version > %s", [since])]
        people = [SitePerson(*r) for r in conn.execute(
            "SELECT uuid::text, name, external_id, created_at, active FROM people WHERE version > %s", [since])]
        crop = "s.crop_jpeg" if with_crops else "''::bytea"  # a kiosk has no right to read the photos at all
        samples = [SiteSample(r[0], r[1], bytes(r[2]), *r[3:]) for r in conn.execute(
            f"SELECT s.uuid::text, p.uuid::text, {crop}, s.source, s.content_hash, s.det_prob, s.face_px,"
            " s.sharpness, s.created_at, s.derived FROM samples s JOIN people p ON p.id = s.person_id"
            " WHERE s.version > %s",
            [since], binary=True)]
        embeddings = [SiteEmbedding(r[0], r[1], bytes(r[2])) for r in conn.execute(
            "SELECT s.uuid::text, e.model_id, e.vector FROM embeddings e JOIN samples s ON s.id = e.sample_id"
            " WHERE e.version > %s", [since], binary=True)]
        erased = conn.execute("SELECT uuid::text, kind, merged_into::text FROM erasures WHERE version > %s",
                              [since]).fetchall()
    faces = {u: person for u, kind, person in erased if kind == FACE_ERASURE}
    return version, active_model, faces, SiteGallery(
        people, samples, embeddings, models, erased_people=[u for u, kind, _ in erased if kind == "person"],
        erased_samples=[u for u, kind, _ in erased if kind == "sample"],
        merged_people={u: into for u, kind, into in erased if kind == "merged"})


def pull(conn: psycopg.Connection, store: GalleryStore, with_crops: bool) -> PullReport:
    """Apply the server's gallery changes since this station's version (nothing when it is current).

    with_crops: admin stations keep the face photos (they re-embed); kiosks keep only the templates."""
    since = local_version(store)
    version, active_model, faces, changes = fetch_changes(conn, since, with_crops)
    if version < since:  # the server was rebuilt or restored: start over from nothing
        since = 0
        version, active_model, faces, changes = fetch_changes(conn, since, with_crops)
    if version == since:
        return PullReport(since, version, active_model=active_model)
    dimensions = {m.id: m.embedding_size for m in [*store.list_models(), *changes.models]}
    unusable = {id(e): why for e in changes.embeddings
                if (why := template_problem(e.vector, dimensions.get(e.model_id)))}
    if unusable:  # no station trusts another: a template that does not fit its model is left out, and recorded
        record_skipped(store, [("the gallery", e.sample_uuid, f"template of {e.model_id}: {unusable[id(e)]}")
                               for e in changes.embeddings if id(e) in unusable])
        changes.embeddings = [e for e in changes.embeddings if id(e) not in unusable]
    keys = {erased_key(u): u for u in store.person_ids_by_uuid()}  # tombstones name people by key only
    changes.erased_people = [keys[k] for k in changes.erased_people if k in keys]
    faces = {event: keys[key] for event, key in faces.items() if key in keys}
    with store.transaction():
        claim_erased_faces(store, faces)  # before the people go: their erasure then takes these faces too
        counts = store.apply_site_gallery(changes)
        store.set_meta_values({GALLERY_VERSION_KEY: str(version), ACTIVE_MODEL_KEY: active_model})
    return PullReport(since, version, counts["people"], counts["samples"], counts["embeddings"],
                      counts["erased_people"], counts["erased_samples"], active_model,
                      tuple(changes.erased_people), tuple(faces.items()))


def claim_erased_faces(store: GalleryStore, faces: dict[str, str]) -> int:
    """The faces this station kept of unknown events that the admin station gave to a person (enrolled or
    assigned from Review) and has now erased: marked as that person's, so the person's erasure takes them.
    Used on the live database and on backups. Returns how many were marked."""
    if not faces:
        return 0
    people = store.person_ids_by_uuid()
    events = store.event_ids_by_uuid(faces)
    kept = {f.event_id: f.id for f in store.unknown_faces(states=tuple(ReviewState))}
    claimed = 0
    for event_uuid, event_id in events.items():
        person_id, face_id = people.get(faces[event_uuid]), kept.get(event_id)
        if person_id is not None and face_id is not None:
            claimed += store.set_unknown_review([face_id], ReviewState.ASSIGNED, person_id)
    return claimed


def claim_in_backups(folder: Path, faces: dict[str, str]) -> None:
    """claim_erased_faces on every backup in `folder` (the Engine then erases the people from them)."""
    for backup in sorted(folder.glob("rollcall-*.db")):
        try:
            with GalleryStore(backup) as old:
                claim_erased_faces(old, faces)
        except (RollcallError, OSError) as exc:
            log.warning("Could not mark erased faces in backup %s: %s", backup, exc)


def faces_given_to(store: GalleryStore, person_uuids: list[str]) -> dict[str, list[bytes]]:
    """The kept strangers' faces that this (admin) station enrolled as, or assigned to, these people: their
    embeddings' bytes, which every station holds alike ({person UUID: vectors})."""
    ids = store.person_ids_by_uuid()
    wanted = {ids[u]: u for u in person_uuids if u in ids}
    faces: dict[str, list[bytes]] = {u: [] for u in wanted.values()}
    for face in store.unknown_faces(states=(ReviewState.ASSIGNED, ReviewState.ENROLLED)):
        if face.person_id in wanted and face.vector is not None:
            faces[wanted[face.person_id]].append(face.vector.astype("<f4").tobytes())
    return faces


def erase_given_faces(conn: psycopg.Connection, faces: dict[str, list[bytes]]) -> int:
    """On the server, in the caller's transaction after an erasure's push: the kept faces (by their
    embedding's bytes, as every station holds them) that the admin station gave to the people erased
    ({person UUID: vectors}) go, and a tombstone per face tells the stations that kept them. Returns faces."""
    erased = 0
    version = conn.execute("SELECT gallery_version FROM site_meta").fetchone()[0]
    for person_uuid, vectors in faces.items():
        if not vectors:
            continue
        events = [r[0] for r in conn.execute("DELETE FROM unknown_faces WHERE vector = ANY(%s::bytea[])"
                                             " RETURNING event_uuid::text", [vectors])]
        conn.execute("DELETE FROM correction_faces WHERE event_uuid = ANY(%s::uuid[])", [events])
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO erasures (uuid, kind, merged_into, version) VALUES (%s, %s, %s, %s)"
                               " ON CONFLICT (uuid) DO UPDATE SET kind = excluded.kind,"
                               " merged_into = excluded.merged_into, version = excluded.version",
                               [(event, FACE_ERASURE, erased_key(person_uuid), version) for event in events])
        erased += len(events)
    return erased


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
            erasures = ([(erased_key(u), "person", None, version) for u in gallery.erased_people]
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
                    [(p.uuid, p.name, p.external_id, p.created_at, p.active, version, erased_key(p.uuid))
                     for p in gallery.people])
            if gallery.samples:
                cursor.executemany(
                    "INSERT INTO samples (uuid, person_id, crop_jpeg, source, content_hash, det_prob, face_px,"
                    " sharpness, created_at, version, derived) SELECT %s, p.id, %s, %s, %s, %s, %s, %s, %s, %s, %s"
                    " FROM people p"
                    " WHERE p.uuid = %s AND NOT EXISTS (SELECT 1 FROM erasures WHERE uuid = %s)"
                    " ON CONFLICT (uuid) DO UPDATE SET person_id = excluded.person_id, version = excluded.version"
                    " WHERE samples.person_id IS DISTINCT FROM excluded.person_id",
                    [(s.uuid, s.crop_jpeg, s.source, s.content_hash, s.det_prob, s.face_px, s.sharpness,
                      s.created_at, version, s.derived, s.person_uuid, s.uuid) for s in gallery.samples])
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
