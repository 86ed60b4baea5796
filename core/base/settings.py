"""One typed settings object with defaults, saved as JSON in the user's config folder.

Where things live:
- ROLLCALL_HOME set: data, models and settings.json all live in that folder (tests use this).
- otherwise: data and models in platformdirs' user data dir, settings.json in the user config dir.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

APP_NAME = "Rollcall"
HOME_ENV = "ROLLCALL_HOME"


def _private_mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path, 0o700)  # biometric data: owner only
    except OSError:
        pass
    return path


def home_dir() -> Path:
    """The data folder: ROLLCALL_HOME, or the platform's user data dir."""
    env = os.environ.get(HOME_ENV)
    path = Path(env).expanduser() if env else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return _private_mkdir(path)


def config_dir() -> Path:
    env = os.environ.get(HOME_ENV)
    path = Path(env).expanduser() if env else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    return _private_mkdir(path)


MODELS_ENV = "ROLLCALL_MODELS_DIR"


def models_dir(home: Path | None = None) -> Path:
    """Cached weights: ROLLCALL_MODELS_DIR, else <data folder>/models."""
    env = os.environ.get(MODELS_ENV)
    return _private_mkdir(Path(env).expanduser() if env else (home or home_dir()) / "models")


@dataclass
class Settings:
    """Everything a user or admin can change. Unknown keys in the file are ignored."""

    # matching
    match_threshold: float = 0.55  # cosine similarity a face must reach to be anyone
    match_margin: float = 0.05  # best person must beat the second-best by this much
    strangers_per_1000: float = 10.0  # target: strangers marked as someone, per 1,000; sets the threshold
    # attendance
    cooldown_minutes: float = 10.0  # no second event for a person within this time
    checkout_mode: bool = False  # also record the last sighting of the day as check-out
    votes_to_mark: int = 3  # consistent frames before a person is marked
    require_liveness: bool = False  # mark only faces that move like a live face (refuses a held-up photo)
    # enrollment quality gates
    min_face_px: int = 60
    min_detection_prob: float = 0.95
    min_sharpness: float = 10.0
    # compute
    device: str = "auto"  # auto, cpu, cuda, mps
    torch_threads: int = 0  # 0 = let Rollcall choose
    active_model: str = "facenet-keras-128+sface"  # FaceNet fused with SFace
    # camera
    camera_index: int = 0
    camera_width: int = 640
    camera_height: int = 480
    source: str = ""  # last source used: camera index, file, URL or folder
    # data
    data_dir: str = ""  # empty = home_dir()
    retention_days: int = 0  # events and unknown-face snapshots older than this are purged; 0 = keep
    backups_kept: int = 7  # one automatic backup a day, this many kept
    admin_pin_hash: str = ""  # salted scrypt hash (core.base.security); empty = no PIN
    sound_on_mark: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def data_path(self) -> Path:
        return _private_mkdir(Path(self.data_dir).expanduser()) if self.data_dir else home_dir()

    @property
    def database_path(self) -> Path:
        return self.data_path / "rollcall.db"

    @property
    def backups_path(self) -> Path:
        return _private_mkdir(self.data_path / "backups")

    @classmethod
    def file_path(cls) -> Path:
        return config_dir() / "settings.json"

    @classmethod
    def load(cls, path: Path | None = None) -> "Settings":
        path = path or cls.file_path()
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("Settings file %s is unreadable (%s); using defaults.", path, exc)
            return cls()
        known = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, value in raw.items():
            if key not in known:
                continue
            default = getattr(cls(), key)
            if isinstance(default, bool):
                value = bool(value)
            elif isinstance(default, (int, float)) and not isinstance(value, (int, float)):
                log.warning("Setting %s=%r is not a number; using the default.", key, value)
                continue
            elif isinstance(default, int) and not isinstance(default, bool):
                value = int(value)
            values[key] = value
        return cls(**values)

    def save(self, path: Path | None = None) -> Path:
        path = path or self.file_path()
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a crash never leaves half a file
        return path
