"""Time and attendance across a site: every station applies the same rules to the same facts.

- Events: each station copies the other stations' events from the server (by receipt order, with a
  look-back for transactions that committed late), so a kiosk's day board and the admin station's
  timesheet read the same events.
- The HR book: groups, memberships, holidays, leave, corrections and month locks are edited on the
  admin station only; it publishes them as one versioned row, and every kiosk replaces its copy.
- Unknown visitors: each station sends the face it kept for each unknown event; the admin station
  copies them all, so a stranger seen at two doors is one group in its Review panel.
- Corrected faces: the admin station corrects other stations' events, whose faces stay on those
  stations; once a correction reaches the station that saw the event, it sends that face, and the
  admin's confusion gets it (so retraining learns from every door's mistakes).
- Pending: the oldest moment up to which every station has reported (rollcall_reported_up_to), so
  nobody is marked absent while a kiosk still holds events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from core.base.records import EventKind, MirroredEvent, SiteUnknownFace
from core.gallery.store import GalleryStore
from core.site.driver import psycopg
from core.site.intake import MAX_SOURCE_BYTES
from core.site.schema import GALLERY_CHANNEL
from core.site.trust import crop_problem, event_problem, face_problem, record_skipped

MIRROR_CURSOR_KEY = "site_events_received_up_to"
FACES_CURSOR_KEY = "site_unknown_faces_received_up_to"
CORRECTION_FACES_SENT_KEY = "site_correction_faces_sent_up_to"  # a kiosk: the highest correction id handled
CORRECTION_FACES_CURSOR_KEY = "site_correction_faces_received_up_to"  # the admin station
REPORTED_KEY = "site_reported_up_to"
BOOK_VERSION_KEY = "site_hr_book_version"
BOOK_INCOMPLETE_KEY = "site_hr_book_incomplete"
MIRROR_LOOK_BACK = timedelta(minutes=5)  # an upload transaction that commits later than its received_at
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MirrorReport:
    added: int
    updated: int
    skipped: int = 0  # rows of other stations that could not be used (core.site.trust), recorded


# Every station's events, with what psycopg cannot load (an infinite time) as null and text cut at the cap plus
# one, so a bad row is recognised and skipped here (core.site.trust) without travelling whole.
_SITE_EVENTS = f"""
SELECT id, event_uuid, person_uuid, kind, CASE WHEN isfinite(kiosk_time) THEN kiosk_time END, offset_min,
       left(source, {MAX_SOURCE_BYTES + 1}), similarity, track_id, revision, station, received_at
FROM rollcall_site_events(%s, %s, %s, %s)
"""


def _event_batches(conn: psycopg.Connection, after: datetime, own_kiosk: int, batch: int) -> Iterator[list[tuple]]:
    after_id = 0
    while True:
        with conn.transaction():
            rows = conn.execute(_SITE_EVENTS, [after, after_id, own_kiosk, batch]).fetchall()
        if not rows:
            return
        yield rows
        after, after_id = rows[-1][11], rows[-1][0]


def mirror_events(conn: psycopg.Connection, store: GalleryStore, own_kiosk: int, batch: int) -> MirrorReport:
    """Copy the other stations' new or moved events into the local store."""
    stored = store.meta_value(MIRROR_CURSOR_KEY)
    cursor = datetime.fromisoformat(stored) - MIRROR_LOOK_BACK if stored else _EPOCH
    added = updated = skipped_count = 0
    newest = None
    for rows in _event_batches(conn, cursor, own_kiosk, batch):
        events, skipped = [], []
        for r in rows:
            problem = event_problem(r[3], r[2], r[4], r[5], r[6], r[7], r[11])
            if problem:
                skipped.append((r[10], r[1], problem))
                continue
            events.append(MirroredEvent(r[1], r[2], EventKind(r[3]), r[4].astimezone(timezone(timedelta(minutes=r[5]))),
                                        r[6], float(r[7]), r[8], int(r[9]), r[10]))
        skipped_count += record_skipped(store, skipped)
        new, moved = store.mirror_events(events)
        added, updated, newest = added + new, updated + moved, rows[-1][11]
    if newest is not None:
        store.set_meta_values({MIRROR_CURSOR_KEY: newest.isoformat()})
    return MirrorReport(added, updated, skipped_count)


def fetch_reported_up_to(conn: psycopg.Connection, store: GalleryStore) -> datetime | None:
    with conn.transaction():
        moment = conn.execute("SELECT rollcall_reported_up_to()").fetchone()[0]
    store.set_meta_values({REPORTED_KEY: moment.isoformat() if moment else None})
    return moment


