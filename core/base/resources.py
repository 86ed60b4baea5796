"""One way to find bundled files, from a source checkout and from the PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def app_root() -> Path:
    """The folder holding `resources/`: the bundle's _MEIPASS when frozen, else the checkout."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    return Path(frozen_root) if frozen_root else Path(__file__).resolve().parents[2]


def resource_path(*parts: str) -> Path:
    return app_root().joinpath("resources", *parts)


def bundled_models_dir() -> Path | None:
    """Weights shipped with the installer (resources/models), if present."""
    folder = resource_path("models")
    return folder if folder.is_dir() else None
