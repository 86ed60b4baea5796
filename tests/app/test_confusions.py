"""Confusions (issue 16, part A): a voided or reassigned event keeps its face as a confusion, with
vectors per model made from that face; merges, deletes and the People panel."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from core.app.changes import ChangeKind
from core.base.records import AttendanceEvent, ConfusionSource, EventKind
from core.vision.images import decode_jpeg, encode_jpeg
from tests.kits.paths import dev_people, dev_photos


def _name(person) -> str:
    return person.name.replace("_", " ")


@pytest.fixture
def three(engine, faces):
    """Three dev people (two photos each) and the crop of a third photo of the second one, as the live
    pipeline stores it with an event (FaceNet's crop, JPEG)."""
    enroller = engine.enroller()
    people = []
    for person in dev_people()[:3]:
        report = enroller.enroll_files(_name(person), dev_photos(person)[:2])
        people.append(engine.store.find_person(_name(person)))
        assert report.samples_added == 2
    crop = encode_jpeg(enroller.candidate_from_file(dev_photos(dev_people()[1])[2]).crop)
    return engine, people, crop


def _event(engine, person_id, crop, minutes=0):
    kind = EventKind.UNKNOWN if person_id is None else EventKind.CHECK_IN
    return engine.store.record_event(
        AttendanceEvent(
            None,
            person_id,
            None,
            kind,
            datetime.now().astimezone() - timedelta(minutes=minutes),
            "cam",
            3.9,
            track_id=7,
            snapshot_jpeg=crop,
        )
    )


def test_reassign_and_void_record_confusions_with_the_face(three):
    engine, (ada, bob, cyd), crop = three
    seen = []
    engine.subscribe(seen.append)
    shown_as_ada = _event(engine, ada.id, crop, 30)
    outcome = engine.reassign_event(shown_as_ada.id, bob.id, "it was Bob")
    assert outcome.changes.touches(ChangeKind.CONFUSIONS, ChangeKind.CORRECTIONS)
    stranger_as_cyd = _event(engine, cyd.id, crop, 20)
    engine.void_event(stranger_as_cyd.id, "a visitor")
    unknown = _event(engine, None, crop, 10)
    engine.reassign_event(unknown.id, ada.id, "that was Ada")  # missed, not confused: no confusion

    confusions = engine.confusions()
    assert [(c.shown_person_id, c.true_person_id, c.source) for c in confusions] == [
        (ada.id, bob.id, ConfusionSource.CORRECTION),
        (cyd.id, None, ConfusionSource.CORRECTION),
    ]
    first = confusions[0]
    assert first.event_id == shown_as_ada.id and first.shown_name == ada.name and first.true_name == bob.name
    assert first.has_crop and engine.confusion_crop(first.id) == crop and first.similarity == pytest.approx(3.9)
    assert [c.id for c in engine.confusions(bob.id)] == [first.id]
    assert [c.id for c in engine.confusions(ada.id)] == [first.id]
    assert any(c.touches(ChangeKind.CONFUSIONS) for c in seen)
    audit = engine.audit_log()
    assert any(entry.details.get("confusion_id") == first.id for entry in audit)

    # Vectors per model, made from the stored face: the fused model's are both members' side by side.
    vectors = engine.confusion_vectors()
    assert sorted(vectors) == [c.id for c in confusions]
    direct = engine.embedder().embed([decode_jpeg(crop)])[0]
    assert vectors[first.id].shape == direct.shape
    assert np.allclose(vectors[first.id], direct, atol=1e-3)
    match = engine.matcher().match(vectors[first.id][None])[0]
    assert match.best_person_id == bob.id  # the face really is Bob's


def test_retention_drops_old_confusion_faces_and_keeps_the_confusion(three):
    engine, (ada, bob, _), crop = three
    event = _event(engine, ada.id, crop, 30)
    engine.reassign_event(event.id, bob.id, "it was Bob")
    assert len(engine.confusion_vectors()) == 1
    engine.store.purge(datetime.now().astimezone() - timedelta(days=1))  # younger than retention: kept
    assert engine.confusions()[0].has_crop
    engine.store.purge(datetime.now().astimezone() + timedelta(minutes=1))
    confusion = engine.confusions()[0]
    assert not confusion.has_crop and engine.confusion_crop(confusion.id) is None
    assert engine.confusion_vectors() == {}  # nothing left to train on


def test_merge_moves_confusions_and_delete_erases_them(three):
    engine, (ada, bob, cyd), crop = three
    engine.reassign_event(_event(engine, ada.id, crop, 30).id, bob.id, "Bob")
    engine.reassign_event(_event(engine, cyd.id, crop, 20).id, bob.id, "Bob")
    engine.merge_people(bob.id, cyd.id)  # Cyd was Bob all along: that confusion is no confusion
    assert [(c.shown_person_id, c.true_person_id) for c in engine.confusions()] == [(ada.id, bob.id)]
    engine.delete_person(bob.id)
    assert engine.confusions() == []


def test_people_panel_lists_a_persons_confusions(qtbot, three):
    from gui.panels.people import PeoplePanel

    engine, (ada, bob, _), crop = three
    panel = PeoplePanel(engine)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: not panel.is_refreshing(), timeout=10_000)
    panel.select_person(ada.id)
    assert panel.confusions_title.text() == "Confusions (0)"
    outcome = engine.reassign_event(_event(engine, ada.id, crop).id, bob.id, "Bob")
    panel.on_changes(outcome.changes)  # the main window forwards every change
    assert panel.confusions_title.text() == "Confusions (1)"
    text = panel.confusions_list.item(0).text()
    assert f"Shown as {ada.name}, really {bob.name}" in text and "corrected" in text
    assert not panel.confusions_list.item(0).icon().isNull()
