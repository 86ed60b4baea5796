"""How a long job (recognition, import, re-embedding, training) learns that the user asked it to stop."""

from __future__ import annotations

from collections.abc import Callable

CancelCheck = Callable[[], bool]  # polled between steps; True = stop (the job raises Cancelled)
