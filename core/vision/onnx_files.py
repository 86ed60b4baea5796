"""The ONNX files inference runs from on the CPU, made once and stored with sha256 sidecars.

- MTCNN: `mtcnn-{pnet,rnet,onet}.v<N>.onnx`, exported from facenet-pytorch's bundled weights.
- FaceNet versions: `<weights stem>.<sha256[:16]>.v<N>.onnx` beside the weights (onnx_path_for).
- SFace is ONNX already (`sface-128.onnx`, converted at fetch time).

They are made by `rollcall models export-onnx` (scripts/setup.sh runs it), after `rollcall models fetch`,
`rollcall models add` and training. Loading one checks its sidecar's sha256 (a corrupt file is a
WeightsError naming the fix) and needs neither torch nor facenet-pytorch. Exporting needs both.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from core.base.errors import WeightsError
from core.base.resources import bundled_models_dir
from core.vision.images import DEFAULT_CROP_SIZE, file_sha256

log = logging.getLogger(__name__)

MTCNN_EXPORT_VERSION = 1  # bump when the export recipe changes: old files are then ignored
MTCNN_NETS = ("pnet", "rnet", "onet")
EXPORT_COMMAND = "rollcall models export-onnx"
# Example input shapes for the export, and the axes left dynamic.
_MTCNN_SHAPES = {"pnet": (1, 3, 64, 80), "rnet": (4, 3, 24, 24), "onet": (4, 3, 48, 48)}
_MTCNN_DYNAMIC = {"pnet": {0: "batch", 2: "height", 3: "width"}, "rnet": {0: "batch"}, "onet": {0: "batch"}}


def mtcnn_file_name(net: str) -> str:
    return f"mtcnn-{net}.v{MTCNN_EXPORT_VERSION}.onnx"


def sidecar(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".json")


def torch_available() -> bool:
    """Whether torch and facenet-pytorch can be imported (found without importing them)."""
    for name in ("torch", "facenet_pytorch"):
        if name in sys.modules:
            if sys.modules[name] is None:  # blocked, as in an edition without torch
                return False
        elif importlib.util.find_spec(name) is None:
            return False
    return True


def data_file(path: Path) -> Path:
    """Where an ONNX file keeps its weights when they are stored apart from the graph."""
    return Path(path).with_name(Path(path).name + ".data")


def write_onnx_checked(model: bytes, path: Path, info: dict, external_data: bool = False) -> Path:
    """Write an ONNX model atomically with a sidecar that records its sha256.

    external_data: the weights go to `<name>.data` beside the graph (its sha256 recorded too). ONNX
    Runtime then maps them instead of parsing and copying them: a large network opens several times
    faster and with one copy of its weights in memory instead of two.
    """
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp:
        staged = Path(tmp) / path.name
        if external_data:
            import onnx

            onnx.save_model(
                onnx.load_from_string(model),
                staged,
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=data_file(path).name,
                size_threshold=1024,
            )
        else:
            staged.write_bytes(model)
        meta = dict(info, sha256=file_sha256(staged), size=staged.stat().st_size, saved=datetime.now(UTC).isoformat())
        if external_data:
            meta["data_sha256"] = file_sha256(data_file(staged))
            os.replace(data_file(staged), data_file(path))
        else:
            data_file(path).unlink(missing_ok=True)
        staged_meta = Path(tmp) / sidecar(path).name
        staged_meta.write_text(json.dumps(meta, indent=2))
        os.replace(staged, path)
        os.replace(staged_meta, sidecar(path))
    return path


def verify_onnx(path: Path) -> str:
    """Check an ONNX file (and its weights file, if apart) against its sidecar's sha256s; a
    WeightsError naming the fix if either fails."""
    from core.vision.models import verify_weights

    fix = f"Delete it and run `{EXPORT_COMMAND}` to make it again."
    digest = verify_weights(Path(path), fix=fix)
    try:
        data_sha256 = json.loads(sidecar(path).read_text()).get("data_sha256")
    except (OSError, ValueError):
        data_sha256 = None
    if data_sha256:
        verify_weights(
            data_file(path), data_sha256, fix=f"Delete {Path(path).name} and it, and run `{EXPORT_COMMAND}`."
        )
    return digest


def find_file(name: str, folders: list[Path]) -> Path | None:
    for folder in [*folders, bundled_models_dir()]:
        if folder is not None and (Path(folder) / name).exists():
            return Path(folder) / name
    return None


# ---- FaceNet versions: exported once, cached beside their weights ---------------------------------------

ONNX_EXPORT_VERSION = 2  # bump when the export recipe changes: old cached files are then ignored (2: sidecar, .data)
ONNX_OPSET = 17


def onnx_path_for(weights: Path, sha256: str) -> Path:
    """Where the ONNX export of a weights file is cached: beside it, keyed by its checksum."""
    weights = Path(weights)
    return weights.with_name(f"{weights.stem}.{sha256[:16]}.v{ONNX_EXPORT_VERSION}.onnx")


def onnx_export_bytes(network, example, input_name: str, output_names: list[str], dynamic_axes: dict) -> bytes:
    """The one ONNX export recipe (the embedder and MTCNN's nets): torch's TorchScript exporter at
    ONNX_OPSET, warnings silenced, the model as bytes."""
    import io
    import warnings

    import torch

    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            network,
            (example,),
            buffer,  # type: ignore[arg-type]  # a file object works too
            dynamo=False,
            input_names=[input_name],
            output_names=output_names,
            opset_version=ONNX_OPSET,
            dynamic_axes=dynamic_axes,
        )
    return buffer.getvalue()


def export_onnx(network, path: Path, info: dict | None = None, crop_size: int = DEFAULT_CROP_SIZE) -> Path:
    """Export an InceptionResnetV1 (eval mode, CPU) to `path` atomically with a sha256 sidecar;
    batch size is dynamic."""
    import torch

    was_training = network.training
    network.eval()
    try:
        model = onnx_export_bytes(
            network.cpu(),
            torch.zeros(2, 3, crop_size, crop_size),
            "crops",
            ["embeddings"],
            {"crops": {0: "batch"}, "embeddings": {0: "batch"}},
        )
    finally:
        network.train(was_training)
    return write_onnx_checked(
        model, Path(path), dict(info or {}, export_version=ONNX_EXPORT_VERSION), external_data=True
    )


# ---- MTCNN -------------------------------------------------------------------------------------------


def mtcnn_paths(models_dir: Path) -> dict[str, Path] | None:
    """The three checked MTCNN files, or None if any is missing. A corrupt one raises WeightsError."""
    found = {net: find_file(mtcnn_file_name(net), [models_dir]) for net in MTCNN_NETS}
    paths = {net: path for net, path in found.items() if path is not None}
    if len(paths) < len(found):
        return None
    for path in paths.values():
        verify_onnx(path)
    return paths


def missing_mtcnn_message(models_dir: Path) -> str:
    return (
        f"MTCNN's ONNX files ({', '.join(mtcnn_file_name(n) for n in MTCNN_NETS)}) are not in {models_dir}. "
        f"Run `{EXPORT_COMMAND}` once (it needs torch and facenet-pytorch, as in the full edition)."
    )


def export_mtcnn(models_dir: Path, force: bool = False) -> dict[str, Path]:
    """Export facenet-pytorch's P-, R- and O-Net to ONNX in `models_dir` (skipping good files unless forced)."""
    from importlib.metadata import version

    import torch
    from facenet_pytorch import MTCNN

    models_dir = Path(models_dir)
    mtcnn = MTCNN(device="cpu").eval()
    package = importlib.util.find_spec("facenet_pytorch")
    assert package is not None and package.origin is not None  # MTCNN was imported from it above
    weights_dir = Path(package.origin).parent / "data"
    paths = {}
    for net in MTCNN_NETS:
        path = models_dir / mtcnn_file_name(net)
        if not force and path.exists() and sidecar(path).exists():
            try:
                verify_onnx(path)
                paths[net] = path
                continue
            except WeightsError:
                log.warning("%s failed its checksum; exporting it again.", path)
        network = getattr(mtcnn, net)
        example = torch.zeros(_MTCNN_SHAPES[net])
        with torch.no_grad():
            outputs = [f"out{i}" for i in range(len(network(example)))]
        model = onnx_export_bytes(
            network, example, "x", outputs, {"x": _MTCNN_DYNAMIC[net], **{o: {0: "batch"} for o in outputs}}
        )
        source = weights_dir / f"{net}.pt"
        info = {
            "model": f"mtcnn-{net}",
            "source": f"facenet-pytorch=={version('facenet-pytorch')}:data/{net}.pt",
            "source_sha256": file_sha256(source) if source.exists() else None,
            "export_version": MTCNN_EXPORT_VERSION,
        }
        paths[net] = write_onnx_checked(model, path, info)
        log.info("Exported MTCNN's %s to %s", net, path)
    return paths


def ensure_mtcnn(models_dir: Path) -> dict[str, Path]:
    """The checked MTCNN files; when missing, exported now if torch is installed (with a warning),
    else a WeightsError telling the user to run the export command."""
    paths = mtcnn_paths(models_dir)
    if paths is not None:
        return paths
    if not torch_available():
        raise WeightsError(missing_mtcnn_message(models_dir))
    log.warning("%s Exporting them now with torch (this run only).", missing_mtcnn_message(models_dir))
    export_mtcnn(models_dir)
    return mtcnn_paths(models_dir) or {}
