"""`Rollcall --self-test`: check that an installed (or source) Rollcall has everything it needs.

Each check prints one line, OK or FAIL, and the run returns 0 only when every check passed:
resources, the default embedder's weights (checksum; from the bundle when frozen), the engine on a
temporary gallery, the main window (a callable passed in by the GUI: this module never imports Qt),
MTCNN, detecting and embedding a face photo, enrolling it and recognising it again.

Everything is written to a temporary ROLLCALL_HOME that is removed afterwards; the user's data
and settings are never touched. When frozen, ROLLCALL_MODELS_DIR is ignored and the cache is empty,
so the weights must come from the bundle (no network is needed or used).

The face photo, in order: the `image` argument (`--image PATH`), ROLLCALL_SELFTEST_IMAGE, then the
bundled public-domain portrait resources/selftest/eileen_collins.jpg (provenance: resources/README.md),
so `--self-test` needs no arguments.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

IMAGE_ENV = "ROLLCALL_SELFTEST_IMAGE"
BUNDLED_IMAGE = ("selftest", "eileen_collins.jpg")  # under resources/: public domain, see resources/README.md
SELF_TEST_NAME = "Self Test"
WindowCheck = Callable[[object], str]  # (engine) -> detail; raises on failure


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def seconds_since_process_start() -> float | None:
    """Wall time since this process started (Linux /proc), or None where that is unknown."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(stat[19])  # field 22 of /proc/<pid>/stat; fields after "comm)" start at 3
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def find_image(explicit: str | os.PathLike | None = None) -> Path:
    """The face photo the self-test uses (see the module docstring for the order)."""
    from core.base.resources import resource_path

    if explicit:
        return Path(explicit)
    if os.environ.get(IMAGE_ENV):
        return Path(os.environ[IMAGE_ENV])
    return resource_path(*BUNDLED_IMAGE)


