"""The PostgreSQL driver, loaded on first use: a standalone station never imports psycopg (about 20 MB
of memory). The site modules use `psycopg` from here as they would the module itself."""

from __future__ import annotations

import importlib.util
import sys


class _Missing:
    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        raise ImportError(f"{self._name} is not installed; site mode needs it (pip install 'psycopg[binary]').")


def _lazy(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None:  # standalone still works; site mode says what is missing when it is used
        return _Missing(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)  # the real import happens at the first attribute access
    return module


psycopg = _lazy("psycopg")
