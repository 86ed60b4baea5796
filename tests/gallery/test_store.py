"""GalleryStore: schema, safety of writes, people, samples, embeddings, models and events."""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
import threading
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from core.base.errors import (
    DuplicateExternalIdError,
    DuplicateNameError,
    EnrollmentError,
    InvalidInputError,
    ModelNotFoundError,
    PersonNotFoundError,
    StoreError,
)
from core.base.records import AttendanceEvent, ModelRecord
from core.gallery.names import MAX_NAME_LEN
from core.gallery.schema import _SCHEMA_1, MIGRATIONS
from core.gallery.store import GalleryStore

TZ = timezone(timedelta(hours=2))
DIM = 8


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "data" / "rollcall.db"


@pytest.fixture
def store(db_path):
    with GalleryStore(db_path) as opened:
        yield opened


def make_model(store: GalleryStore, model_id: str = "m1", dim: int = DIM) -> ModelRecord:
    return store.register_model(
        ModelRecord(
            model_id, "Test model", "facenet", None, dim, "/w.pt", datetime(2024, 1, 1, tzinfo=TZ), {"lr": 0.1}, {}
        )
    )


def add_sample(store: GalleryStore, person_id: int, content_hash: str):
    return store.add_sample(
        person_id, b"\xff\xd8jpeg" + content_hash.encode(), "photo.jpg", content_hash, 0.99, 120, 30.0
    )


def event(person_id, kind="check_in", when=datetime(2024, 3, 1, 9, 0, tzinfo=TZ), snapshot=None):
    return AttendanceEvent(None, person_id, None, kind, when, "camera 0", 0.8, 7, snapshot)


def raw(db_path) -> sqlite3.Connection:
    return sqlite3.connect(db_path)


# ---- opening, schema, file safety ----


def test_schema_created_and_data_survives_reopen(db_path):
    with GalleryStore(db_path) as store:
        alice = store.add_person("Alice", external_id="E-1")
    with raw(db_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"people", "samples", "embeddings", "models", "meta", "events"} <= tables
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    with GalleryStore(db_path) as store:
        assert store.get_person(alice.id) == alice
        assert store.integrity_check() == []


def test_wal_mode_and_foreign_keys_are_on(store, db_path):
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    make_model(store)
    with pytest.raises(StoreError, match="does not exist"):
        store.put_embeddings("m1", [(12345, np.zeros(DIM))])  # no such sample
    assert store._conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_database_file_and_folder_are_owner_only(store, db_path):
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(db_path.parent).st_mode) == 0o700


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_existing_database_file_is_made_owner_only(db_path):
    GalleryStore(db_path).close()
    os.chmod(db_path, 0o644)
    GalleryStore(db_path).close()
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600


