"""Background sync: sync rounds on a thread, woken early by the server's gallery NOTIFY."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from typing import Protocol

from core.base.errors import Cancelled
from core.base.settings import SiteSettings
from core.site.connection import Credentials, SiteError, SiteProblem, connect
from core.site.driver import psycopg
from core.site.records import SyncProgress, SyncReport
from core.site.schema import GALLERY_CHANNEL

log = logging.getLogger(__name__)


class Syncs(Protocol):
    """What background sync needs of a station's site link (core.site.service.Site)."""

    settings: SiteSettings

    def credentials(self) -> Credentials: ...

    def sync(self, cancel: Callable[[], bool] | None = None) -> Generator[SyncProgress, None, SyncReport]: ...


class BackgroundSync:
    """Sync rounds on a thread every `sync_interval_s`, woken early by a gallery NOTIFY.

    Failures (server down) are reported to `on_result` and retried next round; nothing is lost,
    the events stay in the local outbox.
    """

    def __init__(self, site: Syncs, on_result: Callable[[SyncReport | SiteError], None]):
        self.site, self.on_result = site, on_result
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rollcall-site-sync", daemon=True)
        self._listener: psycopg.Connection | None = None

    def start(self) -> BackgroundSync:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._thread.join(timeout if timeout is not None else self.site.settings.connect_timeout_s + 5)

    def _round(self) -> None:
        try:
            generator = self.site.sync(cancel=self._stop.is_set)
            while True:
                next(generator)
        except StopIteration as done:
            self.on_result(done.value)
        except Cancelled:
            pass
        except SiteError as exc:
            self.on_result(exc)
        except Exception as exc:
            log.exception("Background sync round failed")
            self.on_result(SiteError(f"Sync failed: {exc}", SiteProblem.UNREACHABLE))

    def _wait(self) -> None:
        """Sleep until the next round, or until the server announces a new gallery version."""
        deadline = self.site.settings.sync_interval_s
        slice_s = min(1.0, max(deadline, 0.05))
        waited = 0.0
        while waited < deadline and not self._stop.is_set():
            if self._listen_once(slice_s):
                return
            waited += slice_s

    def _listen_once(self, timeout: float) -> bool:
        if not self.site.settings.listen:
            self._stop.wait(timeout)
            return False
        try:
            if self._listener is None or self._listener.closed:
                self._listener = connect(self.site.credentials(), self.site.settings, autocommit=True)
                self._listener.execute(f"LISTEN {GALLERY_CHANNEL}")
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                return True
            return False
        except Exception as exc:  # noqa: BLE001 - listening is an optimisation; the thread must live on
            if not isinstance(exc, psycopg.Error | SiteError):
                log.warning("Listening for gallery changes failed: %r", exc)
            if self._listener is not None:
                self._listener.close()
            self._listener = None
            self._stop.wait(timeout)
            return False

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._round()
                self._wait()
        finally:
            if self._listener is not None:
                self._listener.close()
