"""The Engine's count of who was present over days: the rules' attended days (manual punches included),
beside who a camera saw. Today, Sightings and the timesheet use this one count."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from core.app.engine_state import EngineState
from core.attendance.presence import Presence, present_people
from core.attendance.reports import range_report
from core.attendance.status import day_statuses
from core.base.errors import InvalidInputError

if TYPE_CHECKING:
    from datetime import datetime

    from core.attendance.status import AttendanceFacts

MAX_PRESENCE_DAYS = 366


class PresenceOperations(EngineState):
    """Mixed into Engine: uses its store and attendance rules."""

    if TYPE_CHECKING:  # AttendanceOperations'

        def attendance_facts(self, first: date, last: date) -> AttendanceFacts: ...

        def _moments(self) -> tuple[datetime, datetime]: ...

    def presence(self, first: date, last: date) -> Presence:
        """Who was present from `first` to `last` by the rules, and who of them a camera saw."""
        if last < first:
            raise InvalidInputError(f"The end date {last} is before the start date {first}.")
        if (last - first).days >= MAX_PRESENCE_DAYS:
            raise InvalidInputError(f"Count presence over at most {MAX_PRESENCE_DAYS} days.")
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        rows = day_statuses(self.attendance_facts(first, last), days, *self._moments())
        seen = frozenset(r.person_id for r in range_report(self.store, first, last))
        return Presence(first, last, present_people(rows), seen)
