"""Writes to a gallery as fast as it can, printing what it has committed, until it is killed.

Run by tests/gallery/test_crash_safety.py: python tests/kits/crash_worker.py MODE DB_PATH
MODE: enroll (person + samples + embeddings per transaction), attendance (check-ins and
unknown faces through AttendanceBook), reembed (replace every embedding of a model).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.attendance.book import AttendanceBook  # noqa: E402
from core.base.records import ModelRecord  # noqa: E402
from core.base.settings import AttendanceSettings  # noqa: E402
from core.gallery.store import GalleryStore  # noqa: E402

MODEL = "crash-model"


def ensure_model(store: GalleryStore) -> None:
    try:
        store.get_model(MODEL)
    except Exception:  # noqa: BLE001
        store.register_model(ModelRecord(MODEL, "crash", "facenet-keras-128", None, 16, "-", datetime.now(UTC)))
        store.set_active_model(MODEL)


def main() -> None:
    mode, db_path = sys.argv[1], Path(sys.argv[2])
    rng = np.random.default_rng()
    store = GalleryStore(db_path)
    ensure_model(store)
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        if mode == "enroll":
            with store.transaction():
                person = store.add_person(f"P{rng.integers(1 << 60)}")
                items = []
                for k in range(3):
                    sample = store.add_sample(person.id, rng.bytes(2000), "crash", f"{person.id}-{k}", 0.99, 90, 40.0)
                    items.append((sample.id, rng.standard_normal(16).astype(np.float32)))
                store.put_embeddings(MODEL, items)
            print(f"person {person.id}", flush=True)
        elif mode == "attendance":
            people = store.list_people() or [store.add_person(f"Visitor {i}") for i in range(20)]
            book = AttendanceBook(
                store,
                AttendanceSettings(cooldown_minutes=0.0),
                clock=lambda n=n: datetime.now(UTC).astimezone() + timedelta(days=n),
            )
            event = book.observe(people[n % len(people)].id, 0.9, "crash-cam", snapshot_jpeg=rng.bytes(3000))
            if event is not None:
                print(f"event {event.id}", flush=True)
            unknown = book.observe(None, 0.1, "crash-cam", snapshot_jpeg=rng.bytes(3000))
            print(f"event {unknown.id}", flush=True)
        elif mode == "reembed":
            gallery = store.gallery(MODEL)
            if len(gallery) == 0:
                for i in range(10):
                    with store.transaction():
                        person = store.add_person(f"Sample person {i}")
                        sample = store.add_sample(person.id, rng.bytes(500), "crash", f"h{i}", 0.99, 90, 40.0)
                        store.put_embeddings(MODEL, [(sample.id, np.ones(16, np.float32))])
                gallery = store.gallery(MODEL)
            value = float(n)
            store.replace_embeddings(MODEL, [(int(s), np.full(16, value, np.float32)) for s in gallery.sample_ids])
            print(f"generation {value}", flush=True)


if __name__ == "__main__":
    main()
