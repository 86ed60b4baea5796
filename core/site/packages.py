"""Trained models' files between stations and the server: the `.rollcall-model` package, in parts.

The admin station uploads a package (header and every part) in one transaction, replacing an older
upload of the same model; a kiosk reads one in one REPEATABLE READ snapshot, checks its sha256 and
size against the header, and only then hands the file over to be installed. This module knows
nothing of ONNX or models folders: the Engine fills in ModelFiles.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

from core.base.errors import Cancelled
from core.site.connection import SiteError, SiteProblem
from core.site.driver import psycopg
from core.site.schema import GALLERY_CHANNEL
from core.vision.images import file_sha256

MIB = 1024 * 1024


@dataclass(frozen=True)
class ModelFiles:
    """What a station does with model files (filled in by the Engine, which knows the models folder)."""

    shared: Callable[[], list[str]]  # local models whose files travel: trained or imported, not built-in
    onnx: Callable[[str], Path | None]  # a model's ONNX file when it is here, else None
    write_package: Callable[[str, Path], Path]  # the model's `.rollcall-model` written to a path
    install: Callable[[str, Path], Path]  # a checked package for that model id installed; its ONNX file


@dataclass(frozen=True)
class PackageHeader:
    model_id: str
    onnx_name: str  # the ONNX file the package holds (names its checksum and export version)
    sha256: str  # of the whole package file
    size_bytes: int
    parts: int


@dataclass(frozen=True)
class DownloadProgress:
    model_id: str
    done_bytes: int
    total_bytes: int


def headers(conn: psycopg.Connection, model_ids: list[str] | None = None) -> dict[str, PackageHeader]:
    """The packages on the server (of `model_ids` only, when given)."""
    where, params = ("WHERE model_id = ANY(%s)", [model_ids]) if model_ids is not None else ("", [])
    with conn.transaction():
        rows = conn.execute(f"SELECT model_id, onnx_name, sha256, size, parts FROM model_packages {where}",
                            params).fetchall()
    return {r[0]: PackageHeader(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows}


def upload(conn: psycopg.Connection, model_id: str, onnx_name: str, package: Path, part_bytes: int) -> PackageHeader:
    """Put a package on the server in one transaction (an older upload of the model is replaced)."""
    header = PackageHeader(model_id, onnx_name, file_sha256(package), package.stat().st_size,
                           -(-package.stat().st_size // part_bytes))
    with conn.transaction():
        conn.execute("DELETE FROM model_packages WHERE model_id = %s", [model_id])  # its parts go with it
        conn.execute("INSERT INTO model_packages (model_id, onnx_name, sha256, size, parts) VALUES"
                     " (%s, %s, %s, %s, %s)", [model_id, onnx_name, header.sha256, header.size_bytes, header.parts])
        with open(package, "rb") as handle, conn.cursor() as cursor:
            for part, data in enumerate(iter(lambda: handle.read(part_bytes), b"")):
                cursor.execute("INSERT INTO model_package_parts (model_id, part, data) VALUES (%s, %s, %s)",
                               [model_id, part, data])
        version = conn.execute("SELECT gallery_version FROM site_meta").fetchone()[0]
        conn.execute("SELECT pg_notify(%s, %s)", [GALLERY_CHANNEL, str(version)])  # kiosks fetch it now
    return header


def damaged(model_id: str, what: str) -> SiteError:
    return SiteError(f"The site server's copy of model {model_id} is damaged ({what}); nothing was installed. "
                     "Activate or import the model again on the admin station to upload it again.",
                     SiteProblem.MODEL_FILES)


def download(conn: psycopg.Connection, model_id: str, folder: Path, cancel: Callable[[], bool] | None = None
             ) -> Generator[DownloadProgress, None, Path]:
    """The model's package as a checked temporary file in `folder` (the caller deletes it).

    One read-only snapshot: an upload running meanwhile is seen whole or not at all. A damaged copy is a
    SiteError naming the model; a lost connection or a cancel leaves no file behind."""
    with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{model_id}.", suffix=".download", delete=False) as tmp:
        path = Path(tmp.name)
    try:
        with conn.transaction(), open(path, "wb") as handle:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            row = conn.execute("SELECT onnx_name, sha256, size, parts FROM model_packages WHERE model_id = %s",
                               [model_id]).fetchone()
            if row is None:
                raise SiteError(f"The site server has no files for model {model_id} yet; they arrive once the "
                                "admin station uploads them.", SiteProblem.MODEL_FILES)
            header = PackageHeader(model_id, row[0], row[1], int(row[2]), int(row[3]))
            digest, done = hashlib.sha256(), 0
            yield DownloadProgress(model_id, 0, header.size_bytes)
            parts = [r[0] for r in conn.execute("SELECT part FROM model_package_parts WHERE model_id = %s"
                                                " ORDER BY part", [model_id])]
            if parts != list(range(header.parts)):
                raise damaged(model_id, f"{len(parts)} of {header.parts} parts")
            for part in parts:
                if cancel and cancel():
                    raise Cancelled(f"Sync stopped while model {model_id} was downloading; the next sync "
                                    "fetches it again.")
                data = bytes(conn.execute("SELECT data FROM model_package_parts WHERE model_id = %s AND part = %s",
                                          [model_id, part], binary=True).fetchone()[0])
                digest.update(data)
                handle.write(data)
                done += len(data)
                yield DownloadProgress(model_id, done, header.size_bytes)
            handle.flush()
            os.fsync(handle.fileno())
        if done != header.size_bytes:
            raise damaged(model_id, f"{done} bytes where the header says {header.size_bytes}")
        if digest.hexdigest() != header.sha256:
            raise damaged(model_id, "its sha256 does not match")
        return path
    except BaseException:
        path.unlink(missing_ok=True)
        raise
