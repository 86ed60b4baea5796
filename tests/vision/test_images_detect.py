"""Reading photos, and MTCNN detection/alignment on real faces."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.base.errors import ImageError
from core.vision.detect import FaceDetector, central_face
from core.vision.images import load_image, to_rgb


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


@pytest.fixture(scope="module")
def sample_photo(faces):
    return sorted((faces / "dev").glob("*/*_0001.jpg"))[0]


def test_non_image_file_gives_clear_error(tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is a text file, not a photo")
    with pytest.raises(ImageError, match="not an image file") as info:
        load_image(fake)
    assert "notes.jpg" in str(info.value)


def test_truncated_jpeg_gives_clear_error(tmp_path, sample_photo):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(sample_photo.read_bytes()[:2000])
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(broken)


def test_missing_file_gives_clear_error(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "nope.jpg")


def test_exif_orientation_is_honoured(tmp_path, sample_photo, detector):
    upright = load_image(sample_photo)
    rotated = Image.fromarray(upright).rotate(90, expand=True)  # stored turned 90° anticlockwise...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...with an EXIF tag saying "rotate 90 clockwise to view"
    path = tmp_path / "sideways.jpg"
    rotated.save(path, exif=exif, quality=95)
    loaded = load_image(path)
    assert loaded.shape == upright.shape
    assert np.abs(loaded.astype(int) - upright.astype(int)).mean() < 8
    assert len(detector.detect(loaded)) >= 1


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "I;16"])
def test_other_pixel_formats_load_as_rgb(tmp_path, sample_photo, mode):
    img = Image.open(sample_photo)
    converted = img.convert("L").convert("I;16") if mode == "I;16" else img.convert(mode)
    path = tmp_path / f"photo.{'tif' if mode in ('CMYK', 'I;16') else 'png'}"
    converted.save(path)
    rgb = load_image(path)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert rgb.mean() > 20  # not black


def test_six_faces_in_the_group_photo(faces, detector):
    rgb = load_image(faces / "group" / "six_faces.jpg")
    found = detector.detect(rgb)
    assert len(found) == 6
    for face in found:
        assert face.crop.shape == (160, 160, 3) and face.crop.dtype == np.uint8
        assert face.landmarks.shape == (5, 2) and face.box.dtype == np.float32
        assert 0.9 <= face.prob <= 1.0


def test_no_face_gives_empty_list(detector):
    blank = np.full((240, 320, 3), 127, np.uint8)
    assert detector.detect(blank) == []
    assert detector.detect_batch([blank, blank]) == [[], []]


def test_batch_matches_single_frames(faces, detector):
    paths = sorted((faces / "dev").glob("*/*_0002.jpg"))[:4]
    frames = [load_image(p) for p in paths]
    batch = detector.detect_batch(frames)
    for frame, result in zip(frames, batch):
        single = detector.detect(frame)
        assert len(single) == len(result)
        np.testing.assert_allclose(single[0].box, result[0].box, atol=1.0)


def test_bgr_gray_and_rgba_frames_give_the_same_face(sample_photo, detector):
    rgb = load_image(sample_photo)
    reference = central_face(detector.detect(rgb), rgb.shape)
    bgr = rgb[:, :, ::-1].copy()
    via_bgr = central_face(detector.detect(to_rgb(bgr, "bgr")), rgb.shape)
    np.testing.assert_allclose(reference.box, via_bgr.box, atol=0.5)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    via_rgba = central_face(detector.detect(to_rgb(rgba, "rgb")), rgb.shape)
    np.testing.assert_allclose(reference.box, via_rgba.box, atol=0.5)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    via_gray = central_face(detector.detect(to_rgb(gray)), rgb.shape)
    assert via_gray is not None and np.abs(via_gray.box - reference.box).max() < 15


def test_reduced_scale_detection_maps_boxes_back(faces, detector):
    rgb = load_image(faces / "group" / "six_faces.jpg")
    full = sorted(detector.detect(rgb), key=lambda f: f.box[0])
    half = sorted(detector.detect(rgb, scale=0.5), key=lambda f: f.box[0])
    assert len(half) >= 4
    for face in half:
        nearest = min(full, key=lambda f: np.abs(f.box - face.box).sum())
        assert np.abs(nearest.box - face.box).max() < 0.25 * nearest.width


def test_central_face_is_not_simply_the_largest(faces, detector):
    # In this LFW photo a bystander's face is larger than the labelled person's.
    path = faces / "lfw_view1" / "images" / "Condoleezza_Rice" / "Condoleezza_Rice_0005.jpg"
    if not path.exists():
        pytest.skip("photo not in this data set version")
    rgb = load_image(path)
    found = detector.detect(rgb)
    assert len(found) >= 2
    largest = max(found, key=lambda f: f.width)
    chosen = central_face(found, rgb.shape)
    assert chosen is not largest
