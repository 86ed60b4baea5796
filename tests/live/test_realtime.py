"""The real-time pipeline: same answers as the naive loop, faster backends that agree with torch,
and the decode thread's life cycle."""

from __future__ import annotations

import hashlib
import threading

import cv2
import numpy as np
import pytest

from core.app.fusion_setup import facenet_of
from core.base.settings import RecognitionSettings
from core.gallery.enroll import FaceCandidate
from core.live.sources import Frame, VideoFileSource
from core.live.track import IouTracker
from core.vision.detect import FaceDetector, crop_face

CROWD = "video/crowd_1920x1080.mp4"
HAMILTON = "video/hamilton_640x360.mp4"
CROWD_FRAMES = 105  # the whole clip: the first group walks in, a second one follows (about a minute)
MIN_FACE = 40


def read_frames(path, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def naive_tracks(engine, frames: list[np.ndarray], fps: float) -> list[list[tuple[int, object]]]:
    """The naive loop's faces: MTCNN on every frame at full scale (its own thresholds), tracked by IoU.
    Returns, per track, the (frame index, face) pairs big enough to identify. MTCNN whatever the engine
    detects with: the fast pipeline (YuNet by default on the CPU) must mark everyone MTCNN's loop finds."""
    tracker = IouTracker(max_age_s=1.0)
    faces_by_track: dict[int, list] = {}
    mtcnn = FaceDetector(margin=engine.detector.margin)
    for index, bgr in enumerate(frames):
        faces = mtcnn.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), with_crops=False)
        boxes = np.array([f.box for f in faces], np.float32).reshape(-1, 4)
        for track, face in zip(tracker.update(boxes, index / fps), faces):
            if face.size_px >= MIN_FACE:
                faces_by_track.setdefault(track.id, []).append((index, face))
    return list(faces_by_track.values())


@pytest.mark.slow
def test_fast_pipeline_marks_everyone_the_naive_loop_finds(engine, faces):
    """Enroll every person the naive loop sees well enough to identify (a face >= 40 px in at least
    3 frames), then run the fast pipeline (defaults: detection every few frames at reduced scale)
    over the same frames: it must mark exactly those people."""
    frames = read_frames(faces / CROWD, CROWD_FRAMES)
    fps = 25.0
    tracks = [t for t in naive_tracks(engine, frames, fps) if len(t) >= 3]
    assert len(tracks) >= 4, "the crowd clip should show several identifiable faces"

    # One person per naive track, from 3 of its frames; tracks of one person (the tracker lost
    # them for a moment) are merged so that nobody is enrolled twice.
    detector, embedder = engine.detector, engine.embedder()
    people: list[tuple[np.ndarray, list]] = []  # (mean vector, crops)
    for track in tracks:
        picks = [track[i] for i in np.linspace(0, len(track) - 1, 3).round().astype(int)]
        rgbs = {i: cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB) for i, _ in picks}
        crops = [crop_face(rgbs[i], f.box, detector.margin, detector.crop_size) for i, f in picks]
        vectors = embedder.embed(crops)
        mean = vectors.mean(axis=0)
        mean /= np.linalg.norm(mean)
        same = next((p for p in people if float(p[0] @ mean) > 0.7), None)
        if same is None:
            people.append((mean, crops))
    enroller = engine.enroller()
    for n, (_, crops) in enumerate(people):
        candidates = [
            FaceCandidate(crop, _Face(), f"crowd#{n}.{k}", hashlib.sha256(crop.tobytes()).hexdigest(), 100.0)
            for k, crop in enumerate(crops)
        ]
        enroller.save(f"Crowd {n}", candidates)
    enrolled = {f"Crowd {n}" for n in range(len(people))}

    recognizer = engine.recognizer(source_name="crowd")
    marked, detections = set(), 0
    for index, bgr in enumerate(frames):
        result = recognizer.process(Frame(index, index / fps, bgr, "crowd"))
        detections += result.detected
        marked |= {e.person_name for e in result.events if e.kind != "unknown"}
    print(
        f"naive tracks {len(tracks)}, people {len(people)}, fast marked {sorted(marked)}, "
        f"detections {detections}/{len(frames)}"
    )
    assert marked == enrolled
    assert detections < 0.6 * len(frames)  # it really is the reduced-rate pipeline


class _Face:
    """The parts of a DetectedFace that Enroller.save stores."""

    prob = 1.0
    size_px = 80


def test_onnx_embedder_matches_torch(engine, monkeypatch):
    from core.vision.embed import Embedder

    if engine.planned_embed_backend() != "onnx":
        pytest.skip("ONNX Runtime is not installed, or this device runs torch")
    embedder = engine.embedder(facenet_of(engine.active_model_id()))  # the fused default's FaceNet
    assert engine.embed_backend == embedder.backend == "onnx", (
        f"ONNX Runtime was expected but the engine fell back to torch: {engine.embed_fallback_reason}"
    )
    torch_embedder = Embedder(engine.load_network(engine.active_model_id()), embedder.info)
    crops = (np.random.default_rng(0).random((5, 160, 160, 3)) * 255).astype(np.uint8)
    a, b = embedder.embed(crops), torch_embedder.embed(crops)
    assert a.shape == (5, embedder.dim) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.abs(a - b).max() < 1e-4
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_embedder_backend_can_be_forced_to_torch(engine):
    engine.settings.compute.embed_backend = "torch"
    assert engine.planned_embed_backend() == engine.embed_backend == "torch"
    assert engine.embed_fallback_reason is None, "a chosen backend is not a fallback"


