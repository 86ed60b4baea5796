"""Engine operations: each mutation returns what it changed, and every subscriber hears of it once."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from core.app.changes import ChangeKind, Changes, Outcome
from core.base.errors import PersonNotFoundError
from tests.kits.paths import dev_people, dev_photos

PEOPLE, SAMPLES, EVENTS, MODELS, SETTINGS = (
    ChangeKind.PEOPLE,
    ChangeKind.SAMPLES,
    ChangeKind.EVENTS,
    ChangeKind.MODELS,
    ChangeKind.SETTINGS,
)


@pytest.fixture
def heard(engine) -> list[Changes]:
    seen: list[Changes] = []
    engine.subscribe(seen.append)
    return seen


def only(heard: list[Changes], outcome: Outcome) -> Changes:
    """The outcome's changes, after checking the subscribers were told exactly that, once."""
    assert heard == [outcome.changes]
    heard.clear()
    return outcome.changes


def test_enroll_rename_external_id_add_remove_delete(engine, heard, faces):
    person = dev_people()[0]
    enrolled = engine.enroll_files("Ada Test", dev_photos(person)[:2])
    changes = only(heard, enrolled)
    ada = enrolled.value.person_ids["Ada Test"]
    assert changes.kinds == {PEOPLE, SAMPLES} and changes.person_ids == {ada}
    assert len(changes.sample_ids) == 2 == enrolled.value.samples_added

    overview = engine.people()
    assert [(o.person.id, o.samples, o.first_sample_id) for o in overview] == [(ada, 2, min(changes.sample_ids))]
    assert engine.matcher().names[ada] == "Ada Test"  # the engine refreshed its own matcher

    renamed = engine.rename_person(ada, "Ada Renamed")
    assert only(heard, renamed).kinds == {PEOPLE} and renamed.value.name == "Ada Renamed"
    assert engine.matcher().names[ada] == "Ada Renamed"

    external = engine.set_external_id(ada, "E-7")
    assert only(heard, external).person_ids == {ada} and external.value.external_id == "E-7"

    added = engine.add_photos(ada, dev_photos(person)[2:3] + [faces / "group" / "six_faces.jpg"])
    assert only(heard, added).kinds == {SAMPLES}
    assert added.value.samples_added == 1 and [r.reason for r in added.value.refused] == ["several_faces"]

    first = min(s.id for s in engine.samples(ada))
    removed = engine.remove_samples([first])
    assert removed.value == 1 and only(heard, removed).sample_ids == {first}
    assert engine.people()[0].samples == 2

    deleted = engine.delete_person(ada)
    changes = only(heard, deleted)
    assert changes.kinds == {PEOPLE, SAMPLES, EVENTS} and changes.deleted_person_ids == {ada}
    assert deleted.value.samples == 2
    assert engine.people() == [] and engine.stats().people == 0
    with pytest.raises(PersonNotFoundError):
        engine.person(ada)


def test_nothing_changed_means_nobody_is_told(engine, heard, faces):
    refused = engine.enroll_files("Nobody", [faces / "group" / "six_faces.jpg"])
    assert refused.changes.kinds == frozenset() and heard == []
    assert engine.remove_samples([12345]).value == 0 and heard == []


def test_merge_import_and_capture(engine, heard, faces, tmp_path):
    a, b = dev_people()[1:3]
    tree = tmp_path / "tree"
    for person in (a, b):
        (tree / person.name).mkdir(parents=True)
        for photo in dev_photos(person)[:2]:
            shutil.copy(photo, tree / person.name / photo.name)
    steps = engine.import_folder(tree)
    progress = []
    while True:
        try:
            progress.append(next(steps))
        except StopIteration as stop:
            imported = stop.value
            break
    assert progress[-1].done == progress[-1].total == 4
    changes = only(heard, imported)  # one notice for the whole import
    ids = sorted(imported.value.person_ids.values())
    assert changes.kinds == {PEOPLE, SAMPLES} and changes.person_ids == set(ids)

    merged = engine.merge_people(ids[0], ids[1])
    changes = only(heard, merged)
    assert changes.deleted_person_ids == {ids[1]} and changes.kinds == {PEOPLE, SAMPLES, EVENTS}
    assert [(o.person.id, o.samples) for o in engine.people()] == [(ids[0], 4)]

    frames = tmp_path / "camera"
    frames.mkdir()
    shutil.copy(faces / "group" / "six_faces.jpg", frames / "0_group.jpg")
    for i, photo in enumerate(dev_photos(a)[2:5]):
        shutil.copy(photo, frames / f"1_{i}.jpg")
    with engine.open_source(str(frames)) as source:
        taken = list(engine.capture(source, wanted=2, paced=False))
    assert taken[0].guidance == "Only one face please" and not taken[0].good
    assert heard == []  # capturing saves nothing
    samples = [step.sample for step in taken if step.sample is not None]
    assert samples and taken[-1].taken == len(samples)
    saved = engine.enroll_candidates("Captured", samples)
    assert only(heard, saved).kinds == {PEOPLE, SAMPLES}


def test_recognition_events_models_settings_and_backup(engine, heard, faces, tmp_path):
    person = dev_people()[3]
    engine.enroll_files("Seen Person", dev_photos(person)[:4])
    heard.clear()
    frames = tmp_path / "frames"
    frames.mkdir()
    for repeat in range(2):
        for i, photo in enumerate(dev_photos(person)[4:8]):
            shutil.copy(photo, frames / f"{repeat}{i}_{photo.name}")
    with engine.open_source(str(frames)) as source:
        events = [e for result in engine.recognize(source) for e in result.events]
    assert [e.person_name for e in events] == ["Seen Person"]
    assert [c.kinds for c in heard] == [{EVENTS}] and heard[0].person_ids == {events[0].person_id}
    assert [row.name for row in engine.day_report(events[0].time.date())] == ["Seen Person"]
    assert engine.export_csv(tmp_path / "out.csv", date.min, date.max) == 1
    heard.clear()

    active = engine.model(engine.active_model_id())
    activated = engine.activate_model(active.id)
    assert heard == [activated] and activated.kinds == {MODELS} and activated.model_ids == {active.id}
    heard.clear()

    engine.apply_settings(engine.settings)
    assert [c.kinds for c in heard] == [{SETTINGS}]

    backup = engine.backup(tmp_path / "copy.db")
    assert backup.value.exists() and backup.changes.kinds == frozenset()


def test_a_failing_subscriber_neither_undoes_nor_hides_the_change(engine, faces, caplog):
    seen: list[Changes] = []

    def broken(_changes):
        raise RuntimeError("listener bug")

    engine.subscribe(broken)
    unsubscribe = engine.subscribe(seen.append)
    enrolled = engine.enroll_files("Still Saved", dev_photos(dev_people()[4])[:1])
    assert seen == [enrolled.changes] and engine.stats().people == 1
    assert any("subscriber failed" in r.getMessage() for r in caplog.records)
    unsubscribe()
    engine.rename_person(enrolled.value.person_ids["Still Saved"], "Renamed")
    assert len(seen) == 1
