"""The PostgreSQL driver, loaded on first use: a standalone station never imports psycopg (about 20 MB
of memory). The site modules use `psycopg` from here as they would the module itself.

The first use imports psycopg and the submodules site mode reaches through it, under a lock: threads
that get there at once (the background sync and a recognition loop) each see the whole module.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from types import ModuleType
from typing import Any

_SUBMODULES = ("conninfo", "errors", "sql")


class LazyDriver:
    """A module loaded at its first attribute access, once, whichever thread gets there first."""

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None
        self._lock = threading.Lock()

    def _load(self) -> ModuleType:
        with self._lock:
            if self._module is None:
                if importlib.util.find_spec(self._name) is None:  # standalone still works; site mode says why
                    raise ImportError(f"{self._name} is not installed; site mode needs it "
                                      "(pip install 'psycopg[binary]').")
                module = importlib.import_module(self._name)
                for submodule in _SUBMODULES:
                    importlib.import_module(f"{self._name}.{submodule}")
                self._module = module
            return self._module

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._module or self._load(), attribute)


psycopg: Any = LazyDriver("psycopg")
