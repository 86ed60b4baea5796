"""One typed settings object, in sections, with defaults; saved as JSON in the user's config folder.

Where things live:
- ROLLCALL_HOME set: the data and settings.json live in that folder (tests use this).
- otherwise: data in platformdirs' user data dir, settings.json in the user config dir.
- models (shared by every data folder): ROLLCALL_MODELS_DIR, else the user cache dir (see models_dir).

Each section is a dataclass whose fields carry their default and unit (`_s`, `_px`, `_minutes`, ...).
The section *is* the options object of the stage that uses it (the recognizer reads
`RecognitionSettings`, the tracker `TrackingSettings`, ...), so there is one copy of every tunable.
Values are checked when a section is built: a wrong type or a negative number raises SettingsError
naming the key, so a bad settings.json is refused with a clear message instead of half-applied.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import math
import os
import typing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import platformdirs

from core.base.errors import SettingsError

log = logging.getLogger(__name__)

APP_NAME = "Rollcall"
HOME_ENV = "ROLLCALL_HOME"
MODELS_ENV = "ROLLCALL_MODELS_DIR"


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


def models_dir() -> Path:
    """Weights shared by every data folder: ROLLCALL_MODELS_DIR, else the user's cache folder for Rollcall.
    Never inside a data folder, so `--home` / ROLLCALL_HOME finds the installed model too."""
    env = os.environ.get(MODELS_ENV)
    default = Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "models"
    return _private_mkdir(Path(env).expanduser() if env else default)


class Device(enum.StrEnum):
    AUTO = "auto"  # CUDA, then Apple MPS, then the CPU
    CPU = "cpu"
    CUDA = "cuda"
    MPS = "mps"


class Backend(enum.StrEnum):
    """Which runtime runs a network on the CPU."""

    AUTO = "auto"  # ONNX Runtime when installed, else torch
    ONNX = "onnx"
    TORCH = "torch"


class Detector(enum.StrEnum):
    """Which network finds the faces (core.vision.detect)."""

    AUTO = "auto"  # MTCNN for now: liveness is calibrated on its landmarks (docs/performance.md)
    MTCNN = "mtcnn"
    YUNET = "yunet"


# ---- checking values ----


def type_name(expected: Any) -> str:
    if isinstance(expected, type) and issubclass(expected, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in expected)
    if typing.get_origin(expected) is tuple:
        return f"a list of {len(typing.get_args(expected))} numbers"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "text"}.get(
        expected, getattr(expected, "__name__", str(expected))
    )


def checked_value(key: str, value: Any, expected: Any) -> Any:
    """`value` as the field's type, or SettingsError naming the key, the value and the type wanted."""

    def refuse(extra: str = "") -> SettingsError:
        return SettingsError(f"Setting {key} = {json.dumps(value, default=str)} is not {type_name(expected)}{extra}.")

    if expected is bool:
        if not isinstance(value, bool):  # bool("false") is True: only JSON true/false count
            raise refuse()
        return value
    if expected in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise refuse()
        if expected is int and not isinstance(value, int):
            raise refuse()
        if not math.isfinite(value) or value < 0:
            raise refuse(" (it must be zero or more)")
        return expected(value)
    if expected is str:
        if not isinstance(value, str):
            raise refuse()
        return value
    if isinstance(expected, type) and issubclass(expected, enum.Enum):
        try:
            return expected(value)
        except ValueError:
            raise refuse() from None
    if typing.get_origin(expected) is tuple:
        items = typing.get_args(expected)
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            raise refuse()
        return tuple(checked_value(f"{key}[{i}]", v, t) for i, (v, t) in enumerate(zip(value, items)))
    raise TypeError(f"{key}: settings of type {expected!r} are not supported")


FIELD_TYPES_CACHE: dict[type, dict[str, Any]] = {}