def test_newer_schema_is_refused(db_path):
    GalleryStore(db_path).close()
    with raw(db_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer"):
        GalleryStore(db_path)


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database at all " * 200)
    with pytest.raises(StoreError) as caught:
        GalleryStore(path)
    assert str(path) in str(caught.value)


def test_damaged_table_page_is_caught_at_open(db_path):
    with GalleryStore(db_path) as store:
        for i in range(50):
            store.add_person(f"Person {i}")
    with raw(db_path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'people'").fetchone()[0]
    with open(db_path, "r+b") as handle:  # header and schema intact, the people table is not
        handle.seek((root - 1) * page_size + 8)
        handle.write(b"\xff" * 64)
    with pytest.raises(StoreError) as caught:
        GalleryStore(db_path)
    assert str(db_path) in str(caught.value)


def test_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with raw(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="not one of Rollcall's"):
        GalleryStore(path)


def test_disk_full_fails_cleanly_and_changes_nothing(store):
    alice = store.add_person("Alice")
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # simulate a nearly full disk
    with pytest.raises(StoreError, match="full"):
        store.add_sample(alice.id, os.urandom(200_000), "big.jpg", "big", 0.99, 100, 20.0)
    assert store.count_samples() == 0
    assert store.get_person(alice.id) == alice  # still usable


def test_memory_store_works():
    with GalleryStore.memory() as store:
        store.add_person("Bob")
        assert store.stats()["people"] == 1


# ---- transactions ----


def test_failing_transaction_rolls_everything_back(store):
    make_model(store)
    with pytest.raises(RuntimeError):
        with store.transaction():
            bob = store.add_person("Bob")
            sample = add_sample(store, bob.id, "h1")
            store.put_embeddings("m1", [(sample.id, np.ones(DIM))])
            raise RuntimeError("enrollment cancelled")
    assert store.stats() == {"people": 0, "samples": 0, "events": 0, "models": 1}
    assert store._conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0


def test_database_error_inside_transaction_rolls_back_and_raises_store_error(store):
    make_model(store)
    with pytest.raises(StoreError):
        with store.transaction():
            store.add_person("Carol")
            store.put_embeddings("m1", [(999, np.ones(DIM))])  # foreign key violation
    assert store.list_people() == []
    # the store is usable afterwards and nested calls commit with the outer block
    with store.transaction():
        carol = store.add_person("Carol")
        add_sample(store, carol.id, "h")
    assert store.count_samples(carol.id) == 1


def test_concurrent_writers_from_threads(store):
    people = [store.add_person(f"Person {i}") for i in range(4)]
    errors = []

    def work(person_id):
        try:
            for minute in range(25):
                store.record_event(event(person_id, when=datetime(2024, 3, 1, 9, minute, tzinfo=TZ)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p.id,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.stats()["events"] == 100


# ---- people ----


def test_duplicate_names_are_detected_ignoring_case_and_spacing(store):
    alice = store.add_person("Alice Smith")
    with pytest.raises(DuplicateNameError) as caught:
        store.add_person("  alice   SMITH ")
    assert caught.value.existing_id == alice.id
    second = store.add_person("ALICE SMITH", allow_duplicate=True)
    assert second.id != alice.id
    assert [p.id for p in store.list_people()] == [alice.id, second.id]
    with pytest.raises(PersonNotFoundError, match=f"{alice.id}, {second.id}"):
        store.find_person("alice smith")  # ambiguous: lists the ids


def test_inactive_person_does_not_block_name_and_is_hidden(store):
    old = store.set_active(store.add_person("Dana").id, False)
    new = store.add_person("Dana")
    assert [p.id for p in store.list_people()] == [new.id]
    assert {p.id for p in store.list_people(include_inactive=True)} == {old.id, new.id}
    assert store.find_person("dana").id == new.id


@pytest.mark.parametrize(
    "name",
    [
        "O'Brien",
        'Say "hi"',
        "'; DROP TABLE people;--",
        "a/b\\c",
        "Zoë Ångström 李雷 🙂",
        "x" * MAX_NAME_LEN,
        "=1+2",
        "Robert'); DELETE FROM samples; --",
    ],
)
def test_weird_names_round_trip(db_path, name):
    with GalleryStore(db_path) as store:
        person = store.add_person(name)
    with GalleryStore(db_path) as store:
        assert store.get_person(person.id).name == name
        assert store.find_person(name).id == person.id
        assert store.list_people(search=name[:5])[0].id == person.id
        assert store.stats()["people"] == 1


@pytest.mark.parametrize("name", ["", "   ", "\t\n", "y" * (MAX_NAME_LEN + 1)])
def test_bad_names_are_rejected(store, name):
    with pytest.raises(InvalidInputError) as caught:
        store.add_person(name)
    assert isinstance(caught.value, ValueError) and str(caught.value)
    assert store.list_people(include_inactive=True) == []


def test_names_are_trimmed_and_renamed(store):
    eve = store.add_person("  Eve  ")
    assert eve.name == "Eve"
    store.add_person("Frank")
    with pytest.raises(DuplicateNameError):
        store.rename_person(eve.id, "frank")
    assert store.rename_person(eve.id, "Eve Adams").name == "Eve Adams"
    assert store.rename_person(eve.id, "EVE ADAMS").name == "EVE ADAMS"  # own name is no duplicate
    assert store.set_external_id(eve.id, " S-42 ").external_id == "S-42"
    assert store.find_person(str(eve.id)).name == "EVE ADAMS"
    with pytest.raises(PersonNotFoundError):
        store.find_person("Nobody")
    with pytest.raises(PersonNotFoundError):
        store.get_person(9999)


def test_delete_person_leaves_nothing_behind(store, db_path):
    make_model(store)
    gone, kept = store.add_person("Gone"), store.add_person("Kept")
    for person in (gone, kept):
        samples = [add_sample(store, person.id, f"{person.id}-{i}") for i in range(3)]
        store.put_embeddings("m1", [(s.id, np.ones(DIM)) for s in samples])
        store.record_event(event(person.id))
        store.record_event(event(person.id, "check_out", snapshot=b"jpg"))
    deleted = store.delete_person(gone.id)
    assert (deleted.samples, deleted.embeddings, deleted.events) == (3, 3, 2)
    with raw(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM people WHERE id = ?", [gone.id]).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM samples WHERE person_id = ?", [gone.id]).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM events WHERE person_id = ?", [gone.id]).fetchone()[0] == 0
        assert (
            conn.execute("SELECT count(*) FROM embeddings WHERE sample_id NOT IN (SELECT id FROM samples)").fetchone()[
                0
            ]
            == 0
        )
        assert conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 2
    assert store.integrity_check() == []
    with pytest.raises(PersonNotFoundError):
        store.delete_person(gone.id)


def test_ids_of_deleted_people_samples_and_events_are_never_reused(store):
    """Caches keyed by id (thumbnails, attendance books) must never show a deleted person's data."""
    make_model(store)
    ada = store.add_person("Ada")
    ada_sample = add_sample(store, ada.id, "ada-1")
    ada_event = store.record_event(event(ada.id))
    store.delete_person(ada.id)
    bob = store.add_person("Bob")
    assert bob.id != ada.id
    assert add_sample(store, bob.id, "bob-1").id != ada_sample.id
    assert store.record_event(event(bob.id)).id != ada_event.id
    kept = add_sample(store, bob.id, "bob-2")
    store.delete_sample(kept.id)
    assert add_sample(store, bob.id, "bob-3").id > kept.id


def test_external_ids_are_unique(store):
    ada = store.add_person("Ada", external_id="E1")
    with pytest.raises(DuplicateExternalIdError, match=r"'E1' already belongs to Ada \(id \d+\)") as caught:
        store.add_person("Bob", external_id=" E1 ")
    assert caught.value.existing_id == ada.id
    assert [p.name for p in store.list_people()] == ["Ada"], "the refused person is not saved"
    bob = store.add_person("Bob", external_id="E2")
    with pytest.raises(DuplicateExternalIdError, match="Ada"):
        store.set_external_id(bob.id, "E1")
    assert store.get_person(bob.id).external_id == "E2"
    assert store.set_external_id(ada.id, "E1").external_id == "E1"  # keeping one's own is fine
    store.set_active(ada.id, False)
    with pytest.raises(DuplicateExternalIdError, match="inactive"):
        store.add_person("Cy", external_id="E1")
    store.add_person("Dee")
    store.add_person("Eve")  # no external ID: any number of people
    with pytest.raises(StoreError):  # the database itself refuses, whatever the caller
        with store.transaction():
            store._conn.execute("UPDATE people SET external_id = 'E1' WHERE name = 'Dee'")


def _schema_1_database(path) -> None:
    """A database as Rollcall wrote it before schema 2: two people share an external ID."""
    with raw(path) as conn:
        for statement in filter(str.strip, _SCHEMA_1.split(";")):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.executemany(
            "INSERT INTO people (id, name, name_key, external_id, created_at) VALUES (?, ?, ?, ?, ?)",
            [
                (1, "Ada", "ada", "E1", "2024-01-01T09:00:00+00:00"),
                (2, "Bob", "bob", "E1", "2024-01-02T09:00:00+00:00"),
                (3, "Cy", "cy", "E3", "2024-01-03T09:00:00+00:00"),
            ],
        )
        conn.execute(
            "INSERT INTO models (id, name, base, embedding_size, weights_path, created_at)"
            " VALUES ('m1', 'M', 'facenet', 8, '/w.pt', '2024-01-01T00:00:00+00:00')"
        )
        conn.execute(
            "INSERT INTO samples (id, person_id, crop_jpeg, source, content_hash, det_prob, face_px,"
            " sharpness, created_at) VALUES (7, 2, x'ffd8', 'b.jpg', 'h7', 0.99, 100, 30, '2024-01-02')"
        )
        conn.execute("INSERT INTO embeddings VALUES (7, 'm1', ?)", [np.ones(DIM, "<f4").tobytes()])
        conn.execute(
            "INSERT INTO events (id, person_id, kind, time, ts, day, source, similarity)"
            " VALUES (5, 2, 'check_in', '2024-01-02T09:00:00+00:00', 1704186000, '2024-01-02', 'cam', 0.8)"
        )


def test_upgrade_keeps_data_and_sets_a_shared_external_id_aside(db_path, caplog):
    db_path.parent.mkdir(parents=True)
    _schema_1_database(db_path)
    with GalleryStore(db_path) as store:
        assert "External ID 'E1' was shared: Ada (id 1) keeps it; it was removed from Bob (id 2)" in caplog.text
        assert [(p.id, p.external_id) for p in store.list_people()] == [(1, "E1"), (2, None), (3, "E3")]
        assert store._conn.execute("SELECT person_id, external_id, kept_by FROM external_id_conflicts").fetchall() == [
            (2, "E1", 1)
        ]
        assert [s.id for s in store.list_samples(2)] == [7]
        assert store.gallery("m1").sample_ids.tolist() == [7]
        assert [(e.id, e.person_name) for e in store.events()] == [(5, "Bob")]
        assert store.integrity_check() == []
        indexes = {row[0] for row in store._conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {
            "people_name_key",
            "people_external_id",
            "samples_content_hash",
            "events_day",
            "events_person_day",
            "events_ts",
        } <= indexes
        assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        store.delete_person(2)  # foreign keys still cascade after the rebuild
        assert store.count_samples() == 0 and store.events() == []
        assert store._conn.execute("SELECT count(*) FROM external_id_conflicts").fetchone()[0] == 0
        assert store.add_person("Dee").id == 4, "ids go on from the highest ever used (3); 2 is never handed out again"
        assert store.add_person("Bob", external_id="E2").id == 5


def test_merge_people_moves_samples_and_events(store):
    keep, merge = store.add_person("Ann"), store.add_person("Anne", allow_duplicate=True)
    add_sample(store, keep.id, "same")
    add_sample(store, merge.id, "same")
    add_sample(store, merge.id, "other")
    store.record_event(event(merge.id))
    result = store.merge_people(keep.id, merge.id)
    assert result == {"samples": 1, "events": 1, "duplicate_samples_dropped": 1}
    assert sorted(s.content_hash for s in store.list_samples(keep.id)) == ["other", "same"]
    assert [e.person_id for e in store.events()] == [keep.id]
    with pytest.raises(PersonNotFoundError):
        store.get_person(merge.id)


# ---- samples and embeddings ----


def test_samples_are_deduplicated_by_content_hash(store):
    gina = store.add_person("Gina")
    first = add_sample(store, gina.id, "abc")
    with pytest.raises(EnrollmentError) as caught:
        add_sample(store, gina.id, "abc")
    assert caught.value.reason == "duplicate"
    assert store.has_sample(gina.id, "abc") and not store.has_sample(gina.id, "xyz")
    assert store.find_sample_by_hash("abc") == first
    assert store.find_sample_by_hash("nope") is None
    assert store.count_samples(gina.id) == 1 and store.list_samples(gina.id) == [first]
    assert store.sample_crop(first.id) == b"\xff\xd8jpegabc"
    assert store.delete_sample(first.id) and store.count_samples() == 0


def test_gallery_shapes_dtype_and_only_active_people(store):
    make_model(store)
    rng = np.random.default_rng(0)
    vectors = {}
    people = [store.add_person(name) for name in ("Hal", "Ida", "Jo")]
    for person in people:
        for i in range(2):
            sample = add_sample(store, person.id, f"{person.id}/{i}")
            vectors[sample.id] = rng.standard_normal(DIM).astype(np.float32)
    store.put_embeddings("m1", list(vectors.items()))
    store.set_active(people[2].id, False)

    gallery = store.gallery("m1")
    assert gallery.vectors.shape == (4, DIM) and gallery.vectors.dtype == np.float32
    assert gallery.sample_ids.dtype == np.int64 and gallery.person_ids.dtype == np.int64
    assert gallery.sample_ids.shape == gallery.person_ids.shape == (4,)
    assert set(gallery.person_ids.tolist()) == {people[0].id, people[1].id}
    assert gallery.names == {people[0].id: "Hal", people[1].id: "Ida"}
    for row, sample_id in enumerate(gallery.sample_ids):
        np.testing.assert_array_equal(gallery.vectors[row], vectors[int(sample_id)])
    assert len(store.gallery("m1", include_inactive=True)) == 6

    empty = make_model(store, "m2", dim=16)
    assert store.gallery(empty.id).vectors.shape == (0, 16)
    with pytest.raises(ModelNotFoundError):
        store.gallery("missing")


def test_embeddings_upsert_replace_and_missing(store):
    make_model(store)
    kim = store.add_person("Kim")
    a, b = add_sample(store, kim.id, "a"), add_sample(store, kim.id, "b")
    assert store.samples_without_embedding("m1") == [a.id, b.id]
    store.put_embeddings("m1", [(a.id, np.zeros(DIM))])
    store.put_embeddings("m1", [(a.id, np.full(DIM, 2.0))])  # upsert, not a second row
    assert store.samples_without_embedding("m1") == [b.id]
    np.testing.assert_array_equal(store.gallery("m1").vectors, np.full((1, DIM), 2.0, np.float32))
    with pytest.raises(InvalidInputError):
        store.put_embeddings("m1", [(b.id, np.zeros(DIM + 1))])
    store.replace_embeddings("m1", [(b.id, np.ones(DIM))])
    assert store.gallery("m1").sample_ids.tolist() == [b.id]


# ---- models ----


def test_models_register_activate_and_metrics(store):
    assert store.active_model_id() is None
    model = make_model(store)
    assert store.get_model("m1") == model and model.settings == {"lr": 0.1}
    store.register_model(
        ModelRecord("m1", "Renamed", "facenet", None, DIM, "/w2.pt", datetime(2024, 1, 1, tzinfo=TZ), {}, {})
    )
    assert [m.name for m in store.list_models()] == ["Renamed"]
    store.set_active_model("m1")
    assert store.active_model_id() == "m1"
    with pytest.raises(ModelNotFoundError):
        store.set_active_model("nope")
    assert store.active_model_id() == "m1"
    store.update_model_metrics("m1", {"tar": np.float32(0.5)})
    assert store.update_model_metrics("m1", {"far": 0.01}).metrics == {"tar": 0.5, "far": 0.01}


# ---- events ----


def test_events_query_snapshot_and_purge(store):
    lee = store.add_person("Lee")
    day1 = datetime(2024, 3, 1, 9, 0, tzinfo=TZ)
    recorded = store.record_event(event(lee.id, when=day1, snapshot=b"snap"))
    assert recorded.id is not None and recorded.person_name == "Lee"
    store.record_event(event(None, "unknown", when=day1 + timedelta(hours=1), snapshot=b"stranger"))
    store.record_event(event(lee.id, when=day1 + timedelta(days=1)))
    assert [e.kind for e in store.events(date(2024, 3, 1), date(2024, 3, 1))] == ["check_in", "unknown"]
    assert len(store.events(kinds=["unknown"])) == 1 and len(store.events(person_id=lee.id)) == 2
    assert store.events()[0].snapshot_jpeg is None  # lists stay light
    assert store.event_snapshot(recorded.id) == b"snap"
    assert store.last_event(lee.id).time == day1 + timedelta(days=1)
    assert store.last_event(lee.id, date(2024, 3, 1)).id == recorded.id
    assert store.last_event(lee.id, date(2024, 3, 5)) is None
    with pytest.raises(InvalidInputError):
        store.record_event(event(None, "check_in"))

    cutoff = day1 + timedelta(hours=12)
    assert store.purge(cutoff, unknown_snapshots_only=True) == 1
    unknown = store.events(kinds="unknown")[0]
    assert store.event_snapshot(unknown.id) is None and store.event_snapshot(recorded.id) == b"snap"
    assert store.purge(cutoff) == 2
    assert [e.time for e in store.events()] == [day1 + timedelta(days=1)]