def test_a_fallback_from_onnx_is_visible(engine, monkeypatch):
    """When the ONNX export fails, the engine runs torch and says why, so the ONNX tests above can fail."""
    from core.vision.runtime import onnxruntime_available

    if not onnxruntime_available() or engine.device != "cpu":
        pytest.skip("ONNX Runtime runs the embedder on the CPU only")
    engine.settings.compute.embed_backend = "onnx"
    monkeypatch.setattr(engine, "_onnx_file", lambda model_id: engine.settings.data_path / "missing.onnx")
    assert engine.planned_embed_backend() == "onnx"
    assert engine.embed_backend == "torch"
    assert "missing.onnx" in engine.embed_fallback_reason


@pytest.mark.models  # loads the MTCNN files in its body
def test_onnx_detector_matches_torch(faces):
    from core.vision.detect import FaceDetector
    from core.vision.images import load_image
    from core.vision.runtime import onnxruntime_available

    if not onnxruntime_available():
        pytest.skip("onnxruntime is not installed")
    fast, plain = FaceDetector(), FaceDetector(backend="torch")
    assert fast.backend == "onnx", "ONNX Runtime is installed but MTCNN fell back to torch (see the log)"
    rgb = load_image(faces / "group" / "six_faces.jpg")
    a, b = fast.detect(rgb), plain.detect(rgb)
    assert len(a) == len(b) >= 5
    np.testing.assert_allclose(np.array([f.box for f in a]), np.array([f.box for f in b]), atol=0.05)


@pytest.mark.models  # loads the MTCNN files in its body
def test_reduced_scale_keeps_the_smallest_face_size(faces):
    """detect(min_face_px=...) looks for the same smallest face at any scale."""
    from core.vision.detect import FaceDetector
    from core.vision.images import load_image

    detector = FaceDetector()
    rgb = load_image(faces / "group" / "six_faces.jpg")
    full = detector.detect(rgb, min_face_px=40)
    half = detector.detect(rgb, scale=0.5, min_face_px=40)
    assert len(half) == len(full)


def test_decode_thread_reads_ahead_and_stops_with_the_consumer(engine, faces):
    with VideoFileSource(faces / HAMILTON) as source:
        results = engine.recognize(source)
        first = [next(results) for _ in range(5)]
        assert [r.frame.index for r in first] == [0, 1, 2, 3, 4]
        assert any(t.name.startswith("decode ") for t in threading.enumerate())
        results.close()
    assert not any(t.name.startswith("decode ") and t.is_alive() for t in threading.enumerate())


def test_every_file_of_an_image_folder_is_detected(engine, faces):
    """Unrelated pictures (an image folder) are never covered by boxes carried from the previous one."""
    recognizer = engine.recognizer(RecognitionSettings(detect_every=8), source_name="folder")
    photos = sorted((faces / "dev_unknown").glob("*.jpg"))[:3]
    for i, path in enumerate(photos):
        result = recognizer.process(Frame(i, i, cv2.imread(str(path)), str(path)))
        assert result.detected


def test_a_scene_cut_starts_new_tracks(engine, faces):
    """Hamilton cuts from the performer to the audience at frame 211: the performer's track must
    not be handed to the audience member standing where he stood."""
    frames = read_frames(faces / HAMILTON, 214)
    recognizer = engine.recognizer(source_name="h")
    before = None
    for index in range(205, 214):
        result = recognizer.process(Frame(index, index / 30, frames[index], "h"))
        if index == 210:
            before = {f.track_id for f in result.faces}
        if index == 211:
            assert result.detected and recognizer.scene_cuts == 1
            assert before and not before & {f.track_id for f in result.faces}


def zoomed_face(frame: np.ndarray, box: np.ndarray, factor: float) -> np.ndarray:
    """The frame with the head around `box` shown `factor` times bigger (someone stepping closer);
    the rest of the picture unchanged."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    warped = cv2.warpAffine(frame, cv2.getRotationMatrix2D((cx, cy), 0.0, factor), frame.shape[1::-1])
    half = int(max(x2 - x1, y2 - y1) * 0.8 * factor)
    top, left = max(0, int(cy) - half), max(0, int(cx) - half)
    out = frame.copy()
    out[top : int(cy) + half, left : int(cx) + half] = warped[top : int(cy) + half, left : int(cx) + half]
    return out


def test_a_stranger_is_checked_again_for_a_better_look_not_for_the_same_one(engine, faces):
    """Nobody enrolled; the performer stands still, so he settles as unknown. The same look again is
    not embedded again before `reid_interval_s`; stepping closer (a face 25% bigger) is, at the next
    detection, on the same track."""
    still = read_frames(faces / HAMILTON, 101)[100]
    box = engine.detector.detect(cv2.cvtColor(still, cv2.COLOR_BGR2RGB), with_crops=False)[0].box
    closer = zoomed_face(still, box, 1.25)
    recognizer = engine.recognizer(source_name="door")
    options = recognizer.options
    fps = 30.0

    def run(image, start: int, seconds: float):
        for index in range(start, start + int(seconds * fps)):
            result = recognizer.process(Frame(index, index / fps, image, "door"))
        return index + 1, result

    end, result = run(still, 0, 1.6)  # settled after 3 looks; a timer of 0.5 s would have looked again
    [track] = recognizer.tracker.active_tracks()
    assert track.settled_unknown and len(track.votes) == options.votes_to_mark
    assert recognizer.scene_cuts == 0
    end, result = run(closer, end, options.detect_every / fps)  # the next detection sees the better look
    assert recognizer.tracker.active_tracks() == [track] and recognizer.scene_cuts == 0
    assert len(track.votes) == options.votes_to_mark + 1
    checked = track.last_embedded_at
    end, result = run(closer, end, 1.0)  # the same (better) look again: not embedded again
    assert track.last_embedded_at == checked and len(track.votes) == options.votes_to_mark + 1
    assert options.reid_interval_s > 1.0 + options.detect_every / fps
