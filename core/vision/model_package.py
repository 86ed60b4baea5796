"""A trained model as one file (`.rollcall-model`, a zip): its record and its ONNX export, so the kiosk
edition, which has no torch, can run a model the full edition trained.

Inside: `model.json` (the record and the package format) and the ONNX files under their own names
(`<id>.<sha16>.v<N>.onnx`, its `.data` weights and its checksum sidecar). The ONNX graph names its
weights file, so the names are kept as they are.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

from core.base.errors import InvalidInputError, WeightsError
from core.base.records import ModelRecord
from core.vision.onnx_files import data_file, sidecar, verify_onnx

PACKAGE_SUFFIX = ".rollcall-model"
PACKAGE_FORMAT = 1
_RECORD = "model.json"


def write_package(record: ModelRecord, onnx_path: Path, path: Path | str) -> Path:
    """Write `record` and its checked ONNX export to `path` (atomically)."""
    verify_onnx(onnx_path)
    path = Path(path)
    if path.suffix != PACKAGE_SUFFIX:
        path = path.with_name(path.name + PACKAGE_SUFFIX)
    files = [onnx_path, sidecar(onnx_path)] + ([data_file(onnx_path)] if data_file(onnx_path).exists() else [])
    meta = {
        "format": PACKAGE_FORMAT,
        "id": record.id,
        "name": record.name,
        "base": record.base,
        "parent_id": record.parent_id,
        "embedding_size": record.embedding_size,
        "created_at": record.created_at.isoformat(),
        "settings": record.settings,
        "metrics": record.metrics,
        "onnx": onnx_path.name,
    }
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        staged = Path(tmp.name)
    try:
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(_RECORD, json.dumps(meta, indent=2, default=str))
            for file in files:
                archive.write(file, file.name)
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)
    return path


def read_record(path: Path | str) -> tuple[ModelRecord, str]:
    """The package's model record (weights_path still empty) and its ONNX file name."""
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read(_RECORD))
    except FileNotFoundError:
        raise InvalidInputError(f"{path} does not exist.") from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise WeightsError(
            f"{path} is not a Rollcall model file ({exc}). Export one on the full edition with "
            "`rollcall models export MODEL -o FILE`."
        ) from None
    if meta.get("format") != PACKAGE_FORMAT:
        raise WeightsError(
            f"{path} is a model file of format {meta.get('format')}; this Rollcall reads format "
            f"{PACKAGE_FORMAT}. Update Rollcall, or export the model again."
        )
    record = ModelRecord(
        meta["id"],
        meta["name"],
        meta["base"],
        meta.get("parent_id"),
        int(meta["embedding_size"]),
        "",
        datetime.fromisoformat(meta["created_at"]),
        meta.get("settings", {}),
        meta.get("metrics", {}),
    )
    return record, meta["onnx"]


def install_files(path: Path | str, folder: Path) -> Path:
    """Unpack the package's ONNX files into `folder` and check them; returns the ONNX file."""
    record, onnx_name = read_record(path)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".import-") as tmp, zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n != _RECORD]
        if any("/" in n or n.startswith(".") for n in names) or onnx_name not in names:
            raise WeightsError(f"{path} holds unexpected files {names}; export the model again.")
        try:
            archive.extractall(tmp, names)
        except (zipfile.BadZipFile, OSError) as exc:  # a member's CRC fails: damaged in transit
            raise WeightsError(f"{path} is damaged ({exc}); export the model again.") from None
        verify_onnx(Path(tmp) / onnx_name)  # a damaged download never replaces a good file
        for name in names:
            os.replace(Path(tmp) / name, folder / name)
    return folder / onnx_name
