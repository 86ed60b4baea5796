"""The lock-and-translate wrapper GalleryStore and its table mixins use for their methods."""

from __future__ import annotations

import functools
import sqlite3


def guarded(method):
    """Under the store's lock; sqlite errors become StoreError."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    return wrapper
