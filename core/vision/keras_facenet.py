"""Convert the Keras FaceNet (`facenet_keras.h5`, 128-d) into facenet-pytorch's InceptionResnetV1.

Layer names map one-to-one. Keras kernels are (kh, kw, in, out); torch wants (out, in, kh, kw).
The Keras BatchNorm layers were trained with `scale=False`, so their gamma is a constant 1.
`convert` returns the state dict and, for every torch tensor, where its values came from.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from core.base.errors import WeightsError

EMBEDDING_SIZE = 128
GAMMA_CONSTANT = "constant 1 (Keras BatchNorm scale=False)"


def _conv_names() -> dict[str, str]:
    """torch BasicConv2d prefix -> Keras layer name."""
    names = {
        "conv2d_1a": "Conv2d_1a_3x3",
        "conv2d_2a": "Conv2d_2a_3x3",
        "conv2d_2b": "Conv2d_2b_3x3",
        "conv2d_3b": "Conv2d_3b_1x1",
        "conv2d_4a": "Conv2d_4a_3x3",
        "conv2d_4b": "Conv2d_4b_3x3",
        "mixed_6a.branch0": "Mixed_6a_Branch_0_Conv2d_1a_3x3",
        "mixed_6a.branch1.0": "Mixed_6a_Branch_1_Conv2d_0a_1x1",
        "mixed_6a.branch1.1": "Mixed_6a_Branch_1_Conv2d_0b_3x3",
        "mixed_6a.branch1.2": "Mixed_6a_Branch_1_Conv2d_1a_3x3",
        "mixed_7a.branch0.0": "Mixed_7a_Branch_0_Conv2d_0a_1x1",
        "mixed_7a.branch0.1": "Mixed_7a_Branch_0_Conv2d_1a_3x3",
        "mixed_7a.branch1.0": "Mixed_7a_Branch_1_Conv2d_0a_1x1",
        "mixed_7a.branch1.1": "Mixed_7a_Branch_1_Conv2d_1a_3x3",
        "mixed_7a.branch2.0": "Mixed_7a_Branch_2_Conv2d_0a_1x1",
        "mixed_7a.branch2.1": "Mixed_7a_Branch_2_Conv2d_0b_3x3",
        "mixed_7a.branch2.2": "Mixed_7a_Branch_2_Conv2d_1a_3x3",
    }
    block_branches = {
        "Block35": [
            "branch0:Branch_0_Conv2d_1x1",
            "branch1.0:Branch_1_Conv2d_0a_1x1",
            "branch1.1:Branch_1_Conv2d_0b_3x3",
            "branch2.0:Branch_2_Conv2d_0a_1x1",
            "branch2.1:Branch_2_Conv2d_0b_3x3",
            "branch2.2:Branch_2_Conv2d_0c_3x3",
        ],
        "Block17": [
            "branch0:Branch_0_Conv2d_1x1",
            "branch1.0:Branch_1_Conv2d_0a_1x1",
            "branch1.1:Branch_1_Conv2d_0b_1x7",
            "branch1.2:Branch_1_Conv2d_0c_7x1",
        ],
        "Block8": [
            "branch0:Branch_0_Conv2d_1x1",
            "branch1.0:Branch_1_Conv2d_0a_1x1",
            "branch1.1:Branch_1_Conv2d_0b_1x3",
            "branch1.2:Branch_1_Conv2d_0c_3x1",
        ],
    }
    for block, prefix, count in (("Block35", "repeat_1", 5), ("Block17", "repeat_2", 10), ("Block8", "repeat_3", 5)):
        for i in range(count):
            for pair in block_branches[block]:
                torch_part, keras_part = pair.split(":")
                names[f"{prefix}.{i}.{torch_part}"] = f"{block}_{i + 1}_{keras_part}"
    for pair in block_branches["Block8"]:
        torch_part, keras_part = pair.split(":")
        names[f"block8.{torch_part}"] = f"Block8_6_{keras_part}"
    return names


def _up_convs() -> dict[str, str]:
    """torch residual up-projection conv (with bias) -> Keras layer name."""
    names = {}
    for block, prefix, count in (("Block35", "repeat_1", 5), ("Block17", "repeat_2", 10), ("Block8", "repeat_3", 5)):
        for i in range(count):
            names[f"{prefix}.{i}.conv2d"] = f"{block}_{i + 1}_Conv2d_1x1"
    names["block8.conv2d"] = "Block8_6_Conv2d_1x1"
    return names


def _read_h5(h5_path: Path) -> dict[str, np.ndarray]:
    import h5py

    try:
        with h5py.File(h5_path, "r") as fh:
            root = fh["model_weights"] if "model_weights" in fh else fh
            arrays: dict[str, np.ndarray] = {}

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    layer, _, leaf = name.rpartition("/")
                    arrays[f"{layer.split('/')[0]}/{leaf.split(':')[0]}"] = np.asarray(obj)

            root.visititems(visit)
            return arrays
    except (OSError, KeyError) as exc:
        raise WeightsError(f"{h5_path}: not a readable Keras weights file ({exc}).") from None


def convert(h5_path: Path) -> tuple[OrderedDict[str, object], dict[str, str]]:
    """Build an InceptionResnetV1 (128-d) state dict from the Keras file.

    Returns (state_dict, sources) where sources[torch_key] names the Keras array it came from.
    Raises WeightsError if any Keras array is unused or any torch tensor has no source.
    """
    import torch

    arrays = _read_h5(Path(h5_path))
    model = build_network(EMBEDDING_SIZE)
    target = model.state_dict()
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    sources: dict[str, str] = {}
    used: set[str] = set()

    def take(torch_key: str, keras_key: str, transform=lambda a: a):
        if keras_key not in arrays:
            raise WeightsError(f"{h5_path}: missing Keras weight {keras_key}; the file is not the expected FaceNet.")
        value = torch.from_numpy(np.ascontiguousarray(transform(arrays[keras_key]))).float()
        if tuple(value.shape) != tuple(target[torch_key].shape):
            expected = tuple(target[torch_key].shape)
            raise WeightsError(f"{h5_path}: {keras_key} has shape {tuple(value.shape)}, expected {expected}.")
        state[torch_key] = value
        sources[torch_key] = keras_key
        used.add(keras_key)

    def batch_norm(torch_prefix: str, keras_layer: str):
        take(f"{torch_prefix}.bias", f"{keras_layer}/beta")
        take(f"{torch_prefix}.running_mean", f"{keras_layer}/moving_mean")
        take(f"{torch_prefix}.running_var", f"{keras_layer}/moving_variance")
        state[f"{torch_prefix}.weight"] = torch.ones_like(target[f"{torch_prefix}.weight"])
        sources[f"{torch_prefix}.weight"] = GAMMA_CONSTANT
        state[f"{torch_prefix}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
        sources[f"{torch_prefix}.num_batches_tracked"] = "constant 0 (counter, unused in eval)"

    conv_kernel = lambda a: a.transpose(3, 2, 0, 1)  # noqa: E731  (kh,kw,in,out) -> (out,in,kh,kw)
    for torch_prefix, keras_layer in _conv_names().items():
        take(f"{torch_prefix}.conv.weight", f"{keras_layer}/kernel", conv_kernel)
        batch_norm(f"{torch_prefix}.bn", f"{keras_layer}_BatchNorm")
    for torch_prefix, keras_layer in _up_convs().items():
        take(f"{torch_prefix}.weight", f"{keras_layer}/kernel", conv_kernel)
        take(f"{torch_prefix}.bias", f"{keras_layer}/bias")
    take("last_linear.weight", "Bottleneck/kernel", lambda a: a.T)
    batch_norm("last_bn", "Bottleneck_BatchNorm")

    missing = [k for k in target if k not in state]
    unused = sorted(set(arrays) - used)
    if missing or unused:
        raise WeightsError(
            f"{h5_path}: conversion incomplete ({len(missing)} torch tensors without a source, "
            f"{len(unused)} Keras arrays unused, e.g. {(missing + unused)[:3]})."
        )
    return OrderedDict((k, state[k]) for k in target), sources


def build_network(embedding_size: int, dropout_prob: float = 0.6):
    """facenet-pytorch's InceptionResnetV1 with an embedding head of the given size."""
    from facenet_pytorch import InceptionResnetV1
    from torch import nn

    model = InceptionResnetV1(pretrained=None, classify=False, dropout_prob=dropout_prob)
    if embedding_size != 512:
        model.last_linear = nn.Linear(1792, embedding_size, bias=False)
        model.last_bn = nn.BatchNorm1d(embedding_size, eps=0.001, momentum=0.1, affine=True)
    return model
