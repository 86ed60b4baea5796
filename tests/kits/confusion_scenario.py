"""The recorded-confusions scenario of issue 16 (part C) on the real dev faces, shared by
tests/trainer/test_confusions_training.py and benchmarks/confusions_training.py (no pytest here).

Eight dev people are enrolled with all their photos, among them the two pairs FaceNet really mixes
up on these faces (a photo of Nicole Kidman nearer Naomi Watts' centroid than her own, one of Recep
Tayyip Erdogan nearer Luiz Inacio Lula da Silva's). `record_confusions` then plays what happens at a
site: the kiosk sees such a photo, shows the wrong person, and HR reassigns the event to the true
person (`Engine.reassign_event`, which keeps the face as a confusion).

A confused photo is a face the kiosk saw, not one enrolled: it is taken out of the gallery
(`Engine.remove_samples`) when its confusion is recorded. So the trainer's confusion metric
(trainer.validate.confusion_metrics: the face's cosine to the unit mean of each person's training
samples; still confused while the shown person's is higher) is a leave-one-out measure here. Left
enrolled, the face would pull its own person's centroid towards itself and no face of these 8 people
would count as confused (that is why the first version of this scenario recorded 0 confused faces).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

# Dev people (folder names): the two naturally confused pairs, then four others (the first four).
CONFUSED_PAIRS = (("Naomi_Watts", "Nicole_Kidman"), ("Luiz_Inacio_Lula_da_Silva", "Recep_Tayyip_Erdogan"))
OTHERS = ("Amelie_Mauresmo", "Angelina_Jolie", "Ariel_Sharon", "Arnold_Schwarzenegger")
PEOPLE = tuple(name for pair in CONFUSED_PAIRS for name in pair) + OTHERS
CONFUSIONS = 3  # faces recorded: every really confused one, then the most confusable others
HELD_OUT = 2  # the trainer's default held_out_per_person


@dataclass(frozen=True)
class Confusable:
    sample_id: int  # the enrolled photo the kiosk "sees" (removed from the gallery when recorded)
    shown: int  # the person it is nearest to (the wrong one)
    true: int  # its person
    lead: float  # cosine to `shown`'s centroid minus cosine to `true`'s (> 0: really confused)


def scenario_people(dev_dir: Path) -> list[Path]:
    """The scenario's person folders, in enrollment order (person ids 1..8)."""
    folders = [Path(dev_dir) / name for name in PEOPLE]
    missing = [f.name for f in folders if not f.is_dir()]
    if missing:
        raise FileNotFoundError(f"Dev faces not found in {dev_dir}: {', '.join(missing)}")
    return folders


def enroll(engine, dev_dir: Path) -> None:
    """Enroll the scenario's people with all their photos."""
    enroller = engine.enroller()
    for person in scenario_people(dev_dir):
        enroller.enroll_files(person.name.replace("_", " "), sorted(person.glob("*.jpg")))


def _unit(vectors) -> np.ndarray:
    mean = np.mean(vectors, axis=0)
    return mean / max(float(np.linalg.norm(mean)), np.finfo(np.float32).eps)


def confusable_faces(store, model_id: str, count: int = CONFUSIONS, held_out: int = HELD_OUT) -> list[Confusable]:
    """The `count` training photos most confused with another person, picked one at a time: each is the
    photo whose cosine to another person's centroid most exceeds the cosine to its own person's
    centroid without it (so the trainer's metric once it is removed), among the photos still
    enrolled and (shown, true) pairs not picked yet. Every really confused photo (lead > 0) comes
    first; the rest are the most confusable photos of the most alike people."""
    from trainer.data import split_samples

    split = split_samples(store, held_out)
    gallery = store.gallery(model_id)
    vector = dict(zip(gallery.sample_ids.tolist(), gallery.vectors))
    pools = {pid: list(ids) for pid, ids in split.train.items()}
    picked: list[Confusable] = []
    while len(picked) < count:
        centroid = {pid: _unit([vector[s] for s in ids]) for pid, ids in pools.items()}
        taken = {(c.shown, c.true) for c in picked}
        best = None
        for true, ids in pools.items():
            if len(ids) < 2:
                continue
            for sid in ids:
                own = float(vector[sid] @ _unit([vector[s] for s in ids if s != sid]))
                for shown in pools:
                    if shown == true or (shown, true) in taken:
                        continue
                    lead = float(vector[sid] @ centroid[shown]) - own
                    if best is None or lead > best.lead:
                        best = Confusable(int(sid), int(shown), int(true), lead)
        if best is None:
            break
        picked.append(best)
        pools[best.true].remove(best.sample_id)
    return picked


def record_confusions(engine, faces: list[Confusable]) -> None:
    """Each face, as the kiosk saw it: an event for the wrong person with the face as snapshot,
    reassigned by HR to the true person (the real path, which records the confusion). The photo
    leaves the gallery first: it was never enrolled."""
    from core.base.records import AttendanceEvent, EventKind

    now = datetime.now().astimezone()
    for i, face in enumerate(faces):
        crop = engine.store.sample_crop(face.sample_id)
        engine.remove_samples([face.sample_id])
        event = engine.store.record_event(
            AttendanceEvent(
                None,
                face.shown,
                None,
                EventKind.CHECK_IN,
                now - timedelta(minutes=10 * (i + 1)),
                "kiosk",
                0.6,
                snapshot_jpeg=crop,
            )
        )
        engine.reassign_event(event.id, face.true, "HR: it was the other one")


def describe(store, faces: list[Confusable]) -> list[str]:
    names = {p.id: p.name for p in store.list_people()}
    return [f"sample {f.sample_id} of {names[f.true]} shown as {names[f.shown]} (lead {f.lead:+.3f})" for f in faces]
