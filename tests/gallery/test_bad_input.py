"""Bad input gets a clear message and changes nothing (property-based where it pays)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.base.errors import ImageError, InvalidInputError, PersonNotFoundError, RollcallError
from core.gallery.names import name_key
from core.gallery.store import GalleryStore
from core.vision.images import MAX_PIXELS, load_image

names = st.text(min_size=1, max_size=200).filter(lambda s: s.strip() and "\x00" not in s)


@settings(max_examples=60, deadline=None)
@given(name=names)
def test_any_reasonable_name_round_trips(name):
    with GalleryStore.memory() as store:
        person = store.add_person(name)
        assert store.get_person(person.id).name == name.strip()
        assert name_key(store.find_person(name.strip()).name) == name_key(name)


def test_a_name_of_more_digits_than_an_id_can_hold_is_found_by_name():
    with GalleryStore.memory() as store:
        person = store.add_person("9223372036854775808")  # 2**63: past SQLite's integers
        assert store.find_person("9223372036854775808").id == person.id
        with pytest.raises(PersonNotFoundError):
            store.find_person(str(2**70))  # nobody, said as such


@pytest.mark.parametrize("bad", ["", "   ", "\t\n", "x" * 10_000])
def test_empty_blank_and_huge_names_are_refused_and_nothing_changes(bad):
    store = GalleryStore.memory()
    store.add_person("Kept")
    with pytest.raises(InvalidInputError) as info:
        store.add_person(bad)
    assert str(info.value)
    assert [p.name for p in store.list_people()] == ["Kept"]


@pytest.mark.parametrize(
    "name", ['O\'Brien "Bob"', "Robert'); DROP TABLE people;--", "../../etc/passwd", "C:\\Users\\x", "名前 Ünïcødé"]
)
def test_quotes_sql_and_path_characters_are_just_text(name):
    store = GalleryStore.memory()
    person = store.add_person(name)
    assert store.get_person(person.id).name == name
    assert len(store.list_people()) == 1


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["add", "delete", "sample"]), st.integers(0, 5)), max_size=25))
def test_store_stays_consistent_under_random_operations(ops):
    store = GalleryStore.memory()
    for op, arg in ops:
        people = store.list_people()
        try:
            if op == "add":
                store.add_person(f"Person {arg}")
            elif op == "delete" and people:
                store.delete_person(people[arg % len(people)].id)
            elif op == "sample" and people:
                store.add_sample(people[arg % len(people)].id, b"\xff\xd8jpeg", "test", f"hash{arg}", 0.99, 80, 50.0)
        except RollcallError:
            pass  # duplicates are refused with a message; the store must stay consistent
    assert store.integrity_check() == []
    keys = [name_key(p.name) for p in store.list_people()]
    assert len(keys) == len(set(keys)), "no silent duplicate names"


def test_decompression_bomb_is_refused(tmp_path):
    side = int(np.sqrt(MAX_PIXELS)) + 200
    path = tmp_path / "bomb.png"
    Image.new("L", (side, side)).save(path, optimize=True)  # tiny file, huge image
    assert path.stat().st_size < 1_000_000
    with pytest.raises(ImageError, match="too large"):
        load_image(path)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=0, max_size=2048))
def test_random_bytes_never_crash_the_image_reader(data):
    try:
        image = load_image(data)
    except ImageError as exc:
        assert str(exc)
    else:
        assert image.dtype == np.uint8 and image.ndim == 3


def test_twenty_faces_are_refused_for_enrollment(engine, tmp_path):
    """A collage of 20 real faces is refused with the number of faces it holds."""
    from core.base.errors import EnrollmentError
    from tests.kits.paths import dev_people, dev_photos

    tiles = [np.asarray(Image.open(dev_photos(p)[0]).convert("RGB")) for p in dev_people()[:20]]
    rows = [np.hstack(tiles[i : i + 5]) for i in range(0, 20, 5)]
    path = tmp_path / "collage.jpg"
    Image.fromarray(np.vstack(rows)).save(path)
    with pytest.raises(EnrollmentError) as info:
        engine.enroller().candidate_from_file(path)
    assert info.value.reason == "several_faces"
    count = int(str(info.value).split(": ")[1].split(" faces")[0])
    assert count >= 20
    assert engine.store.list_people() == []


folder_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\\x00"), min_size=1, max_size=60
).filter(lambda s: s.strip(" ._") and not s.startswith("."))


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=folder_names)
def test_import_takes_any_folder_name_as_the_person_name(engine, tmp_path_factory, name):
    """A folder-per-person tree with an arbitrary (legal) folder name imports or says why not."""
    import shutil

    from tests.kits.paths import dev_people, dev_photos

    root = tmp_path_factory.mktemp("tree")
    try:
        (root / name).mkdir()
    except OSError:
        return  # not a legal folder name on this file system
    shutil.copy(dev_photos(dev_people()[7])[0], root / name / "photo.jpg")
    report = list(engine.enroller().import_tree(root))[-1].report
    expected = name.replace("_", " ").strip()
    people = [p.name for p in engine.store.list_people()]
    if report.samples_added:
        assert expected in people
    else:
        assert report.skipped_duplicates == 1 or report.refused or report.warnings
    assert engine.store.integrity_check() == []
