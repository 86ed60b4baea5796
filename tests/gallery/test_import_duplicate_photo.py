"""`rollcall import FOLDER` with a person's folder holding two byte-identical photos: the copy is skipped and
named, and everyone is enrolled (it used to abort the whole import with "This photo is already enrolled")."""

from __future__ import annotations

import shutil

import pytest

from tests.gallery.test_enroll import make_tree
from tests.kits.paths import dev_people, dev_photos


@pytest.mark.slow
def test_a_duplicate_photo_is_skipped_and_everyone_else_enrolled(engine, tmp_path, capsys):
    from core.app.cli import main

    people = dev_people()[:3]
    tree = make_tree(tmp_path / "people", people, 2)
    first = dev_photos(people[0])[0]
    shutil.copy(first, tree / people[0].name / f"copy-of-{first.name}")  # the same bytes twice
    engine.close()

    assert main(["import", str(tree)]) == 0
    out = capsys.readouterr().out
    assert f"copy-of-{first.name} is the same photo as {people[0].name}/{first.name}; skipped the copy" in out, out
    assert out.count("enrolled: ") == 3
    assert "already in the gallery: 1" in out
