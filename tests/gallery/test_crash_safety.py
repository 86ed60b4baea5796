"""SIGKILL at random moments during enrollment, attendance writes and re-embedding, 60 times:
the database always passes integrity_check and keeps every write reported as committed."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.gallery.store import GalleryStore
from tests.kits.paths import REPO

WORKER = REPO / "tests" / "kits" / "crash_worker.py"
KILLS_PER_MODE = 20


def run_and_kill(mode: str, db: Path, delay: float) -> list[str]:
    proc = subprocess.Popen([sys.executable, str(WORKER), mode, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    lines = out.splitlines()
    return lines[:-1] if out and not out.endswith("\n") else lines  # a half-printed last line does not count


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["enroll", "attendance", "reembed"])
def test_random_kills_lose_nothing_committed(tmp_path, mode):
    db = tmp_path / "gallery.db"
    rng = random.Random(7)
    reported: list[str] = []
    for _ in range(KILLS_PER_MODE):
        reported += run_and_kill(mode, db, rng.uniform(0.05, 0.6))
        with GalleryStore(db) as store:
            assert store.integrity_check() == []
            if mode == "enroll":
                ids = {p.id for p in store.list_people()}
                for line in reported:
                    assert int(line.split()[1]) in ids
                for pid in ids:
                    assert store.count_samples(pid) == 3, "a person is saved whole or not at all"
                assert store.samples_without_embedding("crash-model") == []
            elif mode == "attendance":
                ids = {e.id for e in store.events()}
                missing = [line for line in reported if int(line.split()[1]) not in ids]
                assert missing == [], f"events reported as recorded were lost: {missing[:5]}"
            else:
                vectors = store.gallery("crash-model").vectors
                assert len(np.unique(vectors[:, 0])) == 1, "never a half-re-embedded gallery"
                if reported:
                    assert vectors[0, 0] >= float(reported[-1].split()[1])
    assert len(reported) > KILLS_PER_MODE, "the worker got real work done between kills"
