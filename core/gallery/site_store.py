"""The store's site-mode bookkeeping (core.site): sequence numbers, meta values, the outbox, other
stations' events and the gallery by UUID. GalleryStore inherits these methods."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.base.errors import PersonNotFoundError
from core.base.records import (
    AttendanceEvent,
    EventKind,
    MirroredEvent,
    OutboxEvent,
    SiteEmbedding,
    SiteGallery,
    SitePerson,
    SiteSample,
)
from core.base.timekeeping import AuditAction
from core.gallery.names import name_key
from core.gallery.row_values import aware
from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded

# The site role as core.site keeps it in meta (core.site.records: ROLE_KEY, SiteRole.KIOSK); a kiosk holds nothing:
# HR counts or dismisses held sightings on the admin station, and a kiosk must then see them like any event.
ROLE_META_KEY, KIOSK_ROLE = "site_role", "kiosk"


class SiteTables(StoreState):
    """What the site layer reads and writes in the local database, by site-wide UUID."""

    @guarded
    def raise_event_seq(self, at_least: int) -> None:
        """Continue numbering after `at_least` (a station re-joining a site under its old name)."""
        with self._tx():
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES ('event_seq', ?) ON CONFLICT (key)"
                " DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                [str(int(at_least))],
            )

    @guarded
    def meta_value(self, key: str) -> str | None:
        return self._scalar("SELECT value FROM meta WHERE key = ?", [key])

    @guarded
    def set_meta_values(self, values: dict[str, str | None]) -> None:
        """Set (None: remove) several meta keys in one transaction."""
        with self._tx():
            for key, value in values.items():
                if value is None:
                    self._conn.execute("DELETE FROM meta WHERE key = ?", [key])
                else:
                    self._conn.execute(
                        "INSERT INTO meta (key, value) VALUES (?, ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        [key, str(value)],
                    )

    @guarded
    def outbox(self, after_seq: int, limit: int) -> list[OutboxEvent]:
        """Events with a sequence number above `after_seq`, lowest first."""
        rows = self._conn.execute(
            "SELECT e.uuid, e.seq, e.revision, p.uuid, e.kind, e.time, e.source, e.similarity, e.track_id"
            " FROM events e LEFT JOIN people p ON p.id = e.person_id WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
            [int(after_seq), int(limit)],
        ).fetchall()
        return [
            OutboxEvent(r[0], r[1], r[2], r[3], EventKind(r[4]), datetime.fromisoformat(r[5]), r[6], r[7], r[8])
            for r in rows
        ]

    @guarded
    def outbox_length(self, after_seq: int) -> int:
        return self._scalar("SELECT count(*) FROM events WHERE seq > ?", [int(after_seq)])

    @guarded
    def mirror_events(self, events: Iterable[MirroredEvent]) -> tuple[int, int]:
        """Copy other stations' events (by UUID; a newer revision or a merged person updates the copy).
        Events of people this station does not have (erased meanwhile) are skipped. A new event dated (on its
        station's clock) in a month locked here is held, not counted (FinalTables), and a change that would move
        an event into or out of a locked month is not applied (audited), except on a kiosk.
        Returns (new, updated)."""
        people = self.person_ids_by_uuid()
        events = list(events)
        held_already = self.held_uuids(e.uuid for e in events)
        on_kiosk = self._scalar("SELECT value FROM meta WHERE key = ?", [ROLE_META_KEY]) == KIOSK_ROLE
        locked = set() if on_kiosk else set(self.locked_months())
        to_hold: list[tuple[AttendanceEvent, str, str, int]] = []
        kept_as_was: list[str] = []  # updates of events that touch a locked month: not applied
        added = updated = 0
        with self._tx():
            for event in events:
                person_id = people.get(event.person_uuid) if event.person_uuid else None
                if (person_id is None) != (event.kind is EventKind.UNKNOWN) or event.uuid in held_already:
                    continue
                moment = aware(event.time)
                row = self._conn.execute(
                    "SELECT id, revision, person_id, station, time FROM events WHERE uuid = ?", [event.uuid]
                ).fetchone()
                if row is None and person_id is not None and f"{moment:%Y-%m}" in locked:  # late into a locked month
                    sighting = AttendanceEvent(
                        None, person_id, None, event.kind, moment, event.source, event.similarity, event.track_id
                    )
                    to_hold.append((sighting, event.uuid, event.station, int(event.revision)))
                    continue
                values = [
                    person_id,
                    event.kind.value,
                    moment.isoformat(),
                    moment.timestamp(),
                    moment.date().isoformat(),
                    event.source,
                    float(event.similarity),
                    event.track_id,
                    int(event.revision),
                ]
                if row is None:
                    self._conn.execute(
                        "INSERT INTO events (person_id, kind, time, ts, day, source, similarity, track_id, revision,"
                        " uuid, station) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        values + [event.uuid, event.station],
                    )
                    added += 1
                elif row[3] is not None and (event.revision > row[1] or person_id != row[2]):
                    if {row[4][:7], f"{moment:%Y-%m}"} & locked:  # a locked month's event moved, or moved into one
                        kept_as_was.append(event.uuid)
                        continue
                    self._conn.execute(
                        "UPDATE events SET person_id = ?, kind = ?, time = ?, ts = ?, day = ?, source = ?,"
                        " similarity = ?, track_id = ?, revision = ? WHERE id = ?",
                        values + [row[0]],
                    )
                    updated += 1
            self.hold_mirrored(to_hold, "site sync")
            if kept_as_was:
                self.append_audit(
                    "site sync",
                    AuditAction.EVENTS_HELD,
                    ", ".join(sorted(locked)),
                    "a change to an event in a locked month was not applied",
                    {"origin": "site", "updates_not_applied": kept_as_was},
                )
        return added, updated

    @guarded
    def event_ids_by_uuid(self, uuids: Iterable[str]) -> dict[str, int]:
        wanted = list(uuids)
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found.update(
                self._conn.execute(
                    f"SELECT uuid, id FROM events WHERE uuid IN ({', '.join('?' * len(chunk))})", chunk
                ).fetchall()
            )
        return found

    @guarded
    def person_ids_by_uuid(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self._conn.execute("SELECT uuid, id FROM people")}

    @guarded
    def person_uuid(self, person_id: int) -> str:
        found = self._scalar("SELECT uuid FROM people WHERE id = ?", [int(person_id)])
        if found is None:
            raise PersonNotFoundError(f"No person with id {person_id} is enrolled.")
        return found

    @guarded
    def sample_uuids(self, sample_ids: Iterable[int]) -> list[str]:
        ids = [int(i) for i in sample_ids]
        return (
            [
                r[0]
                for r in self._conn.execute(f"SELECT uuid FROM samples WHERE id IN ({', '.join('?' * len(ids))})", ids)
            ]
            if ids
            else []
        )

    @guarded
    def site_gallery(
        self, person_ids: Iterable[int] | None = None, model_ids: Iterable[str] | None = None, with_samples: bool = True
    ) -> SiteGallery:
        """People (all, or these), their samples and their embeddings (all models, or these), by UUID."""
        people_where, params = "", list[Any]()
        if person_ids is not None:
            ids = [int(i) for i in person_ids]
            people_where, params = f" WHERE p.id IN ({', '.join('?' * len(ids)) or 'NULL'})", ids
        people = [
            SitePerson(r[0], r[1], r[2], datetime.fromisoformat(r[3]), bool(r[4]))
            for r in self._conn.execute(
                f"SELECT p.uuid, p.name, p.external_id, p.created_at, p.active FROM people p{people_where}", params
            )
        ]
        samples = (
            [
                SiteSample(r[0], r[1], bytes(r[2]), r[3], r[4], r[5], r[6], r[7], datetime.fromisoformat(r[8]), r[9])
                for r in self._conn.execute(
                    "SELECT s.uuid, p.uuid, s.crop_jpeg, s.source, s.content_hash, s.det_prob, s.face_px, s.sharpness,"
                    f" s.created_at, s.derived FROM samples s JOIN people p ON p.id = s.person_id{people_where}",
                    params,
                )
            ]
            if with_samples
            else []
        )
        model_where, model_params = "", []
        if model_ids is not None:
            models = [str(m) for m in model_ids]
            placeholders = ", ".join("?" * len(models)) or "NULL"
            model_where = f" {'AND' if people_where else 'WHERE'} e.model_id IN ({placeholders})"
            model_params = models
        embeddings = [
            SiteEmbedding(r[0], r[1], bytes(r[2]))
            for r in self._conn.execute(
                "SELECT s.uuid, e.model_id, e.vector FROM embeddings e JOIN samples s ON s.id = e.sample_id"
                f" JOIN people p ON p.id = s.person_id{people_where}{model_where}",
                params + model_params,
            )
        ]
        return SiteGallery(people, samples, embeddings, self.list_models())

    @guarded
    def apply_site_gallery(self, changes: SiteGallery) -> dict[str, int]:
        """Bring the local copy up to the server's changes in one transaction (upserts by UUID, erasures)."""
        with self._tx():
            for model in changes.models:
                if self._scalar("SELECT 1 FROM models WHERE id = ?", [model.id]) is None:
                    self.register_model(model)
            erased_samples = sum(
                self._conn.execute("DELETE FROM samples WHERE uuid = ?", [u]).rowcount for u in changes.erased_samples
            )
            erased_people = sum(
                self._conn.execute("DELETE FROM people WHERE uuid = ?", [u]).rowcount for u in changes.erased_people
            )
            # external IDs are unique: one that moved between people in this batch is freed first
            self._conn.executemany(
                "UPDATE people SET external_id = NULL WHERE uuid = ?", [(p.uuid,) for p in changes.people]
            )
            self._conn.executemany(
                "INSERT INTO people (uuid, name, name_key, external_id, created_at, active)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (uuid) DO UPDATE SET name = excluded.name,"
                " name_key = excluded.name_key, external_id = excluded.external_id, active = excluded.active",
                [
                    (p.uuid, p.name, name_key(p.name), p.external_id, aware(p.created_at).isoformat(), int(p.active))
                    for p in changes.people
                ],
            )
            person_ids = self.person_ids_by_uuid()
            known = {row[0] for row in self._conn.execute("SELECT uuid FROM samples")}
            self._conn.executemany(  # a sample moved to another person (a merge)
                "UPDATE OR IGNORE samples SET person_id = ? WHERE uuid = ?",
                [(person_ids[s.person_uuid], s.uuid) for s in changes.samples if s.uuid in known],
            )
            self._conn.executemany(  # the same photo of the same person under an older UUID takes the new one
                "INSERT INTO samples (uuid, person_id, crop_jpeg, source, content_hash, det_prob, face_px, sharpness,"
                " created_at, derived) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (person_id, content_hash) DO UPDATE SET uuid = excluded.uuid",
                [
                    (
                        s.uuid,
                        person_ids[s.person_uuid],
                        s.crop_jpeg,
                        s.source,
                        s.content_hash,
                        s.det_prob,
                        s.face_px,
                        s.sharpness,
                        aware(s.created_at).isoformat(),
                        s.derived,
                    )
                    for s in changes.samples
                    if s.uuid not in known
                ],
            )
            sample_ids = dict(self._conn.execute("SELECT uuid, id FROM samples").fetchall())
            self._conn.executemany(
                "INSERT INTO embeddings (sample_id, model_id, vector) VALUES (?, ?, ?)"
                " ON CONFLICT (sample_id, model_id) DO UPDATE SET vector = excluded.vector",
                [
                    (sample_ids[e.sample_uuid], e.model_id, e.vector)
                    for e in changes.embeddings
                    if e.sample_uuid in sample_ids
                ],
            )
            for merged_uuid, kept_uuid in changes.merged_people.items():
                merged, kept = person_ids.get(merged_uuid), person_ids.get(kept_uuid)
                if merged is not None and kept is not None:
                    self.merge_people(kept, merged)  # their local events move to the person kept
        if erased_people or erased_samples:
            self.erase_freed_space()
        return {
            "people": len(changes.people),
            "samples": len(changes.samples),
            "merged": len(changes.merged_people),
            "embeddings": len(changes.embeddings),
            "erased_people": erased_people,
            "erased_samples": erased_samples,
        }
