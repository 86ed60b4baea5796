"""The live pipeline with YuNet: on the crowd clip it marks everyone MTCNN's naive loop identifies, and a
gallery enrolled through MTCNN is recognised through YuNet (its FaceNet crops and SFace alignment agree)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.base.settings import ComputeSettings, Settings
from core.gallery.enroll import FaceCandidate
from core.live.sources import Frame
from core.live.track import IouTracker
from core.vision.detect import FaceDetector
from core.vision.fused import model_input

CROWD = "video/crowd_1920x1080.mp4"
CROWD_FRAMES = 105
MIN_FACE = 40


@pytest.fixture
def yunet_engine(default_weights, rollcall_home):
    from core.app.engine import Engine

    engine = Engine(Settings(compute=ComputeSettings(detector="yunet")))
    assert engine.detector.kind == "yunet"
    yield engine
    engine.close()


def _frames(path, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def _mtcnn_naive_tracks(frames: list[np.ndarray], fps: float) -> list[list[tuple[int, object]]]:
    """MTCNN on every frame at full scale, tracked by IoU: per track, its faces big enough to identify."""
    mtcnn = FaceDetector()
    tracker = IouTracker(max_age_s=1.0)
    by_track: dict[int, list] = {}
    for index, bgr in enumerate(frames):
        faces = mtcnn.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), with_crops=False)
        boxes = np.array([f.box for f in faces], np.float32).reshape(-1, 4)
        for track, face in zip(tracker.update(boxes, index / fps), faces):
            if face.size_px >= MIN_FACE:
                by_track.setdefault(track.id, []).append((index, face))
    return [t for t in by_track.values() if len(t) >= 3]


@pytest.mark.slow
def test_yunet_pipeline_marks_everyone_mtcnns_naive_loop_finds(yunet_engine, faces):
    engine = yunet_engine
    frames = _frames(faces / CROWD, CROWD_FRAMES)
    fps = 25.0
    tracks = _mtcnn_naive_tracks(frames, fps)
    assert len(tracks) >= 4
    embedder = engine.embedder()
    people: list[tuple[np.ndarray, list]] = []
    for track in tracks:  # enrolled from MTCNN's detections, as a gallery enrolled before the switch
        picks = [track[i] for i in np.linspace(0, len(track) - 1, 3).round().astype(int)]
        inputs = [model_input(embedder, cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB), face) for i, face in picks]
        vectors = embedder.embed(inputs)
        facenet = vectors[:, :128] / np.linalg.norm(vectors[:, :128], axis=1, keepdims=True)
        mean = facenet.mean(axis=0)
        mean /= np.linalg.norm(mean)
        if not any(float(p[0] @ mean) > 0.7 for p in people):
            people.append((mean, [(i, face, inp) for (i, face), inp in zip(picks, inputs)]))
    enroller = engine.enroller()
    for n, (_, picked) in enumerate(people):
        candidates = [
            FaceCandidate(inp.crop, face, f"crowd#{n}.{k}", f"crowd-{n}-{k}-{i}", 100.0, model_input=inp)
            for k, (i, face, inp) in enumerate(picked)
        ]
        enroller.save(f"Crowd {n}", candidates)
    recognizer = engine.recognizer(source_name="crowd")
    marked: set[str] = set()
    for index, bgr in enumerate(frames):
        result = recognizer.process(Frame(index, index / fps, bgr, "crowd"))
        marked |= {e.person_name for e in result.events if e.kind != "unknown" and e.person_name}
    assert marked == {f"Crowd {n}" for n in range(len(people))}


@pytest.mark.slow
def test_a_gallery_enrolled_with_mtcnn_is_recognised_through_yunet(default_weights, rollcall_home, faces):
    """Half the dev people enrolled through MTCNN (photos 1-4), then queried (photos 5-8) through YuNet:
    everyone named, no stranger marked."""
    from core.app.engine import Engine
    from core.app.identification import IdentificationSet, dev_closed_set, enroll_set, identify_set

    full = dev_closed_set(faces / "dev", faces / "dev_unknown")
    kept = sorted(full.enroll)[:16]
    dataset = IdentificationSet(
        {name: full.enroll[name] for name in kept}, [q for q in full.queries if q[0] in kept], full.strangers
    )
    with Engine(Settings(compute=ComputeSettings(detector="mtcnn"))) as engine:
        assert engine.detector.kind == "mtcnn"
        refused = enroll_set(engine, dataset)
    with Engine(Settings(compute=ComputeSettings(detector="yunet"))) as engine:
        assert engine.detector.kind == "yunet"
        result = identify_set(engine, dataset, refused=refused)
    assert result.top1 * result.queries >= result.queries - 1, result.lines()
    assert result.strangers_per_1000 == 0.0, result.lines()
