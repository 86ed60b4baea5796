"""The base network's LFW vectors on disk: keyed by every weight and the shared stages, read back whole,
refused when damaged or of another size, and no more than KEPT_FILES kept."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
facenet_pytorch = pytest.importorskip("facenet_pytorch")

from trainer.lfw_vectors import KEPT_FILES, base_vectors_key, load_base_vectors, save_base_vectors  # noqa: E402
from trainer.validate import LfwSet  # noqa: E402


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    return facenet_pytorch.InceptionResnetV1().eval()


def lfw_set(count: int = 6) -> LfwSet:
    pairs = np.arange(count // 2)
    return LfwSet(
        [bytes([i]) * 40 for i in range(count)],
        [f"P/P_{i:04d}.jpg" for i in range(count)],
        pairs,
        pairs + count // 2,
        np.ones(count // 2, bool),
        0,
    )


def test_the_key_follows_every_weight_and_the_shared_stages(network):
    lfw = lfw_set()
    key = base_vectors_key(network, 5, "facenet", lfw)
    assert key == base_vectors_key(network, 5, "facenet", lfw)
    assert key != base_vectors_key(network, 6, "facenet", lfw)  # other stages rounded to float16
    assert key != base_vectors_key(network, 5, "facenet", lfw_set(8))
    with torch.no_grad():
        network.last_bn.running_mean[0] += 1.0  # the head, past every shared stage
    try:
        assert key != base_vectors_key(network, 5, "facenet", lfw)
    finally:
        with torch.no_grad():
            network.last_bn.running_mean[0] -= 1.0


def test_vectors_round_trip_and_bad_files_are_measured_again(tmp_path):
    vectors = np.random.default_rng(0).normal(size=(6, 128)).astype(np.float32)
    assert load_base_vectors(tmp_path, "k", 6) is None
    save_base_vectors(tmp_path, "k", vectors)
    assert np.array_equal(load_base_vectors(tmp_path, "k", 6), vectors)
    assert load_base_vectors(tmp_path, "k", 7) is None  # another LFW set's size
    (tmp_path / "lfw" / "base-k.npy").write_bytes(b"not numpy")
    assert load_base_vectors(tmp_path, "k", 6) is None
    vectors[0, 0] = np.nan
    save_base_vectors(tmp_path, "k", vectors)
    assert load_base_vectors(tmp_path, "k", 6) is None
    assert load_base_vectors(None, "k", 6) is None


def test_only_the_newest_bases_are_kept(tmp_path):
    import os

    vectors = np.zeros((2, 4), np.float32)
    for i in range(KEPT_FILES + 2):
        save_base_vectors(tmp_path, f"k{i}", vectors)
        os.utime(tmp_path / "lfw" / f"base-k{i}.npy", (1_000_000 + i, 1_000_000 + i))
    save_base_vectors(tmp_path, "newest", vectors)
    kept = sorted(p.name for p in (tmp_path / "lfw").glob("base-*.npy"))
    assert len(kept) == KEPT_FILES and "base-newest.npy" in kept and "base-k0.npy" not in kept
    assert not list((tmp_path / "lfw").glob("*.tmp"))
