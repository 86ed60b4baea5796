"""Switching the active model while recognition runs never exposes a half-re-embedded gallery."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime

from core.app.fusion_setup import facenet_of
from core.base.records import ModelRecord
from tests.kits.paths import dev_people, dev_photos


def register_copy(engine, default_weights, tmp_path) -> str:
    """A second model version (same weights, new id), as a fine-tuning run would register."""
    target = tmp_path / "ft-copy.pt"
    shutil.copy(default_weights, target)
    sha = json.loads(default_weights.with_name(default_weights.name + ".json").read_text())["sha256"]
    base = engine.ensure_model_record(facenet_of(engine.active_model_id()))  # fine-tuning trains FaceNet
    engine.store.register_model(
        ModelRecord(
            "ft-copy",
            "copy",
            base.base,
            base.id,
            base.embedding_size,
            str(target),
            datetime.now(UTC),
            settings={**base.settings, "sha256": sha},
            metrics={},
        )
    )
    return "ft-copy"


def test_matcher_is_always_complete_during_a_model_switch(engine, default_weights, tmp_path):
    enroller = engine.enroller()
    for person in dev_people()[:6]:
        enroller.enroll_files(person.name, dev_photos(person)[:4])
    total = engine.store.count_samples(derived=None)  # photos and derived templates
    old = engine.active_model_id()
    new = register_copy(engine, default_weights, tmp_path)
    seen: list[tuple[str, int]] = []
    done = threading.Event()

    def recognition_side():
        while not done.is_set():
            matcher = engine.matcher()
            seen.append((matcher.model_id, matcher.sample_count))

    reader = threading.Thread(target=recognition_side)
    reader.start()
    try:
        engine.activate_model(new)
    finally:
        done.set()
        reader.join()
    assert engine.active_model_id() == new and engine.store.active_model_id() == new
    assert {model for model, _ in seen} <= {old, new}
    assert all(count == total for _, count in seen), "a reader saw a partial gallery"
    assert engine.matcher().sample_count == total
    # Roll back is the same atomic switch.
    engine.activate_model(old)
    assert engine.store.active_model_id() == old and engine.matcher().model_id == old
