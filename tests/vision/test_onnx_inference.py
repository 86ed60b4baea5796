"""Torch-free CPU inference: numpy MTCNN against facenet-pytorch, the ONNX files and their checksums,
kiosk commands and the GUI that never import torch, identification figures equal to torch's, and the
recogniser's idle back-off."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.base.errors import WeightsError
from core.vision.images import load_image
from core.vision.onnx_files import MTCNN_NETS, mtcnn_file_name, mtcnn_paths, sidecar
from core.vision.yunet import YUNET_FILE
from tests.kits.onnx import copy_models, probe
from tests.kits.paths import MODELS_CACHE, dev_people, dev_photos

HAMILTON = "video/hamilton_640x360.mp4"
BOX_TOLERANCE_PX = 0.01  # measured: 6e-5 px for boxes, 1e-4 px for landmarks
PROB_TOLERANCE = 1e-4  # measured: 2e-6


def video_frames(path: Path, every: int = 1, limit: int = 10_000) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        if index % every == 0:
            frames.append(frame)
        index += 1
    cap.release()
    return frames


# ---- MTCNN in numpy == facenet-pytorch -------------------------------------------------------------


def test_area_resize_is_torch_area_interpolation():
    torch = pytest.importorskip("torch")
    from core.vision.mtcnn_numpy import area_resize

    rng = np.random.default_rng(1)
    for h, w, out_h, out_w in [(37, 53, 24, 24), (250, 250, 76, 76), (13, 9, 24, 24), (360, 640, 109, 193)]:
        img = rng.integers(0, 256, (h, w, 3), np.uint8)
        expected = (
            torch.nn.functional.interpolate(
                torch.as_tensor(img).permute(2, 0, 1)[None].float(), size=(out_h, out_w), mode="area"
            )[0]
            .permute(1, 2, 0)
            .numpy()
        )
        np.testing.assert_allclose(area_resize(img, out_h, out_w), expected, rtol=0, atol=1e-4)


def test_nms_union_is_torchvision_nms():
    torch = pytest.importorskip("torch")
    from torchvision.ops import nms

    from core.vision.mtcnn_numpy import nms_union

    rng = np.random.default_rng(2)
    for _ in range(20):
        xy = rng.uniform(0, 200, (300, 2)).astype(np.float32)
        boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (300, 2)).astype(np.float32)], axis=1)
        scores = rng.uniform(0, 1, 300).astype(np.float32)
        for threshold in (0.5, 0.7):
            expected = nms(torch.as_tensor(boxes), torch.as_tensor(scores), threshold).numpy()
            np.testing.assert_array_equal(nms_union(boxes, scores, threshold), expected)


@pytest.mark.slow
def test_numpy_mtcnn_matches_facenet_pytorch(default_weights, faces):
    """Same faces, boxes, landmarks and probabilities as facenet-pytorch's detect_face, on dev photos,
    the group photos and frames of the Hamilton clip, at MTCNN's and the recogniser's thresholds."""
    torch = pytest.importorskip("torch")
    from facenet_pytorch import MTCNN
    from facenet_pytorch.models.utils.detect_face import detect_face

    from core.vision.mtcnn_numpy import OnnxMtcnnNets, detect_faces

    nets = OnnxMtcnnNets(mtcnn_paths(MODELS_CACHE), threads=1).nets
    reference = MTCNN(device="cpu").eval()
    images = [load_image(p) for person in dev_people() for p in dev_photos(person)[:2]]
    images += [load_image(faces / "group" / name) for name in ("six_faces.jpg", "two_people.jpg", "kit_with_rose.jpg")]
    images += [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in video_frames(faces / HAMILTON, every=25)]
    worst = {"box": 0.0, "landmarks": 0.0, "prob": 0.0}
    total = 0
    for thresholds in ([0.6, 0.7, 0.7], [0.8, 0.7, 0.7]):
        for image in images:
            with torch.inference_mode():
                boxes, points = detect_face(
                    image[None], 40, reference.pnet, reference.rnet, reference.onet, thresholds, 0.709, "cpu"
                )
            expected_boxes, expected_points = (
                np.asarray(boxes[0]).reshape(-1, 5),
                np.asarray(points[0]).reshape(-1, 5, 2),
            )
            got_boxes, got_points = (a[0] for a in detect_faces(image, 40, *nets, thresholds))
            assert len(got_boxes) == len(expected_boxes), (
                f"{len(got_boxes)} faces, facenet-pytorch {len(expected_boxes)}"
            )
            total += len(got_boxes)
            if not len(got_boxes):
                continue
            mine, theirs = np.argsort(-got_boxes[:, 4]), np.argsort(-expected_boxes[:, 4])
            worst["box"] = max(worst["box"], float(np.abs(got_boxes[mine, :4] - expected_boxes[theirs, :4]).max()))
            worst["prob"] = max(worst["prob"], float(np.abs(got_boxes[mine, 4] - expected_boxes[theirs, 4]).max()))
            worst["landmarks"] = max(
                worst["landmarks"], float(np.abs(got_points[mine] - expected_points[theirs]).max())
            )
    print(f"{len(images)} images x 2 threshold sets, {total} faces; largest differences: {worst}")
    assert total > 2 * len(images) * 0.9
    assert worst["box"] <= BOX_TOLERANCE_PX and worst["landmarks"] <= BOX_TOLERANCE_PX
    assert worst["prob"] <= PROB_TOLERANCE


# ---- the ONNX files --------------------------------------------------------------------------------


def test_corrupt_mtcnn_file_is_a_clear_error(default_weights, tmp_path):
    from core.vision.detect import FaceDetector

    models = copy_models(tmp_path / "models", with_embedders=False)
    pnet = models / mtcnn_file_name("pnet")
    data = bytearray(pnet.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pnet.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"corrupt.*rollcall models export-onnx"):
        FaceDetector(models_dir=models)


def test_export_skips_good_files_and_replaces_a_corrupt_one(default_weights, tmp_path):
    pytest.importorskip("facenet_pytorch")
    from core.vision.onnx_files import export_mtcnn

    models = copy_models(tmp_path / "models", with_embedders=False)
    before = {net: (models / mtcnn_file_name(net)).stat().st_mtime_ns for net in MTCNN_NETS}
    onet = models / mtcnn_file_name("onet")
    onet.write_bytes(onet.read_bytes()[:1000])  # truncated
    export_mtcnn(models)
    assert (models / mtcnn_file_name("pnet")).stat().st_mtime_ns == before["pnet"]
    assert mtcnn_paths(models) is not None  # all three pass their checksums again
    assert json.loads(sidecar(onet).read_text())["source"].startswith("facenet-pytorch==")


def test_missing_mtcnn_files_without_torch_say_to_export(default_weights, tmp_path):
    models = copy_models(tmp_path / "models")
    for net in MTCNN_NETS:
        (models / mtcnn_file_name(net)).unlink()
    (models / YUNET_FILE).unlink(missing_ok=True)  # no YuNet either: the CPU's other detector
    photo = dev_photos(dev_people()[0])[0]
    report, stderr = probe(["cli", "--device", "cpu", "identify", str(photo), "--no-torch"], tmp_path / "home", models)
    assert report["rc"] == 2
    assert "rollcall models export-onnx" in stderr and "Traceback" not in stderr
    assert report["torch_modules"] == []


def test_corrupt_facenet_onnx_through_the_cli_is_a_clear_error(default_weights, tmp_path):
    models = copy_models(tmp_path / "models")
    graph = next(models.glob("facenet-keras-128.*.onnx"))
    real = graph.resolve()
    graph.unlink()
    damaged = bytearray(real.read_bytes())
    damaged[100] ^= 0xFF
    graph.write_bytes(bytes(damaged))
    photo = dev_photos(dev_people()[0])[0]
    report, stderr = probe(["cli", "--device", "cpu", "identify", str(photo)], tmp_path / "home", models)
    assert report["rc"] == 2, stderr
    assert "corrupt" in stderr and "rollcall models export-onnx" in stderr and "Traceback" not in stderr


# ---- kiosk commands and the GUI never import torch ------------------------------------------------


def one_frame_video(faces: Path, target: Path, frame_index: int = 120) -> Path:
    frame = video_frames(faces / HAMILTON, limit=frame_index + 1)[-1]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), 30, (frame.shape[1], frame.shape[0]))
    writer.write(frame)
    writer.release()
    return target


@pytest.mark.slow
def test_kiosk_commands_never_import_torch(default_weights, faces, tmp_path):
    """enroll, import, identify, recognize, the self-test and the main window with its kiosk panels,
    each in a fresh process on the CPU: torch, torchvision and facenet-pytorch stay unloaded."""
    from core.vision.runtime import _gpu_possible

    home = tmp_path / "home"
    people = dev_people()
    tree = tmp_path / "import"
    for person in people[1:3]:
        (tree / person.name).mkdir(parents=True)
        for photo in dev_photos(person)[:2]:
            (tree / person.name / photo.name).symlink_to(photo)
    video = one_frame_video(faces, tmp_path / "one_frame.mp4")
    commands = {
        "enroll": ["enroll", "Ada Kiosk", *map(str, dev_photos(people[0])[:2])],
        "import": ["import", str(tree)],
        "identify": ["identify", str(dev_photos(people[0])[5]), str(faces / "group" / "six_faces.jpg")],
        "recognize": ["recognize", str(video)],
    }
    for name, args in commands.items():
        report, stderr = probe(["cli", "--device", "cpu", *args], home)
        assert report["rc"] == 0, f"{name}: {stderr[-2000:]}"
        assert report["torch_modules"] == [], f"`rollcall {name}` imported {report['torch_modules']}"
    if _gpu_possible():
        pytest.skip("a GPU machine: the self-test and the window may use torch there")
    report, stderr = probe(["selftest"], home)
    assert report["rc"] == 0 and report["torch_modules"] == [], stderr[-3000:]
    report, stderr = probe(["gui", str(video)], home)
    assert report["rc"] == 0, stderr[-3000:]
    assert report["torch_modules"] == [], f"the main window imported {report['torch_modules']}"


# ---- accuracy: the ONNX path identifies as the torch path does ----------------------------------


@pytest.mark.slow
def test_dev_identification_figures_match_torch(default_weights, faces, tmp_path):
    from core.app.engine import Engine
    from core.app.identification import dev_closed_set, enroll_set, identify_set
    from core.base.settings import ComputeSettings, Settings, StorageSettings

    pytest.importorskip("facenet_pytorch")
    dataset = dev_closed_set(faces / "dev", faces / "dev_unknown")
    figures = {}
    for backend in ("onnx", "torch"):
        settings = Settings(
            storage=StorageSettings(data_dir=str(tmp_path / backend)),
            compute=ComputeSettings(device="cpu", embed_backend=backend, detect_backend=backend, detector="mtcnn"),
        )  # MTCNN's two backends compared
        with Engine(settings) as engine:
            refused = enroll_set(engine, dataset)
            result = identify_set(engine, dataset, refused=refused)
            assert engine.detector.backend == backend and engine.embed_backend == backend
        figures[backend] = result
        print(backend, "; ".join(result.lines()))
    onnx, torch_ = figures["onnx"], figures["torch"]
    assert onnx.refused == torch_.refused
    for name in ("threshold", "top1", "top1_at_rejection"):
        assert abs(getattr(onnx, name) - getattr(torch_, name)) <= 0.002, name
    assert abs(onnx.strangers_per_1000 - torch_.strangers_per_1000) / 1000 <= 0.002
    assert onnx.top1 >= 0.95


# ---- the idle back-off --------------------------------------------------------------------------------


def test_idle_backoff_detects_rarely_and_still_finds_a_face_walking_in(engine, faces):
    """An empty room at 30 fps: after `idle_after_s` detection runs about once per
    `idle_detect_interval_s`; a face that appears is tracked within that interval's frames."""
    from core.live.recognize import Recognizer
    from core.live.sources import Frame

    fps = 30.0
    options = engine.settings.recognition
    recognizer = Recognizer(engine.parts, options)
    room = np.full((360, 640, 3), 90, np.uint8)
    cv2.rectangle(room, (40, 40), (200, 300), (60, 120, 160), -1)  # something that is not a face
    person = cv2.resize(cv2.imread(str(dev_photos(dev_people()[3])[0])), (160, 160), interpolation=cv2.INTER_AREA)
    with_face = room.copy()
    with_face[100:260, 380:540] = person  # small enough not to count as a scene cut
    empty_frames = int(fps * (options.idle_after_s + 3.0))
    detections_when_idle = 0
    for index in range(empty_frames):
        result = recognizer.process(Frame(index, index / fps, room, "room"))
        assert not result.faces
        if index / fps >= options.idle_after_s + 0.1:
            detections_when_idle += result.detected
    idle_seconds = (empty_frames - 1) / fps - options.idle_after_s - 0.1
    assert detections_when_idle <= idle_seconds / options.idle_detect_interval_s + 1
    limit = int(np.ceil(options.idle_detect_interval_s * fps)) + 1
    for step in range(limit):
        index = empty_frames + step
        result = recognizer.process(Frame(index, index / fps, with_face, "room"))
        if result.faces:
            break
    assert result.faces, f"the face was not found within {limit} frames"
    assert recognizer.scene_cuts == 0  # found by the backed-off detection, not by a cut
    print(f"idle: {detections_when_idle} detections in {idle_seconds:.1f} s; face found after {step + 1} frames")


def test_self_test_without_torch_checks_the_onnx_files(default_weights, tmp_path):
    """The kiosk edition's self-test (torch cannot be imported): the ONNX files stand in for the weights."""
    report, stderr = probe(["selftest", "--no-torch"], tmp_path / "home")
    assert report["rc"] == 0 and report["torch_modules"] == [], stderr[-3000:]
    models = copy_models(tmp_path / "models")
    (models / mtcnn_file_name("rnet")).unlink()
    report, stderr = probe(["selftest", "--no-torch"], tmp_path / "home2", models)
    assert report["rc"] == 1
