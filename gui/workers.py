"""Run a core function or generator off the GUI thread, on superqt's GeneratorWorker (napari's thread workers).

    job = Job(engine.import_folder, root)   # a generator: each yielded value arrives on `yielded`
    job.yielded.connect(show_progress)
    job.returned.connect(show_report)       # the return value
    job.failed.connect(show_error)          # a message the user can act on (errored: the exception)
    job.aborted.connect(say_cancelled)      # cancelled, by quit() or by the job raising Cancelled
    job.finished.connect(cleanup)           # always last
    job.start()
    ...
    job.stop()                              # cancel, then wait until the job has ended

Cancellation is cooperative: a function that takes `cancel` gets `cancel_event.is_set`, one that
takes `cancel_event` gets the threading.Event itself (for sources that wait on it), and a generator
is stopped (and closed, on the worker thread) between yields. `stop_all()` stops and waits for
every job (the main window calls it on close).
"""

from __future__ import annotations

import inspect
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThreadPool, Signal
from superqt.utils import GeneratorWorker
from superqt.utils._qthreading import GeneratorWorkerSignals

from core.base.errors import Cancelled, RollcallError

log = logging.getLogger(__name__)

# Jobs such as recognition run for hours, so the pool must not be sized to the CPU count (2 here):
# recognition, a People refresh and a training run must all be able to run at once.
MIN_POOL_THREADS = 16
STOP_TIMEOUT_MS = 10_000

_created: weakref.WeakSet[Job] = weakref.WeakSet()


def user_message(exc: BaseException) -> str:
    """The text shown to the user: a RollcallError's own message, otherwise a short summary."""
    if isinstance(exc, RollcallError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Out of memory. Close other programs or use smaller images, then try again."
    if isinstance(exc, OSError):
        return f"A file or device could not be used: {exc}. Check the path and permissions, then try again."
    return f"Unexpected error ({type(exc).__name__}: {exc}). Details were written to the log file."


class JobSignals(GeneratorWorkerSignals):
    failed = Signal(str)  # user_message(exception), emitted just after `errored`


class _JobRuntimeError(Exception):
    """Carries a RuntimeError past superqt, which takes any RuntimeError for a deleted worker and drops it
    (with no `errored` and no `finished`)."""

    def __init__(self, error: RuntimeError):
        super().__init__(str(error))
        self.error = error


def _run(function: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """The job's body as a generator, so that even a plain function runs only on the worker thread."""
    try:
        result = function(*args, **kwargs)
        if inspect.isgenerator(result):
            result = yield from result
        return result
    except RuntimeError as exc:
        raise _JobRuntimeError(exc) from exc


class Job(GeneratorWorker):
    def __init__(self, function: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any):
        self.name = name or getattr(function, "__name__", "job")
        self.cancel_event = threading.Event()
        self._ended = threading.Event()
        self.started_once = False
        super().__init__(_run, function, args, self._with_cancel(function, kwargs), SignalsClass=JobSignals)
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

    def start(self) -> Job:
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(max(pool.maxThreadCount(), MIN_POOL_THREADS))
        self.started_once = True
        super().start()
        return self

    def quit(self) -> None:
        """Ask the job to stop; it ends at its next check."""
        self.cancel_event.set()
        super().quit()

    cancel = quit

    @property
    def is_cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def has_ended(self) -> bool:
        """True once the job was started and its body has returned (or never started)."""
        return not self.started_once or self._ended.is_set()

    def stop(self, timeout_ms: int = STOP_TIMEOUT_MS) -> bool:
        """Cancel and wait for the job to end; True when it has."""
        self.quit()
        if not self.started_once:
            return True
        if self._ended.wait(timeout_ms / 1000):
            return True
        log.warning("Job %s did not stop within %d ms.", self.name, timeout_ms)
        return False

    # ---- the worker thread ----

    def work(self) -> Any:
        try:
            result = super().work()
            if self.abort_requested and not isinstance(result, BaseException):
                self._gen.close()  # stopped between yields: run its `finally` here, on the worker thread
            return result
        except Cancelled:
            self.cancel_event.set()
            self._abort_requested = True  # superqt then emits no `returned`
            self.aborted.emit()
            return None
        except Exception as raised:  # shown to the user, never a console traceback
            exc = raised.error if isinstance(raised, _JobRuntimeError) else raised
            if isinstance(exc, RollcallError):
                log.info("%s failed: %s", self.name, exc)
            else:
                log.exception("%s failed", self.name)
            self._abort_requested = True  # superqt then emits no `returned`
            self.errored.emit(exc)
            self.failed.emit(user_message(exc))
            return None
        finally:
            self._ended.set()


class LatestRead:
    """A panel's read in a worker, never two at once: asked for while one runs, it runs again (reading what
    is current then) as soon as that one ends. `again` starts the read anew (the panel's refresh)."""

    def __init__(self, again: Callable[[], None]):
        self.job: Job | None = None
        self._again = again
        self._stale = False

    def busy(self) -> bool:
        return self.job is not None

    def may_start(self) -> bool:
        """True when a read may start now; otherwise it is remembered for when the running one ends."""
        self._stale = self.job is not None
        return not self._stale

    def start(self, job: Job, returned: Callable[[Any], None], failed: Callable[[str], None]) -> None:
        self.job = job
        job.returned.connect(returned)
        job.failed.connect(failed)
        job.finished.connect(self._finished)
        job.start()

    def _finished(self) -> None:
        self.job = None
        if self._stale:
            self._again()


class ListsInBackground:
    """A panel whose list is read by a LatestRead (`listing`) and which runs one action at a time (`job`)."""

    listing: LatestRead
    job: Job | None

    def is_refreshing(self) -> bool:
        return self.listing.busy()

    @property
    def listing_job(self) -> Job | None:
        return self.listing.job

    def _on_job_finished(self) -> None:
        self.job = None
        self._update_buttons()

    def _update_buttons(self) -> None:
        """Enable what the selection and the running job allow (each panel says how)."""

    def stop(self) -> None:
        for job in (self.job, self.listing.job):
            if job is not None:
                job.stop()


def live_jobs() -> list[Job]:
    """Jobs started and not yet ended."""
    return [job for job in list(_created) if not job.has_ended()]


def all_jobs() -> list[Job]:
    """Every job created and not yet garbage-collected (tests check they all ended)."""
    return list(_created)


def stop_all(timeout_ms: int = STOP_TIMEOUT_MS) -> bool:
    """Cancel every running job, then wait for them all; True when none is left running."""
    jobs = live_jobs()
    for job in jobs:
        job.quit()
    stopped = all([job.stop(timeout_ms) for job in jobs])
    return stopped and QThreadPool.globalInstance().waitForDone(timeout_ms)
