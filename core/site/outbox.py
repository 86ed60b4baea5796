"""Events up: the outbox sends local events in sequence-number order, one batch per transaction.

The station remembers the highest sequence number the server has committed (`ACKED_KEY`) and
resumes after it, never by timestamp, so a clock that jumps cannot hide an event. The server
inserts with ON CONFLICT (event_uuid) DO NOTHING: a batch sent again after a lost reply adds nothing.
A moved check-out (revision > 0) comes round again with a new sequence number and updates its
row only if it is newer than what the server has. The server sets ids and receive times (a trigger
stamps a move's receive time); a kiosk has no right to write them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from core.base.errors import Cancelled
from core.base.records import OutboxEvent
from core.gallery.store import GalleryStore
from core.site.connection import SiteError, SiteProblem, server_error
from core.site.driver import psycopg
from core.site.intake import QUOTA_SQLSTATE
from core.site.trust import record_refused

ACKED_KEY = "site_acked_seq"

_INSERT = """
INSERT INTO events (event_uuid, kiosk_id, kiosk_seq, revision, person_uuid, kind, kiosk_time, kiosk_day,
                    kiosk_utc_offset_min, source, similarity, track_id)
SELECT v.event_uuid, %s, v.seq, v.revision,
       coalesce((SELECT m.merged_into FROM erasures m WHERE m.uuid = v.person_uuid AND m.kind = 'merged'),
                v.person_uuid), v.kind, v.kiosk_time, v.kiosk_day, v.offset_min,
       v.source, v.similarity, v.track_id
FROM unnest(%s::uuid[], %s::bigint[], %s::integer[], %s::uuid[], %s::text[], %s::timestamptz[], %s::date[],
            %s::integer[], %s::text[], %s::real[], %s::integer[])
     AS v(event_uuid, seq, revision, person_uuid, kind, kiosk_time, kiosk_day, offset_min, source, similarity,
          track_id)
WHERE v.person_uuid IS NULL
   OR NOT EXISTS (SELECT 1 FROM erasures x WHERE x.kind = 'person' AND x.uuid = left(encode(sha256(convert_to(
                  'rollcall-erased:' || v.person_uuid::text, 'UTF8')), 'hex'), 32)::uuid)
ON CONFLICT (event_uuid) DO NOTHING
"""

_MOVE = """
UPDATE events SET kind = v.kind, kiosk_time = v.kiosk_time, kiosk_day = v.kiosk_day,
       kiosk_utc_offset_min = v.offset_min, source = v.source, similarity = v.similarity, track_id = v.track_id,
       revision = v.revision, kiosk_seq = v.seq
FROM unnest(%s::uuid[], %s::bigint[], %s::integer[], %s::text[], %s::timestamptz[], %s::date[], %s::integer[],
            %s::text[], %s::real[], %s::integer[])
     AS v(event_uuid, seq, revision, kind, kiosk_time, kiosk_day, offset_min, source, similarity, track_id)
WHERE events.event_uuid = v.event_uuid AND events.revision < v.revision
"""


class UploadRefused(Exception):
    """The server refused a batch (over the quota, or a value it does not take); the queue is kept."""

    def __init__(self, error: SiteError):
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class UploadProgress:
    sent: int  # events committed on the server in this round
    total: int  # events queued when the round started
    acked_seq: int


def acked_seq(store: GalleryStore) -> int:
    return int(store.meta_value(ACKED_KEY) or 0)


def queue_length(store: GalleryStore) -> int:
    return store.outbox_length(acked_seq(store))


def _columns(events: list[OutboxEvent]) -> dict[str, list]:
    return {
        "uuid": [e.uuid for e in events], "seq": [e.seq for e in events], "revision": [e.revision for e in events],
        "person": [e.person_uuid for e in events], "kind": [str(e.kind) for e in events],
        "time": [e.time for e in events], "day": [e.time.date() for e in events],
        "offset": [int((e.time.utcoffset() or timedelta()).total_seconds() // 60) for e in events],
        "source": [e.source for e in events], "similarity": [e.similarity for e in events],
        "track": [e.track_id for e in events],
    }


def send_batch(conn: psycopg.Connection, kiosk_id: int, events: list[OutboxEvent]) -> int:
    """One transaction: insert the batch (duplicates ignored), then apply moved check-outs. Returns rows inserted."""
    c = _columns(events)
    with conn.transaction():
        inserted = conn.execute(_INSERT, [kiosk_id, c["uuid"], c["seq"], c["revision"], c["person"], c["kind"],
                                          c["time"], c["day"], c["offset"], c["source"], c["similarity"],
                                          c["track"]]).rowcount
        moved = [e for e in events if e.revision > 0]
        if moved:
            m = _columns(moved)
            conn.execute(_MOVE, [m["uuid"], m["seq"], m["revision"], m["kind"], m["time"], m["day"], m["offset"],
                                 m["source"], m["similarity"], m["track"]])
    return inserted


def upload(conn: psycopg.Connection, store: GalleryStore, kiosk_id: int, batch_size: int,
           cancel: Callable[[], bool] | None = None) -> Iterator[UploadProgress]:
    """Send every queued event; the acknowledgement moves only after the server committed a batch."""
    acked = acked_seq(store)
    total = store.outbox_length(acked)
    sent = 0
    refused: list[tuple[str, str]] = []
    yield UploadProgress(0, total, acked)
    while True:
        if cancel and cancel():
            raise Cancelled(f"Upload stopped; {store.outbox_length(acked)} events stay queued and go next time.")
        events = store.outbox(acked, max(1, batch_size))
        if not events:
            return
        try:
            send_batch(conn, kiosk_id, events)
        except psycopg.Error as exc:
            if exc.sqlstate == QUOTA_SQLSTATE:
                raise UploadRefused(server_error(exc)) from None
            if not isinstance(exc, psycopg.IntegrityError):
                raise
            _one_by_one(conn, store, kiosk_id, events, refused)  # the refused ones stay here
        acked = events[-1].seq
        store.set_meta_values({ACKED_KEY: str(acked)})
        sent += len(events)
        yield UploadProgress(sent, max(total, sent), acked)
    if refused:
        raise UploadRefused(SiteError(
            f"The site server refused {len(refused)} of this station's events, kept here and listed by `rollcall "
            f"site status` (the first: {refused[0][1]}). Later events went on.", SiteProblem.REFUSED))


def _one_by_one(conn: psycopg.Connection, store: GalleryStore, kiosk_id: int, events: list[OutboxEvent],
                refused: list[tuple[str, str]]) -> int:
    """A batch the server refused for a value, sent an event at a time: the events it refuses are recorded as
    this station's refused uploads (kept in the local database), the others go. Returns the last seq handled."""
    acked = events[0].seq - 1
    for event in events:
        try:
            send_batch(conn, kiosk_id, [event])
        except psycopg.IntegrityError as exc:
            why = exc.diag.message_primary or type(exc).__name__
            refused.append((event.uuid, why))
            record_refused(store, [(event.uuid, why)])
        except psycopg.Error as exc:
            if exc.sqlstate == QUOTA_SQLSTATE:
                store.set_meta_values({ACKED_KEY: str(acked)})
                raise UploadRefused(server_error(exc)) from None
            raise
        acked = event.seq
        store.set_meta_values({ACKED_KEY: str(acked)})
    return acked