def field_types(cls: type) -> dict[str, Any]:
    found = FIELD_TYPES_CACHE.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = FIELD_TYPES_CACHE[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return found


class _Section:
    """Base of every section: every value set is checked (and JSON lists/ints normalised), when the
    section is built and when a field is assigned later."""

    NAME: ClassVar[str] = ""

    def __setattr__(self, name: str, value: Any) -> None:
        expected = field_types(type(self)).get(name)
        if expected is not None:
            value = checked_value(f"{self.NAME}.{name}", value, expected)
        object.__setattr__(self, name, value)


# ---- the sections ----


@dataclass
class RecognitionSettings(_Section):
    """Matching and the live pipeline (core.live.recognize). Defaults chosen with benchmarks/realtime.py."""

    NAME: ClassVar[str] = "recognition"
    match_threshold: float = 0.55  # cosine similarity a face must reach to be anyone
    match_margin: float = 0.05  # the best person must beat the second-best by this much
    # Fused models set their threshold from the gallery itself, for this many strangers marked per 1,000
    # (core.gallery.calibration); match_threshold/match_margin are for a single FaceNet's cosines.
    strangers_per_1000: float = 10.0
    # The uncertain band (core.gallery.match.MatchDecision), in impostor standard deviations of the
    # model's own score (FaceNet cosine 0.148, the fused score 0.891): a best person scoring less than
    # `uncertain_below_std` under the threshold, with the margin met, is UNCERTAIN; so is an accepted
    # one whose lead over the second-best beats the margin by less than `uncertain_margin_std` (0 = off).
    # Uncertain counts as unknown, unless `ask_when_uncertain`: then the kiosk asks "Are you NAME?".
    uncertain_below_std: float = 0.5
    uncertain_margin_std: float = 0.0
    ask_when_uncertain: bool = False
    ask_timeout_s: float = 8.0  # no answer within this time counts as No
    # A face not recognised whose best template is a derived mask or glasses one is asked, once, to uncover
    # for this long before it may be logged as unknown (core.live.uncover); 0 = never ask.
    uncover_prompt_s: float = 4.0
    # A face whose best template is a derived one must reach the threshold calibrated on the derived templates
    # and at least this many impostor standard deviations above the photos' threshold (benchmarks/conditions.py:
    # 0.6 keeps every dev stranger out in every condition; docs/recognition.md "Masks and glasses").
    occluded_above_std: float = 0.6
    votes_to_mark: int = 3  # consistent recognitions before a person is marked
    min_vote_fraction: float = 0.6  # ... and they must be this share of a track's recent votes
    detect_every: int = 8  # run MTCNN on every Nth frame; the tracker predicts in between
    detect_every_pending: int = 1  # ... every Nth while a face big enough to identify is not settled yet
    # Idle back-off: once nobody has been detected for `idle_after_s`, MTCNN runs at most once per
    # `idle_detect_interval_s` (a face walking in is found within that time); 0 = off.
    idle_after_s: float = 3.0
    idle_detect_interval_s: float = 0.5
    detect_scale: float = 0.0  # run MTCNN on a frame scaled by this factor; 0 = auto (see detect_short_side_px)
    detect_short_side_px: int = 540  # auto scale: frames are shrunk until their short side is at most this
    detect_min_face_px: int = 40  # smallest face MTCNN looks for, in frame pixels at any scale
    # P-Net 0.8 instead of 0.6: ~40% fewer candidates for R-Net, no face lost on the Hamilton and
    # crowd clips (benchmarks/README.md); the R/O-Net thresholds are MTCNN's own.
    detect_thresholds: tuple[float, float, float] = (0.8, 0.7, 0.7)
    min_face_px: int = 40  # smaller faces are tracked but not identified
    pending_size_fraction: float = 0.75  # a face once big enough stays "pending" down to this share of min_face_px
    reid_interval_s: float = 2.0  # tracks settled on a person (or as unknown) are checked again this often
    # A track settled as unknown is checked sooner, `unknown_recheck_s` after its last check, once its
    # face looks `better_look` (a share) better than at any check so far: bigger, or turned more to the
    # camera (core.live.recognize.look_score). The same look again would only give the same answer.
    unknown_recheck_s: float = 0.5
    better_look: float = 0.15
    # ... and during a track's first `young_track_s`, while its best similarity is less than
    # `ambiguous_below` under the match threshold (a face still turning to the camera): at every
    # detection, with detection at the `detect_every_pending` rate.
    young_track_s: float = 1.0
    ambiguous_below: float = 0.15
    unknown_delay_s: float = 1.0  # a track must stay unknown this long before it is logged
    scene_cut_level: float = 20.0  # mean change of a 32x18 thumbnail (0-255) that counts as a new scene; 0 = off
    log_unknown: bool = True  # log each stranger once per track, with a snapshot
    unknown_min_prob: float = 0.97  # only confident detections are logged as unknown visitors
    # Freed heap memory goes back to the system this often during a run, in seconds of frame time
    # (core.live.memory; keeps a day-long run's RSS flat, benchmarks/soak.py); 0 = never.
    memory_trim_interval_s: float = 60.0


@dataclass
class TrackingSettings(_Section):
    """The IoU tracker (core.live.track)."""

    NAME: ClassVar[str] = "tracking"
    # 0.2 (not 0.3): with detection every few frames a bobbing head moves a third of its size.
    iou_threshold: float = 0.2
    max_age_s: float = 1.0  # a track unseen this long is dropped
    max_misses: int = 5  # ... or after this many detections in a row without it
    min_vote_window: int = 5  # recent votes kept per track (at least 2 * votes_to_mark - 1): short, to flip fast
    velocity_smoothing: float = 0.5  # weight of the newest velocity measurement


@dataclass
class EnrollmentSettings(_Section):
    """Quality gates for enrollment photos and frames (core.gallery.enroll), and camera capture."""

    NAME: ClassVar[str] = "enrollment"
    min_face_px: int = 60
    min_detection_prob: float = 0.95
    min_sharpness: float = 10.0  # variance of the Laplacian of the crop
    # With several faces, the central one is taken only if it is this much nearer the centre
    # (as a fraction of the image diagonal) than any other face.
    central_lead: float = 0.08
    lookalike_similarity: float = 0.65  # warn when a new face matches someone else at least this well ...
    lookalike_above_threshold: float = 0.1  # ... and at least this far above the match threshold
    capture_gap_s: float = 0.6  # between accepted camera samples, so they differ a little
    capture_samples: int = 5  # samples a camera capture takes by default
    # Each enrolled photo also gives a masked and a dark-glasses template drawn from its landmarks
    # (core.gallery.derived_samples; benchmarks/conditions.py measured it, docs/recognition.md).
    derived_templates: bool = True


@dataclass
class AttendanceSettings(_Section):
    """Who is marked when (core.attendance.book), and the HR rules' site settings (core.attendance.status)."""

    NAME: ClassVar[str] = "attendance"
    cooldown_minutes: float = 10.0  # no second event for a person within this time
    checkout_mode: bool = False  # also record the last sighting of the day as check-out
    sound_on_mark: bool = False
    time_zone: str = ""  # the site's IANA time zone (Europe/London); "" = this machine's zone
    history_days: int = 31  # the History view's span, ending today
    audit_rows_shown: int = 1000  # newest audit entries the Audit view lists (the CLI lists all)
    evidence_days: int = 62  # a marked event's face photo (its evidence) is kept this many days; 0 = keep

    @property
    def cooldown(self) -> timedelta:
        return timedelta(minutes=self.cooldown_minutes)


@dataclass
class LivenessSettings(_Section):
    """Liveness: the challenge (core.live.challenge), which stops photos and screens, and the passive
    photo filter (core.vision.liveness), a first filter that on its own accepts most printed photos."""

    NAME: ClassVar[str] = "liveness"
    # The passive photo filter: mark only faces whose landmarks do not move like a flat picture.
    photo_filter: bool = False  # alone, for everyone (without the challenge)
    window_frames: int = 15  # frames per motion measurement
    threshold: float = 0.8  # motion score a live face reaches (about 1 live, 0.7 for a photo)
    # The challenge: a recognised person turns their head as asked before being marked; the photo
    # filter runs with it as a first filter (passive_with_challenge). `rollcall recognize --liveness`.
    challenge: bool = False  # ask everyone recognised for a head movement
    challenge_steps: int = 2  # movements asked, in a random order, all different
    challenge_time_s: float = 6.0  # to complete all of them
    challenge_turn: float = 0.15  # nose movement against the eyes a turn needs (inter-ocular distances)
    challenge_lift: float = 0.08  # drop of the nose towards the eye line that looking up needs (share of eyes-to-mouth)
    challenge_parallax: float = 0.15  # nose off the plane of eyes and mouth a turn needs (inter-ocular distances)
    challenge_lift_parallax: float = 0.15  # ... and looking up needs
    challenge_hold: int = 2  # detections in a row a step must hold
    challenge_neutral_frames: int = 3  # detections whose median landmarks are the neutral pose
    challenge_min_face_px: int = 60  # smaller faces are not judged (landmark noise)
    challenge_retry_s: float = 3.0  # pause after a failed challenge before the next one
    challenge_once_per_day: bool = True  # a person who passed today is not asked again today
    passive_with_challenge: bool = True  # also require the photo filter during a challenge


@dataclass
class SecuritySettings(_Section):
    """The optional admin PIN (gui.admin)."""

    NAME: ClassVar[str] = "security"
    admin_pin_hash: str = ""  # salted scrypt hash (core.base.security); empty = no PIN
    pin_tries: int = 5  # wrong PINs in a row before a pause
    lockout_s: float = 30.0  # the pause after too many wrong PINs
    unlock_minutes: float = 5.0  # minutes without a click or key press before the guard locks again


@dataclass
class StorageSettings(_Section):
    NAME: ClassVar[str] = "storage"
    data_dir: str = ""  # empty = home_dir()
    retention_days: int = 0  # events and unknown-face snapshots older than this are purged; 0 = keep
    backups_kept: int = 7  # one automatic backup a day, this many kept
    checkpoint_minutes: float = 60.0  # the station signs its chain's head at least this often (and after a sync)


@dataclass
class ComputeSettings(_Section):
    NAME: ClassVar[str] = "compute"
    device: Device = Device.AUTO
    torch_threads: int = 0  # 0 = let Rollcall choose
    embed_backend: Backend = Backend.AUTO  # the embedder on the CPU
    detect_backend: Backend = Backend.AUTO  # MTCNN's networks on the CPU
    detector: Detector = Detector.AUTO  # the face detector: MTCNN, or YuNet (a third of its cost; no liveness yet)
    # ONNX Runtime loads a copy of each network already optimised for this CPU, made on first use in
    # the models folder's `tuned/` (core.vision.tuned_onnx): faster per face, same memory.
    tune_for_cpu: bool = True
    active_model: str = "facenet-keras-128+sface"  # FaceNet fused with SFace; used until the gallery records its own


@dataclass
class CameraSettings(_Section):
    NAME: ClassVar[str] = "camera"
    index: int = 0  # the webcam the source picker starts from
    width_px: int = 640
    height_px: int = 480
    last_source: str = ""  # last source used: camera index, file, URL or folder ("" = none yet)
    demo_video: str = ""  # the demo clip offered without a webcam ("" = the bundled one)


@dataclass
class SiteSettings(_Section):
    """Site mode (core.site). The server address and password live in the data folder's 0600
    credentials file, never here."""

    NAME: ClassVar[str] = "site"
    sync_interval_s: float = 10.0  # background push-and-pull; a gallery notification wakes it earlier
    upload_batch: int = 1000  # events per server transaction
    connect_timeout_s: int = 5  # give up on an unreachable server after this long
    statement_timeout_s: float = 60.0  # a server statement running longer is cancelled
    listen: bool = True  # LISTEN for gallery changes (a version check still decides)
    model_part_mib: int = 4  # a trained model's package travels through the server in parts of this size
    # Server-enforced per station (the admin station writes them to the server): a busy door's hour is about
    # 3,600 sightings and 30 MiB with faces (docs/site.md, "Limits"); beyond these a station's uploads wait.
    station_rows_per_hour: int = 20_000
    station_mib_per_hour: int = 128
    clock_skew_s: float = 900.0  # a station's event this far ahead of the server's clock (or before it joined)
    pending_reach_days: float = 7.0  # one station holds the site's absences pending at most this far back


@dataclass
class ReviewSettings(_Section):
    """Unknown visitors grouped for review (core.gallery.unknowns, the Review panel, `rollcall unknowns`)."""

    NAME: ClassVar[str] = "review"
    # Two unknown faces join a group when their average score reaches the active model's pair threshold
    # (its floor, 3.55 impostor standard deviations above the impostor mean) plus this many impostor stds.
    group_above_floor_stds: float = 0.0
    enroll_samples: int = 5  # a group's best faces (by quality) enrolled or added to a person
    days_shown: int = 7  # the default span of days listed, ending today


SECTIONS: dict[str, type[_Section]] = {
    cls.NAME: cls
    for cls in (
        RecognitionSettings,
        TrackingSettings,
        EnrollmentSettings,
        AttendanceSettings,
        LivenessSettings,
        SecuritySettings,
        StorageSettings,
        ComputeSettings,
        CameraSettings,
        SiteSettings,
        ReviewSettings,
    )
}

# The flat settings.json of earlier versions: old key -> (section, field).
FLAT_KEYS: dict[str, tuple[str, str]] = {
    "match_threshold": ("recognition", "match_threshold"),
    "match_margin": ("recognition", "match_margin"),
    "votes_to_mark": ("recognition", "votes_to_mark"),
    "cooldown_minutes": ("attendance", "cooldown_minutes"),
    "checkout_mode": ("attendance", "checkout_mode"),
    "sound_on_mark": ("attendance", "sound_on_mark"),
    "require_liveness": ("liveness", "photo_filter"),
    "min_face_px": ("enrollment", "min_face_px"),
    "min_detection_prob": ("enrollment", "min_detection_prob"),
    "min_sharpness": ("enrollment", "min_sharpness"),
    "device": ("compute", "device"),
    "torch_threads": ("compute", "torch_threads"),
    "active_model": ("compute", "active_model"),
    "camera_index": ("camera", "index"),
    "camera_width": ("camera", "width_px"),
    "camera_height": ("camera", "height_px"),
    "source": ("camera", "last_source"),
    "data_dir": ("storage", "data_dir"),
    "retention_days": ("storage", "retention_days"),
    "backups_kept": ("storage", "backups_kept"),
    "admin_pin_hash": ("security", "admin_pin_hash"),
}
FLAT_EXTRA_KEYS: dict[str, tuple[str, str]] = {"embed_backend": ("compute", "embed_backend")}
# Keys renamed inside a section: (section, old key) -> new key.
RENAMED_KEYS: dict[tuple[str, str], str] = {
    ("liveness", "enabled"): "photo_filter",  # it was only ever the passive filter, never the challenge
}


@dataclass
class Settings:
    """Everything a user or admin can change, in sections."""

    recognition: RecognitionSettings = field(default_factory=RecognitionSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    enrollment: EnrollmentSettings = field(default_factory=EnrollmentSettings)
    attendance: AttendanceSettings = field(default_factory=AttendanceSettings)
    liveness: LivenessSettings = field(default_factory=LivenessSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    compute: ComputeSettings = field(default_factory=ComputeSettings)
    camera: CameraSettings = field(default_factory=CameraSettings)
    site: SiteSettings = field(default_factory=SiteSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)

    def __post_init__(self) -> None:
        for name, cls in SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise SettingsError(f"Settings section {name} must be a {cls.__name__}.")

    @property
    def data_path(self) -> Path:
        data_dir = self.storage.data_dir
        return _private_mkdir(Path(data_dir).expanduser()) if data_dir else home_dir()

    @property
    def database_path(self) -> Path:
        return self.data_path / "rollcall.db"

    @property
    def backups_path(self) -> Path:
        return _private_mkdir(self.data_path / "backups")

    @classmethod
    def file_path(cls) -> Path:
        return config_dir() / "settings.json"

    # ---- reading and writing ----

    @classmethod
    def from_dict(cls, raw: dict) -> Settings:
        """Settings from parsed JSON: sections, or the flat format of earlier versions.

        Raises SettingsError for a value of the wrong type; unknown keys are logged and ignored.
        """
        if not isinstance(raw, dict):
            raise SettingsError("The settings must be a JSON object with one entry per section.")
        values: dict[str, dict] = {name: {} for name in SECTIONS}
        migrated: dict[str, dict] = {name: {} for name in SECTIONS}
        for key, value in raw.items():
            if key in SECTIONS:
                if not isinstance(value, dict):
                    raise SettingsError(f"Settings section {key} must be a JSON object, not {json.dumps(value)}.")
                values[key].update({RENAMED_KEYS.get((key, k), k): v for k, v in value.items()})
            elif key in FLAT_KEYS:
                section, name = FLAT_KEYS[key]
                migrated[section][name] = value
            elif key == "extra" and isinstance(value, dict):
                for extra_key, extra_value in value.items():
                    if extra_key in FLAT_EXTRA_KEYS:
                        section, name = FLAT_EXTRA_KEYS[extra_key]
                        migrated[section][name] = extra_value
                    else:
                        log.warning("Ignoring the unknown setting extra.%s.", extra_key)
            else:
                log.warning("Ignoring the unknown setting %s.", key)
        sections: dict[str, Any] = {}
        for name, section_cls in SECTIONS.items():
            known = {f.name for f in dataclasses.fields(section_cls)}  # type: ignore[arg-type]
            merged = {**migrated[name], **values[name]}  # a sectioned value wins over an old flat one
            for unknown in sorted(set(merged) - known):
                log.warning("Ignoring the unknown setting %s.%s.", name, unknown)
            sections[name] = section_cls(**{k: v for k, v in merged.items() if k in known})
        return cls(**sections)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """The saved settings, or the defaults when there is no file yet.

        A file that cannot be read or holds a wrong value raises SettingsError (never silently the
        defaults: saving them later would throw away the admin PIN and the calibrated thresholds).
        """
        path = path or cls.file_path()
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsError(
                f"The settings file {path} cannot be read ({exc}). Fix it, or move it aside "
                "to start from the default settings."
            ) from exc
        try:
            return cls.from_dict(raw)
        except SettingsError as exc:
            raise SettingsError(f"{path}: {exc} Fix it, or delete that line to use the default.") from None

    def save(self, path: Path | None = None) -> Path:
        path = path or self.file_path()
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a crash never leaves half a file
        return path
