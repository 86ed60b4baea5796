"""gui.workers.Job (superqt GeneratorWorker): functions and generators off the GUI thread, progress, cancel,
errors, stopping."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("pytestqt")

from core.base.errors import Cancelled, SourceError  # noqa: E402
from gui import workers  # noqa: E402
from gui.workers import Job  # noqa: E402


def collect(worker: Job) -> dict:
    seen: dict = {"progress": [], "returned": [], "failed": [], "errored": [], "cancelled": 0, "order": []}
    worker.yielded.connect(lambda v: seen["progress"].append(v))
    worker.returned.connect(lambda v: (seen["returned"].append(v), seen["order"].append("returned")))
    worker.failed.connect(lambda m: (seen["failed"].append(m), seen["order"].append("failed")))
    worker.errored.connect(lambda e: seen["errored"].append(e))
    worker.aborted.connect(
        lambda: (seen.__setitem__("cancelled", seen["cancelled"] + 1), seen["order"].append("cancelled"))
    )
    worker.finished.connect(lambda: seen["order"].append("finished"))
    return seen


def run(qtbot, worker: Job) -> dict:
    seen = collect(worker)
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    assert worker.stop(5000)
    return seen


def test_function_result_arrives_on_gui_thread(qtbot):
    main = threading.get_ident()
    ran_on: list[int] = []

    def add(a, b):
        ran_on.append(threading.get_ident())
        return a + b

    worker = Job(add, 2, 3)
    seen = collect(worker)
    delivered_on: list[int] = []
    worker.returned.connect(lambda _: delivered_on.append(threading.get_ident()))
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    assert seen["returned"] == [5] and seen["order"] == ["returned", "finished"]
    assert ran_on[0] != main and delivered_on == [main]
    assert worker.has_ended()


def test_generator_progress_and_return_value(qtbot):
    def count(n):
        yield from range(n)
        return "done"

    seen = run(qtbot, Job(count, 4))
    assert seen["progress"] == [0, 1, 2, 3]
    assert seen["returned"] == ["done"]


def test_cancel_reaches_the_function(qtbot):
    started = threading.Event()

    def wait_for_cancel(cancel):
        started.set()
        while not cancel():
            time.sleep(0.01)
        raise Cancelled("stopped")

    worker = Job(wait_for_cancel)
    seen = collect(worker)
    worker.start()
    assert started.wait(5)
    assert worker.stop(5000)
    qtbot.waitUntil(lambda: "finished" in seen["order"], timeout=5000)
    assert seen["cancelled"] == 1 and not seen["failed"] and not seen["returned"]


def test_cancel_event_and_generator_closed(qtbot):
    closed = threading.Event()

    def frames(cancel_event):
        try:
            while True:
                yield 1
                cancel_event.wait(0.01)
        finally:
            closed.set()

    worker = Job(frames)
    seen = collect(worker)
    worker.start()
    qtbot.waitUntil(lambda: len(seen["progress"]) >= 3, timeout=5000)
    assert worker.stop(5000)
    assert closed.is_set()
    qtbot.waitUntil(lambda: "finished" in seen["order"], timeout=5000)
    assert seen["cancelled"] == 1


def test_rollcall_error_message_is_passed_on(qtbot):
    def broken():
        raise SourceError("No camera at index 3. Connect a webcam or choose a video file.")

    seen = run(qtbot, Job(broken))
    assert seen["failed"] == ["No camera at index 3. Connect a webcam or choose a video file."]
    assert isinstance(seen["errored"][0], SourceError)
    assert seen["order"] == ["failed", "finished"]


def test_unexpected_error_becomes_a_short_message(qtbot, caplog):
    def broken():
        raise ZeroDivisionError("division by zero")

    seen = run(qtbot, Job(broken))
    assert seen["failed"][0].startswith("Unexpected error (ZeroDivisionError")
    assert "Traceback" not in seen["failed"][0]
    assert any("broken failed" in r.getMessage() for r in caplog.records)


def test_stop_all_joins_every_running_worker(qtbot):
    def spin(cancel):
        while not cancel():
            time.sleep(0.01)

    started = [Job(spin).start() for _ in range(3)]
    qtbot.waitUntil(lambda: all(w.is_running for w in started), timeout=5000)
    assert workers.stop_all(5000)
    assert all(w.has_ended() for w in started)
    assert not workers.live_jobs()


def test_a_runtime_error_is_reported_too(qtbot):
    """superqt alone drops a RuntimeError (it takes it for a deleted worker); the user must still hear of it."""

    def broken():
        raise RuntimeError("CUDA out of memory")

    seen = run(qtbot, Job(broken))
    assert seen["failed"] == [
        "Unexpected error (RuntimeError: CUDA out of memory). Details were written to the log file."
    ]
    assert seen["order"] == ["failed", "finished"] and not seen["returned"]


def test_a_plain_function_runs_on_the_worker_thread_only(qtbot):
    ran_on: list[str] = []
    job = Job(lambda: ran_on.append(threading.current_thread().name))
    assert ran_on == []  # creating the job runs nothing
    run(qtbot, job)
    assert ran_on and ran_on[0] != threading.main_thread().name
