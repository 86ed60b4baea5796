"""Read a source on a helper thread and keep only its newest frame (live recognition never lags behind)."""

from __future__ import annotations

import logging
import threading

from core.live.frames import Frame, FrameSource

log = logging.getLogger(__name__)


class LatestFrameGrabber:
    """Reads a source on a helper thread and keeps only the newest frame (stale ones are dropped).

    get(timeout) returns the newest frame not yet returned, or None on timeout or when the source
    ended. An error in the source (e.g. SourceError after failed reconnects) is raised from get().
    close() stops and joins the thread; it does not close the source.
    """

    def __init__(self, source: FrameSource, *, join_timeout_s: float = 5.0):
        self.source = source
        self.dropped = 0  # frames replaced before anyone took them
        self._join_timeout_s = join_timeout_s
        self._condition = threading.Condition()
        self._latest: Frame | None = None
        self._error: BaseException | None = None
        self._ended = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"grab {source.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and not self.source.stopped:
                frame = self.source.read()
                if frame is None:
                    break
                with self._condition:
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = frame
                    self._condition.notify_all()
        except BaseException as exc:  # handed to the consumer in get()
            self._error = exc
        finally:
            with self._condition:
                self._ended = True
                self._condition.notify_all()

    @property
    def ended(self) -> bool:
        """True once the source has no more frames (or failed) and the newest frame was taken."""
        with self._condition:
            return self._ended and self._latest is None

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

    def get(self, timeout: float | None = None) -> Frame | None:
        with self._condition:
            self._condition.wait_for(lambda: self._latest is not None or self._ended, timeout)
            frame, self._latest = self._latest, None
            if frame is None and self._error is not None:
                error, self._error = self._error, None
                raise error
            return frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join(self._join_timeout_s)
        if self._thread.is_alive():
            log.warning("Frame reader for %s did not stop within %.1f s.", self.source.name, self._join_timeout_s)

    def __enter__(self) -> LatestFrameGrabber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
