"""Errors a user can act on. Each message says what went wrong and what to do."""

from __future__ import annotations

import enum


class RollcallError(Exception):
    """Base class: the message is meant for the user, not a traceback."""


class ImageError(RollcallError):
    """An image file that cannot be read (corrupt, truncated, not an image, too large)."""


class WeightsError(RollcallError):
    """A model weights file that is missing, truncated, tampered with or unreadable."""


class ModelNotFoundError(RollcallError):
    """A model name or id the registry does not know."""


class SourceError(RollcallError):
    """A camera, video file, URL or folder that cannot be opened or stopped delivering frames."""


class SettingsError(RollcallError):
    """A settings file or value that cannot be used (wrong type, unreadable file); nothing was changed."""


class RefusalReason(enum.StrEnum):
    """Why a photo or frame was not enrolled."""

    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    TOO_SMALL = "too_small"
    LOW_CONFIDENCE = "low_confidence"
    BLURRED = "blurred"
    UNREADABLE = "unreadable"
    DUPLICATE = "duplicate"
    REFUSED = "refused"  # any other reason


class EnrollmentError(RollcallError):
    """A photo or frame refused for enrollment; `reason` says why."""

    def __init__(self, message: str, reason: RefusalReason = RefusalReason.REFUSED):
        super().__init__(message)
        self.reason = RefusalReason(reason)


class DuplicateNameError(RollcallError):
    """A person with this name is already enrolled."""

    def __init__(self, message: str, existing_id: int | None = None):
        super().__init__(message)
        self.existing_id = existing_id


class DuplicateExternalIdError(RollcallError):
    """Another person already has this external ID (employee or student number)."""

    def __init__(self, message: str, external_id: str, existing_id: int):
        super().__init__(message)
        self.external_id = external_id
        self.existing_id = existing_id


class PersonNotFoundError(RollcallError):
    """No enrolled person matches the given id or name."""


class StoreProblem(enum.StrEnum):
    """What kind of trouble a StoreError is."""

    DAMAGED = "damaged"  # corrupt file: a backup can be restored
    NOT_ROLLCALL = "not_rollcall"  # an SQLite file (or not even that) that is not Rollcall's
    NEWER_SCHEMA = "newer_schema"  # written by a newer Rollcall
    CANNOT_OPEN = "cannot_open"
    LOCKED = "locked"  # busy in another program
    DISK_FULL = "disk_full"
    READ_ONLY = "read_only"
    NO_BACKUP = "no_backup"
    WRITE_FAILED = "write_failed"  # any other failed change (nothing was changed)

    @property
    def restore_helps(self) -> bool:
        """True when restoring a backup is the fix."""
        return self in (StoreProblem.DAMAGED, StoreProblem.NOT_ROLLCALL)


class StoreError(RollcallError):
    """The database cannot be opened, is corrupt, or a write failed (nothing was changed); see `kind`."""

    def __init__(self, message: str, kind: StoreProblem = StoreProblem.WRITE_FAILED):
        super().__init__(message)
        self.kind = StoreProblem(kind)


class Cancelled(RollcallError):
    """A long job stopped because the user asked it to."""


class FullEditionOnly(RollcallError):
    """A feature whose libraries the kiosk edition leaves out (training, grouping unknown visitors, eval)."""


class InvalidInputError(RollcallError, ValueError):
    """A value typed by the user (a name, an id, a date) that cannot be accepted as it is."""


class MonthLockedError(RollcallError):
    """A change inside a month whose timesheet is final; an admin must unlock the month first."""

    def __init__(self, message: str, months: tuple[str, ...] = ()):
        super().__init__(message)
        self.months = months
