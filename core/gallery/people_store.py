"""The store's people and their face samples. GalleryStore inherits these methods."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.base.errors import (
    DuplicateExternalIdError,
    DuplicateNameError,
    EnrollmentError,
    InvalidInputError,
    PersonNotFoundError,
    RefusalReason,
)
from core.base.records import Occlusion, Person, PersonDeleted, PersonOverview, Sample
from core.gallery.names import clean_external_id, clean_name, name_key
from core.gallery.row_values import new_uuid, now
from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded

MAX_SQLITE_INTEGER = 2**63 - 1  # SQLite stores integers in 64 bits
_SAMPLE_COLUMNS = "id, person_id, source, content_hash, det_prob, face_px, sharpness, created_at, derived"
_PHOTOS_ONLY = "derived IS NULL"


class PeopleTables(StoreState):
    """People (names, external IDs, active or not), merging and deleting them, and their face samples."""

    @staticmethod
    def _person(row: dict) -> Person:
        return Person(
            row["id"], row["name"], row["external_id"], datetime.fromisoformat(row["created_at"]), bool(row["active"])
        )

    def _refuse_duplicate(self, name: str, except_id: int | None = None) -> None:
        for row in self._db.query(
            "SELECT id, name FROM people WHERE name_key = ? AND active = 1 AND id IS NOT ?", [name_key(name), except_id]
        ):
            raise DuplicateNameError(
                f"{row['name']!r} is already enrolled (id {row['id']}). Choose another name, "
                "or add them anyway as a different person.",
                existing_id=row["id"],
            )

    def _refuse_taken_external_id(self, external_id: str | None, except_id: int | None = None) -> None:
        if external_id is None:
            return
        for row in self._db.query(
            "SELECT id, name, active FROM people WHERE external_id = ? AND id IS NOT ?", [external_id, except_id]
        ):
            state = "" if row["active"] else ", inactive"
            raise DuplicateExternalIdError(
                f"External ID {external_id!r} already belongs to {row['name']} (id {row['id']}{state}). "
                "Each person needs their own external ID.",
                external_id=external_id,
                existing_id=row["id"],
            )

    @guarded
    def add_person(self, name: str, external_id: str | None = None, allow_duplicate: bool = False) -> Person:
        name, external_id = clean_name(name), clean_external_id(external_id)
        with self._tx():
            if not allow_duplicate:
                self._refuse_duplicate(name)
            self._refuse_taken_external_id(external_id)
            person_id = (
                self._db.table("people")
                .insert(
                    dict(
                        uuid=new_uuid(),
                        name=name,
                        name_key=name_key(name),
                        external_id=external_id,
                        created_at=now().isoformat(),
                        active=1,
                    )
                )
                .last_pk
            )
            return self.get_person(person_id)

    @guarded
    def get_person(self, person_id: int) -> Person:
        if abs(int(person_id)) <= MAX_SQLITE_INTEGER:  # a longer number (a name of digits) is nobody's id
            for row in self._db.query("SELECT * FROM people WHERE id = ?", [int(person_id)]):
                return self._person(row)
        raise PersonNotFoundError(f"No person with id {person_id} is enrolled.")

    @guarded
    def find_person(self, name_or_id: str) -> Person:
        """An id (digits) or an exact name, case-insensitive. Active people win over inactive ones."""
        text = str(name_or_id).strip()
        if text.isascii() and text.isdigit():
            try:
                return self.get_person(int(text))
            except PersonNotFoundError:
                pass  # maybe someone is named with digits
        matches = [
            self._person(r)
            for r in self._db.query(
                "SELECT * FROM people WHERE name_key = ? ORDER BY active DESC, id", [name_key(text)]
            )
        ]
        candidates = [p for p in matches if p.active] or matches
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise PersonNotFoundError(f"No one named {text!r} is enrolled.")
        ids = ", ".join(str(p.id) for p in candidates)
        raise PersonNotFoundError(f"Several people are named {text!r} (ids {ids}); use the id instead.")

    @staticmethod
    def _people_filter(search: str | None, include_inactive: bool) -> tuple[str, list]:
        sql, params = " WHERE 1 = 1", []
        if not include_inactive:
            sql += " AND p.active = 1"
        if search and search.strip():
            sql += " AND (instr(p.name_key, ?) > 0 OR instr(lower(coalesce(p.external_id, '')), ?) > 0)"
            params += [name_key(search), search.strip().lower()]
        return sql, params

    @guarded
    def list_people(self, search: str | None = None, include_inactive: bool = False) -> list[Person]:
        where, params = self._people_filter(search, include_inactive)
        return [
            self._person(r)
            for r in self._db.query(f"SELECT p.* FROM people p{where} ORDER BY p.name_key, p.id", params)
        ]

    @guarded
    def people_overview(self, search: str | None = None, include_inactive: bool = False) -> list[PersonOverview]:
        """People with their sample count and first sample, in one query."""
        where, params = self._people_filter(search, include_inactive)
        sql = (
            "SELECT p.*, count(s.id) - count(s.derived) AS sample_count, count(s.derived) AS derived_count,"
            " min(CASE WHEN s.derived IS NULL THEN s.id END) AS first_sample_id FROM people p"
            f" LEFT JOIN samples s ON s.person_id = p.id{where} GROUP BY p.id ORDER BY p.name_key, p.id"
        )
        return [
            PersonOverview(self._person(r), r["sample_count"], r["first_sample_id"], r["derived_count"])
            for r in self._db.query(sql, params)
        ]

    @guarded
    def rename_person(self, person_id: int, new_name: str, allow_duplicate: bool = False) -> Person:
        new_name = clean_name(new_name)
        with self._tx():
            self.get_person(person_id)
            if not allow_duplicate:
                self._refuse_duplicate(new_name, except_id=person_id)
            self._db.table("people").update(person_id, dict(name=new_name, name_key=name_key(new_name)))
            return self.get_person(person_id)

    @guarded
    def set_external_id(self, person_id: int, external_id: str | None) -> Person:
        with self._tx():
            self.get_person(person_id)
            external_id = clean_external_id(external_id)
            self._refuse_taken_external_id(external_id, except_id=person_id)
            self._db.table("people").update(person_id, dict(external_id=external_id))
            return self.get_person(person_id)

    @guarded
    def set_active(self, person_id: int, active: bool) -> Person:
        """Inactive people keep their data but are left out of the gallery and of lists."""
        with self._tx():
            self.get_person(person_id)
            self._db.table("people").update(person_id, dict(active=int(bool(active))))
            return self.get_person(person_id)

    @guarded
    def delete_person(self, person_id: int) -> PersonDeleted:
        """Delete a person and everything about them; says how many rows of each kind went."""
        with self._tx():
            self.get_person(person_id)
            deleted = PersonDeleted(
                person_id=person_id,
                samples=self.count_samples(person_id),
                embeddings=self._scalar(
                    "SELECT count(*) FROM embeddings e JOIN samples s ON s.id = e.sample_id WHERE s.person_id = ?",
                    [person_id],
                ),
                events=self._scalar("SELECT count(*) FROM events WHERE person_id = ?", [person_id]),
            )
            self._conn.execute("DELETE FROM people WHERE id = ?", [person_id])  # cascades
        self.erase_freed_space()
        return deleted

    @guarded
    def merge_people(self, keep_id: int, merge_id: int) -> dict[str, int]:
        """Move merge_id's samples and events to keep_id, then delete merge_id."""
        if int(keep_id) == int(merge_id):
            raise InvalidInputError("Pick two different people to merge.")
        with self._tx():
            self.get_person(keep_id)
            self.get_person(merge_id)
            # a photo both already have stays with keep_id only
            dropped = self._conn.execute(
                "DELETE FROM samples WHERE person_id = ? AND content_hash IN"
                " (SELECT content_hash FROM samples WHERE person_id = ?)",
                [merge_id, keep_id],
            ).rowcount
            samples = self._conn.execute(
                "UPDATE samples SET person_id = ? WHERE person_id = ?", [keep_id, merge_id]
            ).rowcount
            events = self._conn.execute(
                "UPDATE events SET person_id = ? WHERE person_id = ?", [keep_id, merge_id]
            ).rowcount
            self.move_confusions(keep_id, merge_id)
            self._conn.execute("UPDATE held_sightings SET person_id = ? WHERE person_id = ?", [keep_id, merge_id])
            self._conn.execute("DELETE FROM people WHERE id = ?", [merge_id])
            return {"samples": samples, "events": events, "duplicate_samples_dropped": dropped}

    # ---- samples ----

    @staticmethod
    def _sample(row: dict) -> Sample:
        return Sample(
            row["id"],
            row["person_id"],
            row["source"],
            row["content_hash"],
            row["det_prob"],
            row["face_px"],
            row["sharpness"],
            datetime.fromisoformat(row["created_at"]),
            Occlusion(row["derived"]) if row["derived"] else None,
        )

    def _samples_where(self, where: str, params: Sequence) -> list[Sample]:
        sql = f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE {where} ORDER BY id"
        return [self._sample(r) for r in self._db.query(sql, params)]

    @guarded
    def add_sample(
        self,
        person_id: int,
        crop_jpeg: bytes,
        source: str,
        content_hash: str,
        det_prob: float,
        face_px: int,
        sharpness: float,
        derived: str | None = None,
        derived_from: int | None = None,
    ) -> Sample:
        """A photo's face, or (derived set) a template drawn from the photo `derived_from`."""
        if not crop_jpeg:
            raise InvalidInputError("A face sample needs the crop's JPEG bytes.")
        with self._tx():
            person = self.get_person(person_id)
            if self.has_sample(person_id, content_hash):
                raise EnrollmentError(
                    f"This photo is already enrolled for {person.name}.", reason=RefusalReason.DUPLICATE
                )
            sample_id = (
                self._db.table("samples")
                .insert(
                    dict(
                        uuid=new_uuid(),
                        person_id=person_id,
                        crop_jpeg=bytes(crop_jpeg),
                        source=str(source),
                        content_hash=content_hash,
                        det_prob=float(det_prob),
                        face_px=int(face_px),
                        sharpness=float(sharpness),
                        created_at=now().isoformat(),
                        derived=None if derived is None else str(derived),
                        derived_from=None if derived_from is None else int(derived_from),
                    )
                )
                .last_pk
            )
            return self._samples_where("id = ?", [sample_id])[0]

    @guarded
    def has_sample(self, person_id: int, content_hash: str) -> bool:
        return (
            self._scalar("SELECT 1 FROM samples WHERE person_id = ? AND content_hash = ?", [person_id, content_hash])
            is not None
        )

    @guarded
    def find_sample_by_hash(self, content_hash: str) -> Sample | None:
        found = self._samples_where("content_hash = ?", [content_hash])
        return found[0] if found else None

    @guarded
    def list_samples(self, person_id: int, include_derived: bool = False) -> list[Sample]:
        """The person's photos (and with include_derived, the templates drawn from them)."""
        if include_derived:
            return self._samples_where("person_id = ?", [person_id])
        return self._samples_where(f"person_id = ? AND {_PHOTOS_ONLY}", [person_id])

    @guarded
    def sample_crop(self, sample_id: int) -> bytes:
        crop = self._scalar("SELECT crop_jpeg FROM samples WHERE id = ?", [sample_id])
        if crop is None:
            raise InvalidInputError(f"No face sample with id {sample_id}.")
        return bytes(crop)

    @guarded
    def derived_sample_ids(self, sample_ids: Sequence[int]) -> list[int]:
        """The derived templates drawn from these photos (they go with them)."""
        ids = [int(i) for i in sample_ids]
        marks = ", ".join("?" * len(ids)) or "NULL"
        return [r[0] for r in self._conn.execute(f"SELECT id FROM samples WHERE derived_from IN ({marks})", ids)]

    @guarded
    def delete_sample(self, sample_id: int) -> bool:
        with self._tx():
            return self._conn.execute("DELETE FROM samples WHERE id = ?", [sample_id]).rowcount > 0

    @guarded
    def count_samples(self, person_id: int | None = None, derived: bool | None = False) -> int:
        """Photos (derived False, the default), derived templates (True) or every template (None)."""
        kind = "1" if derived is None else "derived IS NOT NULL" if derived else _PHOTOS_ONLY
        if person_id is None:
            return self._scalar(f"SELECT count(*) FROM samples WHERE {kind}")
        return self._scalar(f"SELECT count(*) FROM samples WHERE person_id = ? AND {kind}", [person_id])
