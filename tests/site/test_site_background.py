"""Background sync on a kiosk: the PostgreSQL driver loads whole for threads that reach it at once, and
`rollcall recognize` sends queued events from its sync thread while it recognises (the thread never dies)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.kits.site_kit import server_counts, station, write_events
from tests.kits.cli import HAMILTON
from tests.kits.paths import REPO

THREADS = 8
RUNS = 3  # a fresh interpreter each: the first use is what races

RACE = f"""
import threading
from core.site.driver import psycopg
barrier, failures = threading.Barrier({THREADS}), []

def first_use():
    barrier.wait()
    try:
        psycopg.conninfo.conninfo_to_dict("host=x dbname=y")
        psycopg.errors.InsufficientPrivilege, psycopg.sql.Identifier("x"), psycopg.OperationalError
    except Exception as exc:
        failures.append(repr(exc))

threads = [threading.Thread(target=first_use) for _ in range({THREADS})]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(failures), failures[:1])
"""


def test_the_driver_loads_whole_for_threads_that_reach_it_at_once():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _ in range(RUNS):
        result = subprocess.run([sys.executable, "-c", RACE], cwd=REPO, env=env, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("0 "), result.stdout


@pytest.mark.slow
def test_recognize_on_a_kiosk_sends_queued_events_from_its_sync_thread(pg, default_weights, faces, tmp_path):
    cluster, url = pg
    admin = station(tmp_path / "admin")
    admin.init(url)
    home = tmp_path / "kiosk"
    kiosk = station(home)
    kiosk.join(url, "door")
    queued = len(write_events(kiosk.store, 20))
    kiosk.close()
    kiosk.store.close()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "core.app.cli", "--home", str(home), "recognize",
                             str(faces / HAMILTON), "--max-frames", "60"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "syncing with" in result.stderr and "in the background" in result.stderr
    assert "Exception in thread" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "Background sync round failed" not in result.stderr, result.stderr
    # the sync thread sent them while recognising: the final sync at the end had nothing left to send
    assert "[site] sent 0 events; 0 queued" in result.stderr, result.stderr
    with psycopg.connect(url) as conn:
        assert server_counts(conn, "door") == (queued, queued)
    admin.close()
