"""Derived templates (issue 34): a masked and a glasses variant drawn from each enrolled photo.

They are marked as derived, never listed as the person's photos, counted apart, erased with the person
and with their photo, made again when the model's vectors are made again, and a masked face of an
enrolled person is accepted through them while the threshold for covered faces keeps strangers out.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.gallery.derived_samples import DERIVED_KINDS
from core.vision.images import decode_jpeg, load_image
from core.vision.occlusion import Occlusion, draw_occlusion
from core.vision.still_faces import find_still_face
from tests.kits.paths import FACES, dev_people, dev_photos


@pytest.fixture
def enrolled(engine):
    """Three dev people, three photos each, enrolled through the Engine."""
    people = {}
    for folder in dev_people()[:3]:
        outcome = engine.enroll_files(folder.name.replace("_", " "), dev_photos(folder)[:3])
        people.update(outcome.value.person_ids)
    return people


def test_each_photo_gives_derived_templates_kept_apart_from_the_photos(engine, enrolled):
    person_id = next(iter(enrolled.values()))
    photos = engine.samples(person_id)
    assert len(photos) == 3 and all(s.derived is None for s in photos)  # the person's photos only
    every = engine.store.list_samples(person_id, include_derived=True)
    derived = [s for s in every if s.derived is not None]
    assert sorted(s.derived for s in derived) == sorted([k.value for k in DERIVED_KINDS] * 3)
    assert all("derived" in s.source for s in derived)
    overview = {o.person.id: o for o in engine.people()}[person_id]
    assert (overview.samples, overview.derived) == (3, 6)
    assert overview.first_sample_id == photos[0].id  # the thumbnail is a photo
    assert (engine.stats().samples, engine.stats().derived) == (9, 18)
    # the drawn crop differs from its photo's where the mask is (the lower half of the crop)
    masked = next(s for s in derived if s.derived == Occlusion.MEDICAL_MASK.value)
    photo_crop = decode_jpeg(engine.sample_crop(photos[0].id)).astype(int)
    masked_crop = decode_jpeg(engine.sample_crop(masked.id)).astype(int)
    half = photo_crop.shape[0] // 2
    assert (
        np.abs(masked_crop[half:] - photo_crop[half:]).mean()
        > 4 * np.abs(masked_crop[:half] - photo_crop[:half]).mean()
    )
    matcher = engine.matcher()
    assert matcher.derived_count == 18 and matcher.occluded_threshold is not None
    assert matcher.occluded_threshold >= matcher.threshold


def test_derived_templates_go_with_their_photo_and_with_the_person(engine, enrolled):
    first, second = list(enrolled.values())[:2]
    photo = engine.samples(first)[0]
    engine.remove_samples([photo.id])
    left = engine.store.list_samples(first, include_derived=True)
    assert len(left) == 2 * (1 + len(DERIVED_KINDS))  # the photo's own derived templates went with it
    engine.delete_person(second)
    assert engine.store.count_samples(second, derived=True) == 0
    assert engine.stats().derived == (2 + 3) * len(DERIVED_KINDS)  # the first person's 2 photos, the third's 3


def test_derived_templates_are_made_again_with_the_model(engine, enrolled):
    member = engine.embedder().member_ids[0]
    gallery = engine.store.gallery(member)
    derived_ids = gallery.sample_ids[gallery.derived != ""]
    before = gallery.vectors[gallery.derived != ""].copy()
    engine.store.put_embeddings(member, [(int(i), np.full(gallery.dim, 0.1)) for i in derived_ids])  # stale
    list(engine.reembed(member, force=True))
    again = engine.store.gallery(member)
    assert np.array_equal(again.sample_ids[again.derived != ""], derived_ids)
    remade = again.vectors[again.derived != ""]
    cosines = np.sum(remade * before, axis=1) / np.linalg.norm(remade, axis=1) / np.linalg.norm(before, axis=1)
    assert cosines.min() > 0.9  # from the stored drawn crop, as a photo's vector is made again from its crop


def test_a_masked_member_is_named_and_masked_strangers_are_not(engine, enrolled):
    from core.vision.fused import model_input

    matcher, embedder, detector = engine.matcher(), engine.embedder(), engine.detector

    def masked(paths, seed):
        """(index, what the embedder takes) of each masked photo whose face is found."""
        found_inputs = []
        for index, path in enumerate(paths):
            rgb = load_image(path)
            face = find_still_face(detector, rgb)
            drawn = draw_occlusion(rgb, face.landmarks, Occlusion.MEDICAL_MASK, np.random.default_rng([seed, index]))
            found = find_still_face(detector, drawn)
            if found is not None:
                found_inputs.append((index, model_input(embedder, drawn, found)))
        return found_inputs

    folders = dev_people()[:3]
    members = masked([p for folder in folders for p in dev_photos(folder)[4:8]], 1)
    wanted = [enrolled[folder.name.replace("_", " ")] for folder in folders for _ in range(4)]
    vectors = embedder.embed([i for _, i in members])
    named = [r.person_id == wanted[index] for (index, _), r in zip(members, matcher.match(vectors))]
    on_photos = [r.person_id == wanted[index] for (index, _), r in zip(members, matcher.photos_only().match(vectors))]
    assert sum(named) > sum(on_photos) and sum(named) >= 6  # the derived templates name masked faces
    assert any(r.occlusion for r in matcher.match(vectors))  # matched through a drawn template
    strangers = masked(sorted((FACES / "dev_unknown").glob("*.jpg"))[:10], 2)
    assert all(r.person_id is None for r in matcher.match(embedder.embed([i for _, i in strangers])))
