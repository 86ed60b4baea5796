"""The CPU inference threads: OMP_NUM_THREADS caps them when set, else the cores this process may use
(at most MAX_DEFAULT_THREADS); a nonsense value is ignored."""

from __future__ import annotations

import pytest

from core.vision.runtime import MAX_DEFAULT_THREADS, available_cores, default_threads


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("3", 3), (" 2 ", 2)])
def test_omp_num_threads_sets_the_default(monkeypatch, value, expected):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert default_threads() == expected


@pytest.mark.parametrize("value", ["", "0", "-2", "four", "2.5"])
def test_otherwise_the_cores_this_process_may_use(monkeypatch, value):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert default_threads() == min(MAX_DEFAULT_THREADS, available_cores())
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert default_threads() == min(MAX_DEFAULT_THREADS, available_cores())
