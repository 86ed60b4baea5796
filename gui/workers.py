"""Run a core function or generator off the GUI thread (modelled on napari's thread workers).

    worker = Worker(enroller.import_tree, root)      # a generator: each yielded value is progress
    worker.progress.connect(show_progress)
    worker.returned.connect(show_report)            # the function's return value
    worker.failed.connect(show_error)               # a message the user can act on
    worker.finished.connect(cleanup)                # always last, after returned/failed/cancelled
    worker.start()
    ...
    worker.stop()                                   # cancel, then join the thread

Cancellation is cooperative: if the function takes a `cancel` parameter it gets `event.is_set`;
if it takes `cancel_event` it gets the threading.Event itself (for sources that wait on it).
A generator is also stopped between yields. Every worker started is kept alive until its thread
has finished, and `stop_all()` stops and joins every one (the main window calls it on close).
"""

from __future__ import annotations

import inspect
import logging
import threading
import weakref
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal

from core.base.errors import Cancelled, RollcallError

log = logging.getLogger(__name__)

_running: set["Worker"] = set()  # strong references while a thread runs
_created: "weakref.WeakSet[Worker]" = weakref.WeakSet()


def user_message(exc: BaseException) -> str:
    """The text shown to the user: a RollcallError's own message, otherwise a short summary."""
    if isinstance(exc, RollcallError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Out of memory. Close other programs or use smaller images, then try again."
    if isinstance(exc, OSError):
        return f"A file or device could not be used: {exc}. Check the path and permissions, then try again."
    return f"Unexpected error ({type(exc).__name__}: {exc}). Details were written to the log file."


class _Thread(QThread):
    def __init__(self, worker: "Worker"):
        super().__init__()
        self._worker = worker

    def run(self) -> None:
        self._worker._run()


class Worker(QObject):
    progress = Signal(object)  # each value a generator yields
    returned = Signal(object)  # the function's (or generator's) return value
    failed = Signal(str)  # a user-facing message
    errored = Signal(object)  # the exception itself, for callers that handle some kinds (e.g. DuplicateNameError)
    cancelled = Signal()
    finished = Signal()  # always emitted last

    def __init__(self, function: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any):
        super().__init__()
        self.name = name or getattr(function, "__name__", "worker")
        self.cancel_event = threading.Event()
        self._function = function
        self._args = args
        self._kwargs = self._with_cancel(function, kwargs)
        self._thread = _Thread(self)
        self._thread.setObjectName(self.name)
        self._thread.finished.connect(self._forget)
        self.started = False
        _created.add(self)

    def _with_cancel(self, function: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            return kwargs
        kwargs = dict(kwargs)
        if "cancel" in params and "cancel" not in kwargs:
            kwargs["cancel"] = self.cancel_event.is_set
        if "cancel_event" in params and "cancel_event" not in kwargs:
            kwargs["cancel_event"] = self.cancel_event
        return kwargs

    # ---- control (GUI thread) ----

    @property
    def thread(self) -> QThread:
        return self._thread

    def start(self) -> "Worker":
        self.started = True
        _running.add(self)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the job to stop; it ends at its next check."""
        self.cancel_event.set()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    @property
    def is_cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def stop(self, timeout_ms: int = 10_000) -> bool:
        """Cancel and join the thread; True when it has finished."""
        self.cancel()
        if not self.started:
            return True
        if self._thread.wait(timeout_ms):
            return True
        log.warning("Worker %s did not stop within %d ms.", self.name, timeout_ms)
        return False

    def _forget(self) -> None:
        _running.discard(self)

    # ---- the worker thread ----

    def _run(self) -> None:
        try:
            result = self._function(*self._args, **self._kwargs)
            if inspect.isgenerator(result):
                result = self._drain(result)
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.returned.emit(result)
        except Cancelled:
            self.cancelled.emit()
        except BaseException as exc:  # shown to the user, never a console traceback
            if isinstance(exc, RollcallError):
                log.info("%s failed: %s", self.name, exc)
            else:
                log.exception("%s failed", self.name)
            self.errored.emit(exc)
            self.failed.emit(user_message(exc))
        finally:
            self.finished.emit()

    def _drain(self, generator) -> Any:
        try:
            while True:
                if self.cancel_event.is_set():
                    generator.close()
                    return None
                value = next(generator)
                self.progress.emit(value)
        except StopIteration as stop:
            return stop.value


def live_workers() -> list[Worker]:
    """Workers whose thread is still running."""
    return [w for w in list(_running) if w.is_running()]


def all_workers() -> list[Worker]:
    """Every worker created and not yet garbage-collected (tests check they all finished)."""
    return list(_created)


def stop_all(timeout_ms: int = 10_000) -> bool:
    """Cancel every running worker, then join them all; True when none is left running."""
    workers = list(_running)
    for worker in workers:
        worker.cancel()
    return all([worker.stop(timeout_ms) for worker in workers])
