"""Errors a user can act on. Each message says what went wrong and what to do."""

from __future__ import annotations


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


class EnrollmentError(RollcallError):
    """A photo or frame refused for enrollment; `reason` is a short machine-readable code."""

    def __init__(self, message: str, reason: str = "refused"):
        super().__init__(message)
        self.reason = reason


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


class StoreError(RollcallError):
    """The database cannot be opened, is corrupt, or a write failed (nothing was changed)."""


class Cancelled(RollcallError):
    """A long job stopped because the user asked it to."""


class InvalidInputError(RollcallError, ValueError):
    """A value typed by the user (a name, an id, a date) that cannot be accepted as it is."""
