"""Where the tests find the repository, the shared face data and the cached models."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FACES = REPO.parent / "shared" / "data" / "faces"
MODELS_CACHE = REPO / ".cache" / "models"
MODELS_LOCK = REPO / ".cache" / "models.lock"


def dev_people() -> list[Path]:
    return sorted(p for p in (FACES / "dev").iterdir() if p.is_dir())


def dev_photos(person: Path) -> list[Path]:
    return sorted(person.glob("*.jpg"))