def reported_up_to(store: GalleryStore) -> datetime:
    """As of the last sync; never synced: the epoch (every absence stays pending)."""
    stored = store.meta_value(REPORTED_KEY)
    return datetime.fromisoformat(stored) if stored else _EPOCH


def kiosk_book(book: dict) -> dict:
    """What kiosks get of the HR book: leave as dates, without the reasons (which stay on the admin station)."""
    return {**book, "leave": [{**item, "reason": ""} for item in book.get("leave", [])]}


def publish_book(conn: psycopg.Connection, store: GalleryStore) -> int:
    """The admin station's HR tables become the site's book (leave without reasons); returns its new version."""
    body = json.dumps(kiosk_book(store.hr_book()))
    with conn.transaction():
        version = conn.execute("UPDATE hr_book SET version = version + 1, body = %s, changed_by = session_user,"
                               " changed_at = now() RETURNING version", [body]).fetchone()[0]
        conn.execute("SELECT pg_notify(%s, %s)", [GALLERY_CHANNEL, f"hr:{version}"])
    store.set_meta_values({BOOK_VERSION_KEY: str(version)})
    return int(version)


def erase_from_book(conn: psycopg.Connection, person_uuids: list[str]) -> bool:
    """The server's HR book loses every entry that names an erased person (a membership, leave, a punch or
    correction), at once; the admin station's next publish is already without them. True if it changed."""
    erased = set(person_uuids)
    with conn.transaction():
        body = conn.execute("SELECT body FROM hr_book FOR UPDATE").fetchone()[0]
        scrubbed = _without(body, erased)
        if scrubbed == body:
            return False
        version = conn.execute("UPDATE hr_book SET version = version + 1, body = %s, changed_by = session_user,"
                               " changed_at = now() RETURNING version", [json.dumps(scrubbed)]).fetchone()[0]
        conn.execute("SELECT pg_notify(%s, %s)", [GALLERY_CHANNEL, f"hr:{version}"])
    return True


def _without(value: object, uuids: set[str]) -> object:
    """`value` with every list entry that mentions one of `uuids` left out, at any depth."""
    if isinstance(value, dict):
        return {key: _without(item, uuids) for key, item in value.items()}
    if isinstance(value, list):
        return [_without(item, uuids) for item in value if not _mentions(item, uuids)]
    return value


def _mentions(value: object, uuids: set[str]) -> bool:
    if isinstance(value, dict):
        return any(_mentions(item, uuids) for item in value.values())
    if isinstance(value, list):
        return any(_mentions(item, uuids) for item in value)
    return isinstance(value, str) and value in uuids


def pull_book(conn: psycopg.Connection, store: GalleryStore) -> bool:
    """A kiosk applies a newer book (or retries one whose events had not arrived yet). True if applied."""
    local = int(store.meta_value(BOOK_VERSION_KEY) or 0)
    retry = bool(store.meta_value(BOOK_INCOMPLETE_KEY))
    with conn.transaction():
        version, body = conn.execute("SELECT version, body FROM hr_book").fetchone()
    if version == local and not retry:
        return False
    missing = store.apply_hr_book(body)
    store.set_meta_values({BOOK_VERSION_KEY: str(version), BOOK_INCOMPLETE_KEY: "1" if missing else None})
    return True


# A face sent again (a better look) replaces the server's copy, then new ones are added: two statements, so
# a kiosk needs no right to read the faces back (ON CONFLICT DO UPDATE would). The server stamps received_at.
_UPDATE_FACES = """
UPDATE unknown_faces SET model_id = v.model_id, vector = v.vector, crop_jpeg = v.crop_jpeg, det_prob = v.det_prob,
    face_px = v.face_px, sharpness = v.sharpness
FROM unnest(%s::uuid[], %s::text[], %s::bytea[], %s::bytea[], %s::real[], %s::integer[], %s::real[])
     AS v(event_uuid, model_id, vector, crop_jpeg, det_prob, face_px, sharpness)
WHERE unknown_faces.event_uuid = v.event_uuid
"""
_INSERT_FACES = """
INSERT INTO unknown_faces (event_uuid, model_id, vector, crop_jpeg, det_prob, face_px, sharpness)
SELECT * FROM unnest(%s::uuid[], %s::text[], %s::bytea[], %s::bytea[], %s::real[], %s::integer[], %s::real[])
ON CONFLICT (event_uuid) DO NOTHING
"""


