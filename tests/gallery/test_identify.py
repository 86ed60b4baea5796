"""Verification and identification accuracy on real faces (../shared/data/faces)."""

from __future__ import annotations

import numpy as np
import pytest

from core.app.engine import Engine
from core.base.settings import Settings, StorageSettings
from core.vision.detect import central_face
from core.vision.fused import model_input
from core.vision.images import load_image
from tests.kits.paths import dev_people, dev_photos


@pytest.fixture(scope="module")
def gallery_engine(tmp_path_factory, default_weights):
    """Photos 1-4 of each of the 32 dev people enrolled."""
    settings = Settings(storage=StorageSettings(data_dir=str(tmp_path_factory.mktemp("home"))))
    engine = Engine(settings)
    enroller = engine.enroller()
    for person in dev_people():
        enroller.enroll_files(person.name.replace("_", " "), dev_photos(person)[:4])
    yield engine
    engine.close()


def embed_photo(engine, path) -> np.ndarray:
    rgb = load_image(path)
    face = central_face(engine.detector.detect(rgb), rgb.shape)
    assert face is not None, f"no face in {path}"
    embedder = engine.embedder()
    return embedder.embed([model_input(embedder, rgb, face)])[0]  # each model's own crop


def test_same_person_closer_than_different_people(gallery_engine, faces):
    people = dev_people()
    first = {p.name: embed_photo(gallery_engine, dev_photos(p)[0]) for p in people}
    second = {p.name: embed_photo(gallery_engine, dev_photos(p)[1]) for p in people}
    for person in people:
        same = float(first[person.name] @ second[person.name])
        others = [float(first[person.name] @ second[o.name]) for o in people if o != person]
        assert same > max(others), f"{person.name}: same-person {same:.2f} vs closest other {max(others):.2f}"


def test_identification_top1_and_unknown_rejection(gallery_engine, faces):
    engine = gallery_engine
    assert engine.store.stats()["people"] == 32
    matcher = engine.matcher()
    correct = total = 0
    for person in dev_people():
        expected = person.name.replace("_", " ")
        for path in dev_photos(person)[4:8]:
            result = matcher.match(embed_photo(engine, path)[None])[0]
            correct += result.name == expected
            total += 1
    top1 = correct / total
    rejected = sum(
        not matcher.match(embed_photo(engine, p)[None])[0].is_known
        for p in sorted((faces / "dev_unknown").glob("*.jpg"))
    )
    unknown_rate = rejected / 30
    print(
        f"top-1 {top1:.3f} ({correct}/{total}), unknown rejected {unknown_rate:.3f} "
        f"at threshold {matcher.threshold}, margin {matcher.margin}"
    )
    assert top1 >= 0.97
    assert unknown_rate >= 0.90
