"""ONNX files already optimised by ONNX Runtime for this CPU, kept in the models folder.

ONNX Runtime's full optimisation (ORT_ENABLE_ALL) rewrites convolutions into its blocked layout: about
a third faster per face on this CPU, but done at load it copies every convolution's weights (more
memory, a slower start). Saved once, with the weights in a `.data` file ONNX Runtime maps, the next
start loads the rewritten graph as it is: the speed without the copy.

A tuned copy fits one CPU and one ONNX Runtime version (ONNX Runtime says so when it writes one), so
its name carries both, with the checksums of the file it came from (which is verified at every load).
Its sidecar records its sha256s, checked once written, and its size and time of change, checked at
every load; a copy that fails that check, or that ONNX Runtime cannot load, is made again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import tempfile
from pathlib import Path

from core.base.errors import WeightsError
from core.vision.images import file_sha256
from core.vision.onnx_files import data_file, sidecar

log = logging.getLogger(__name__)

TUNED_FOLDER = "tuned"  # inside the models folder
TUNED_RECIPE = 2  # bump when how a copy is made changes: old copies are then ignored


@functools.cache
def cpu_fingerprint() -> str:
    """What ONNX Runtime's kernels depend on: the CPU's model and instruction-set flags."""
    parts = [platform.machine(), platform.processor()]
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "model name", "Features")):  # Features: ARM
                parts.append(line)
                if line.startswith(("flags", "Features")):
                    break
    except OSError:
        pass
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def source_checksums(path: Path) -> str:
    """The recorded sha256s of a verified ONNX file (and of its weights file), else computed."""
    try:
        meta = json.loads(sidecar(path).read_text())
        return f"{meta['sha256']}:{meta.get('data_sha256', '')}"
    except (OSError, ValueError, KeyError):
        data = data_file(path)
        return f"{file_sha256(path)}:{file_sha256(data) if data.exists() else ''}"


def tuned_path(source: Path, folder: Path) -> Path:
    import onnxruntime as ort

    key = hashlib.sha256(
        f"{source_checksums(source)}|{ort.__version__}|{cpu_fingerprint()}|{TUNED_RECIPE}".encode()
    ).hexdigest()[:16]
    stem = Path(source).name.removesuffix(".onnx")
    return Path(folder) / f"{stem}.tuned-{key}.onnx"


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _check(path: Path, full: bool = False) -> bool:
    """The copy and its weights are as written: the same size and time of change as its sidecar recorded
    (a cache of a file checked at every load, like Python's .pyc), or with full, the same sha256s."""
    try:
        meta = json.loads(sidecar(path).read_text())
        if full:
            return file_sha256(path) == meta["sha256"] and file_sha256(data_file(path)) == meta["data_sha256"]
        return _stamp(path) == meta["stamp"] and _stamp(data_file(path)) == meta["data_stamp"]
    except (OSError, ValueError, KeyError):
        return False


def _write(source: Path, target: Path) -> None:
    """Let ONNX Runtime optimise `source` fully and save the result as `target` (+ .data, + sidecar)."""
    import onnxruntime as ort

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        staged = Path(tmp) / target.name
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(staged)
        options.add_session_config_entry(
            "session.optimized_model_external_initializers_file_name", data_file(staged).name
        )
        options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
        options.log_severity_level = 3  # it warns that the copy fits this CPU only: that is the point
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        if not data_file(staged).exists():  # a graph without large weights: an empty weights file
            data_file(staged).write_bytes(b"")
        meta = {
            "source": Path(source).name,
            "source_checksums": source_checksums(source),
            "onnxruntime": ort.__version__,
            "cpu": cpu_fingerprint(),
            "recipe": TUNED_RECIPE,
            "sha256": file_sha256(staged),
            "data_sha256": file_sha256(data_file(staged)),
        }
        os.replace(data_file(staged), data_file(target))
        os.replace(staged, target)
        meta.update(stamp=_stamp(target), data_stamp=_stamp(data_file(target)))
        # The sidecar goes last: a copy without one is never used.
        staged_meta = Path(tmp) / sidecar(target).name
        staged_meta.write_text(json.dumps(meta, indent=2))
        os.replace(staged_meta, sidecar(target))


def remove(path: Path) -> None:
    for part in (sidecar(path), path, data_file(path)):
        part.unlink(missing_ok=True)


def tuned_copy(source: Path, folder: Path) -> Path:
    """The checked tuned copy of a (verified) ONNX file in `folder`, made now if missing or damaged
    (older copies of the same file, for another ONNX Runtime or CPU, are deleted then).
    Raises OSError when it cannot be written, or ONNX Runtime's error when it cannot optimise the file."""
    target = tuned_path(source, folder)
    if target.exists() and _check(target):
        return target
    if sidecar(target).exists():
        log.warning("The tuned copy %s is damaged; making it again.", target.name)
    stem = target.name.split(".tuned-")[0]
    for old in Path(folder).glob(f"{stem}.tuned-*.onnx"):
        remove(old)
    remove(target)
    _write(Path(source), target)
    if not _check(target, full=True):
        remove(target)
        raise WeightsError(f"The tuned copy {target} did not read back as written; check the disk.")
    return target
