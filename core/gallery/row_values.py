"""Values the store writes into its rows: local times and new UUIDs."""

from __future__ import annotations

import uuid
from datetime import datetime


def now() -> datetime:
    return datetime.now().astimezone()


def aware(moment: datetime) -> datetime:
    """Naive datetimes are taken as local time."""
    return moment if moment.tzinfo is not None else moment.astimezone()


def new_uuid() -> str:
    return str(uuid.uuid4())
