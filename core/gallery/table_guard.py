"""The lock-and-translate wrapper every table mixin of GalleryStore uses for its methods."""

from __future__ import annotations

import functools
import sqlite3


def guarded(method):
    """Under the store's lock; sqlite errors become StoreError (as GalleryStore's own methods)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    return wrapper