def upload_unknown_faces(conn: psycopg.Connection, store: GalleryStore, acked_seq: int, batch: int) -> int:
    """Send the faces kept for this station's unknown events that are already on the server."""
    sent = 0
    while True:
        faces = store.unsent_unknown_faces(acked_seq, batch)
        if not faces:
            return sent
        columns = [[f.event_uuid for f in faces], [f.model_id for f in faces], [f.vector for f in faces],
                   [f.crop_jpeg for f in faces], [f.det_prob for f in faces], [f.face_px for f in faces],
                   [f.sharpness for f in faces]]
        with conn.transaction():
            conn.execute(_UPDATE_FACES, columns)
            conn.execute(_INSERT_FACES, columns)
        store.mark_unknown_faces_sent(f.face_id for f in faces)
        sent += len(faces)


def _received_batches(conn: psycopg.Connection, store: GalleryStore, table: str, columns: str, cursor_key: str,
                      batch: int) -> Iterator[list[tuple]]:
    """Rows (event_uuid, columns..., received_at) of a server table received since this station's cursor
    (less the look-back), in batches; the cursor moves once every batch has been handled."""
    stored = store.meta_value(cursor_key)
    after = datetime.fromisoformat(stored) - MIRROR_LOOK_BACK if stored else _EPOCH
    after_uuid, newest = "00000000-0000-0000-0000-000000000000", None
    while True:
        with conn.transaction():
            rows = conn.execute(f"SELECT event_uuid::text, {columns}, received_at FROM {table}"
                                " WHERE (received_at, event_uuid) > (%s, %s::uuid) ORDER BY received_at, event_uuid"
                                " LIMIT %s", [after, after_uuid, batch]).fetchall()
        if not rows:
            break
        yield rows
        after, after_uuid = rows[-1][-1], rows[-1][0]
        newest = after
    if newest is not None:
        store.set_meta_values({cursor_key: newest.isoformat()})


def mirror_unknown_faces(conn: psycopg.Connection, store: GalleryStore, batch: int) -> int:
    """The admin station copies every station's kept faces (after their events were copied); a face whose
    template or values cannot be used is skipped and recorded."""
    dimensions = {m.id: m.embedding_size for m in store.list_models()}
    written = 0
    for rows in _received_batches(conn, store, "unknown_faces",
                                  "model_id, vector, crop_jpeg, det_prob, face_px, sharpness, (SELECT k.name FROM"
                                  " events e JOIN kiosks k ON k.id = e.kiosk_id WHERE e.event_uuid ="
                                  " unknown_faces.event_uuid)", FACES_CURSOR_KEY, batch):
        faces, skipped = [], []
        for r in rows:
            face = SiteUnknownFace(0, r[0], r[1], bytes(r[2]), bytes(r[3]), float(r[4]), int(r[5]), float(r[6]))
            problem = face_problem(face.vector, dimensions.get(face.model_id), face.crop_jpeg, face.det_prob,
                                   face.face_px, face.sharpness)
            if problem:
                skipped.append((r[7] or "?", r[0], f"kept face: {problem}"))
            else:
                faces.append(face)
        record_skipped(store, skipped)
        written += store.mirror_unknown_faces(faces)
    return written


def purge_unknown_faces(conn: psycopg.Connection, older_than: timedelta) -> int:
    """Retention on the server: strangers' and corrected faces received longer ago than `older_than` go."""
    with conn.transaction():
        return sum(conn.execute(f"DELETE FROM {table} WHERE received_at < now() - %s", [older_than]).rowcount
                   for table in ("unknown_faces", "correction_faces"))


def upload_correction_faces(conn: psycopg.Connection, store: GalleryStore) -> int:
    """A kiosk sends the faces of its own events that the site's book has corrected since last time."""
    after = int(store.meta_value(CORRECTION_FACES_SENT_KEY) or 0)
    faces, newest = store.corrected_event_faces(after)
    if faces:
        with conn.transaction():
            conn.execute("INSERT INTO correction_faces (event_uuid, crop_jpeg) SELECT * FROM unnest(%s::uuid[],"
                         " %s::bytea[]) ON CONFLICT (event_uuid) DO NOTHING",
                         [[uuid for uuid, _ in faces], [crop for _, crop in faces]])
    if newest > after:
        store.set_meta_values({CORRECTION_FACES_SENT_KEY: str(newest)})
    return len(faces)


def mirror_correction_faces(conn: psycopg.Connection, store: GalleryStore, batch: int) -> int:
    """The admin station gives its face-less confusions the faces their stations sent."""
    filled = 0
    for rows in _received_batches(conn, store, "correction_faces", "crop_jpeg", CORRECTION_FACES_CURSOR_KEY, batch):
        record_skipped(store, [("?", r[0], f"corrected face: {crop_problem(bytes(r[1]))}") for r in rows
                               if crop_problem(bytes(r[1]))])
        filled += store.fill_confusion_faces((r[0], bytes(r[1])) for r in rows if not crop_problem(bytes(r[1])))
    return filled