class SelfTest:
    def __init__(
        self, image: str | os.PathLike | None = None, window_check: WindowCheck | None = None, out: TextIO | None = None
    ):
        self.image_arg = image
        self.window_check = window_check
        self.out = out or sys.stdout
        self.results: list[CheckResult] = []
        self.state: dict[str, Any] = {}

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def check(self, name: str, fn: Callable[[], str], needs: tuple[str, ...] = ()) -> bool:
        missing = [n for n in needs if n not in self.state]
        start = time.perf_counter()
        if missing:
            ok, detail = False, f"not run: needs {', '.join(missing)}"
        else:
            try:
                ok, detail = True, fn()
            except Exception as exc:  # noqa: BLE001 - every failure is reported as FAIL, never a traceback
                ok, detail = False, f"{type(exc).__name__}: {exc}"
                if os.environ.get("ROLLCALL_SELFTEST_DEBUG"):
                    traceback.print_exc(file=self.out)
        seconds = time.perf_counter() - start
        self.results.append(CheckResult(name, ok, detail, seconds))
        self.say(f"{'OK  ' if ok else 'FAIL'}  {name:<16} {detail}  [{seconds:.1f} s]")
        return ok

    # ---- the run ----

    def run(self) -> int:
        started = time.perf_counter()
        from core.base.resources import app_root

        where = "bundle" if is_frozen() else "source checkout"
        self.say(f"Rollcall self-test: {where} at {app_root()} (Python {sys.version.split()[0]}, {sys.platform})")
        saved_env = {k: os.environ.get(k) for k in ("ROLLCALL_HOME", "ROLLCALL_MODELS_DIR")}
        home = Path(tempfile.mkdtemp(prefix="rollcall-selftest-"))
        try:
            self._isolate(home)
            self._run_checks()
        finally:
            engine = self.state.get("engine")
            if engine is not None:
                try:
                    engine.close()
                except Exception:  # noqa: BLE001
                    pass
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            shutil.rmtree(home, ignore_errors=True)
        failed = [r for r in self.results if not r.ok]
        total = time.perf_counter() - started
        if failed:
            self.say(
                f"Self-test FAILED: {len(failed)} of {len(self.results)} checks failed "
                f"({', '.join(r.name for r in failed)}) in {total:.1f} s"
            )
            return 1
        self.say(f"Self-test passed: {len(self.results)} checks OK in {total:.1f} s")
        return 0

    def _isolate(self, home: Path) -> None:
        """A temporary data folder. Frozen: an empty model cache, so only the bundle can supply weights.
        From source: the user's model cache (there is no bundle to fall back on, and no download)."""
        from core.base.settings import HOME_ENV, MODELS_ENV

        if is_frozen():
            os.environ[MODELS_ENV] = str(home / "empty-model-cache")
        os.environ[HOME_ENV] = str(home)

    def _run_checks(self) -> None:
        self.check("resources", self._check_resources)
        self.check("image", self._check_image)
        self.check("weights", self._check_weights)
        self.check("engine", self._check_engine, needs=("weights",))
        if self.window_check is not None:
            self.check("main window", self._check_window, needs=("engine",))
        self.check("MTCNN", self._check_mtcnn, needs=("engine",))
        self.check("embedder", self._check_embedder, needs=("engine",))
        self.check("detect + embed", self._check_detect_embed, needs=("image", "detector", "embedder"))
        self.check("enroll", self._check_enroll, needs=("image", "detector", "embedder"))
        self.check("recognise", self._check_recognise, needs=("enrolled",))

    # ---- checks ----

    def _check_resources(self) -> str:
        from core.base.resources import resource_path

        icons = resource_path("icons")
        svgs = sorted(icons.glob("*.svg")) if icons.is_dir() else []
        if not (icons / "rollcall.svg").exists():
            raise FileNotFoundError(f"{icons / 'rollcall.svg'} is missing")
        return f"{len(svgs)} icons in {icons}"

    def _check_image(self) -> str:
        from core.vision.images import load_image

        path = find_image(self.image_arg)
        if not path.is_file():
            raise FileNotFoundError(
                f"the face photo {path} is missing: pass --image PATH (any photo with "
                f"one clear face) or set {IMAGE_ENV}"
            )
        rgb = load_image(path)
        self.state["image"] = (path, rgb)
        return f"{path} ({rgb.shape[1]}x{rgb.shape[0]})"

    def _check_weights(self) -> str:
        from core.base.resources import bundled_models_dir
        from core.vision.models import DEFAULT_MODEL, ModelRegistry, verify_weights
        from core.vision.onnx_files import torch_available

        registry = ModelRegistry(allow_network=False)
        if not torch_available():  # the kiosk edition: FaceNet runs from its checked ONNX export
            return self._check_onnx_weights(registry)
        path = registry.ensure_weights(DEFAULT_MODEL)  # checks the sidecar's sha256
        digest = verify_weights(path)
        bundled = bundled_models_dir()
        from_bundle = bundled is not None and path.resolve().parent == bundled.resolve()
        if is_frozen() and not from_bundle:
            raise RuntimeError(f"{path} is not the bundled copy (bundle models: {bundled})")
        self.state["weights"] = path
        origin = "bundle" if from_bundle else "model cache"
        return f"{path.name} sha256 {digest[:12]}… verified, from the {origin} ({path.parent})"

    def _check_onnx_weights(self, registry) -> str:
        import json

        from core.base.resources import bundled_models_dir
        from core.vision.models import DEFAULT_MODEL
        from core.vision.onnx_files import missing_mtcnn_message, mtcnn_paths, onnx_path_for, sidecar, verify_onnx

        recorded = registry.find_cached(DEFAULT_MODEL) or registry.find_recorded(DEFAULT_MODEL)
        if recorded is None:
            raise FileNotFoundError(f"FaceNet's checksum record is not in {registry.cache_dir} or the bundle")
        onnx = onnx_path_for(recorded, json.loads(sidecar(recorded).read_text())["sha256"])
        if not onnx.exists():
            raise FileNotFoundError(f"FaceNet's ONNX export {onnx} is missing")
        if mtcnn_paths(registry.cache_dir) is None:  # (it checks the three files' sha256)
            raise FileNotFoundError(missing_mtcnn_message(registry.cache_dir))
        verify_onnx(onnx)
        bundled = bundled_models_dir()
        if is_frozen() and (bundled is None or onnx.resolve().parent != bundled.resolve()):
            raise RuntimeError(f"{onnx} is not the bundled copy (bundle models: {bundled})")
        self.state["weights"] = onnx
        return f"{onnx.name} and MTCNN's 3 ONNX files verified (sha256), from {onnx.parent}"

    def _check_engine(self) -> str:
        from core.app.engine import Engine
        from core.base.settings import Settings

        engine = Engine(Settings.load())
        self.state["engine"] = engine
        return f"gallery {engine.settings.database_path}, model {engine.active_model_id()}, {engine.device_description}"

    def _check_window(self) -> str:
        assert self.window_check is not None
        detail = self.window_check(self.state["engine"])
        age = seconds_since_process_start()
        if age is not None:
            detail += f"; usable {age:.1f} s after the process started"
        return detail

    def _check_mtcnn(self) -> str:
        import numpy as np

        engine = self.state["engine"]
        detector = engine.detector
        faces = detector.detect(np.zeros((120, 160, 3), np.uint8))  # runs P-, R- and O-Net paths once
        if faces:
            raise RuntimeError("found a face in a blank frame")
        self.state["detector"] = detector
        return f"P/R/O-Net loaded ({detector.backend})"

    def _check_embedder(self) -> str:
        import numpy as np

        from core.vision.images import DEFAULT_CROP_SIZE

        engine = self.state["engine"]
        embedder = engine.embedder()
        vector = embedder.embed([np.full((DEFAULT_CROP_SIZE, DEFAULT_CROP_SIZE, 3), 128, np.uint8)])
        if vector.shape != (1, embedder.dim) or not np.all(np.isfinite(vector)):
            raise RuntimeError(f"unexpected embedding {vector.shape}")
        self.state["embedder"] = embedder
        return f"{embedder.model_id}, {embedder.dim}-d ({getattr(embedder, 'backend', 'torch')})"

    def _check_detect_embed(self) -> str:
        import numpy as np

        from core.vision.detect import central_face

        path, rgb = self.state["image"]
        faces = self.state["detector"].detect(rgb)
        if not faces:
            raise RuntimeError(f"no face found in {path}")
        face = central_face(faces, rgb.shape) or max(faces, key=lambda f: f.prob)
        from core.vision.fused import member_vectors, model_input

        embedder = self.state["embedder"]
        vector = embedder.embed([model_input(embedder, rgb, face)])[0]
        for member, part in member_vectors(embedder, vector).items():  # a fused model: one unit vector each
            norm = float(np.linalg.norm(part))
            if abs(norm - 1.0) > 1e-3:
                raise RuntimeError(f"{member} embedding norm {norm:.4f}, expected 1")
        return f"{len(faces)} face(s), prob {face.prob:.3f}, {face.size_px} px; {len(vector)}-d unit vector"

    def _check_enroll(self) -> str:
        path, _ = self.state["image"]
        report = self.state["engine"].enroller().enroll_files(SELF_TEST_NAME, [path])
        if report.samples_added != 1:
            reasons = "; ".join(r.message for r in report.refused) or "; ".join(report.warnings)
            raise RuntimeError(f"expected 1 sample enrolled, got {report.samples_added} ({reasons})")
        self.state["enrolled"] = report.person_ids[SELF_TEST_NAME]
        return f"{SELF_TEST_NAME!r} enrolled from 1 photo in a temporary gallery"

    def _check_recognise(self) -> str:
        path, rgb = self.state["image"]
        engine = self.state["engine"]
        faces = engine.detector.detect(rgb)
        from core.vision.fused import model_input

        embedder = engine.embedder()
        results = engine.matcher().match(embedder.embed([model_input(embedder, rgb, f) for f in faces]))
        hits = [r for r in results if r.is_known and r.person_id == self.state["enrolled"]]
        if not hits:
            best = max((r.similarity for r in results), default=-1.0)
            raise RuntimeError(f"{SELF_TEST_NAME!r} not recognised (best similarity {best:.3f})")
        return f"recognised {hits[0].name!r} (similarity {hits[0].similarity:.3f})"


def run_self_test(
    image: str | os.PathLike | None = None, window_check: WindowCheck | None = None, out: TextIO | None = None
) -> int:
    """Run every check; 0 when all passed, 1 otherwise."""
    return SelfTest(image, window_check, out).run()
