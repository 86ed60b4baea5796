"""The Engine's shift and roster operations: shift types, each group's default shift, dated assignments and
rotating rosters, and the roster view (person x day). Every change is audited and sent to a site's kiosks
in the HR book. Mixed into Engine through AttendanceOperations.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine_state import EngineState, T
from core.attendance.rosters import ShiftPlan, parse_pattern, roster_days
from core.attendance.schedule import make_schedule, month_key
from core.base.errors import InvalidInputError
from core.base.timekeeping import (
    OFF,
    AuditAction,
    HoursMode,
    RosterDay,
    Shift,
    ShiftAssignment,
    ShiftRotation,
)
from core.gallery.names import name_key

SCHEDULES = ChangeKind.SCHEDULES
MAX_ROSTER_DAYS = 366


class ShiftOperations(EngineState):
    """Shifts and rosters; uses AttendanceOperations' audit, lock and publish helpers."""

    if TYPE_CHECKING:

        def _refuse_locked(self, days: list[date], what: str) -> None: ...

        def _hr_done(self, value: T, changes: Changes) -> Outcome[T]: ...

        def _actor(self, actor: str | None) -> str: ...

    def shifts(self) -> list[Shift]:
        return self.store.list_shifts()

    def find_shift(self, name: str) -> Shift:
        return self.store.find_shift(name)

    def shift_assignments(self, person_id: int | None = None) -> list[ShiftAssignment]:
        """Dated assignments (of one person), oldest first."""
        return self.store.shift_assignments(person_id)

    def shift_rotations(self, person_id: int | None = None) -> list[ShiftRotation]:
        """Rotating rosters (of one person), oldest first."""
        return self.store.shift_rotations(person_id)

    def shift_plan(self) -> ShiftPlan:
        """Groups, shifts, assignments and rotations, ready for lookups by person and day."""
        store = self.store
        return ShiftPlan(
            {g.id: g for g in store.list_groups()},
            {s.id: s for s in store.list_shifts()},
            store.shift_assignments(),
            store.shift_rotations(),
            store.rule_history(),
        )

    def add_shift(
        self,
        name: str,
        start: str,
        end: str,
        days: str = "mon-fri",
        late_grace: int = 0,
        early_grace: int | None = None,
        checkin_before: int | None = None,
        checkout_after: int | None = None,
        half_day_below: float = 0.0,
        absent_below: float = 0.0,
        hours: HoursMode | str = HoursMode.FIRST_LAST,
        min_hours: float = 0.0,
        actor: str | None = None,
    ) -> Outcome[Shift]:
        """A shift type; checkin_before/checkout_after None = half the off-duty gap on either side."""
        self.site.require_hr_edit()
        schedule = make_schedule(
            start,
            end,
            late_grace,
            days,
            min_hours,
            early_grace,
            checkin_before,
            checkout_after,
            half_day_below,
            absent_below,
            hours,
        )
        with self.store.transaction():
            shift = self.store.add_shift(name, schedule)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.SHIFT_ADD,
                f"shift {shift.name}",
                "",
                {
                    "start": start,
                    "end": end,
                    "days": schedule.days_text(),
                    "late_grace": schedule.grace_minutes,
                    "early_grace": schedule.early_grace,
                    "checkin_before": checkin_before,
                    "checkout_after": checkout_after,
                    "half_day_below": half_day_below,
                    "absent_below": absent_below,
                    "hours": schedule.hours_mode.value,
                    "min_hours": min_hours,
                },
            )
        return self._hr_done(shift, Changes.of(SCHEDULES))

    def _refuse_locked_span(self, first: date, last: date | None, what: str) -> None:
        """An open-ended change touches every month from its first day on."""
        locked = [
            month
            for month in self.store.locked_months()
            if month >= month_key(first) and (last is None or month <= month_key(last))
        ]
        if locked:
            self._refuse_locked([date.fromisoformat(f"{month}-01") for month in locked], what)

    def assign_shift(
        self, person_id: int, shift_id: int | None, first: date, last: date | None = None, actor: str | None = None
    ) -> Outcome[ShiftAssignment]:
        """The person works this shift (None: is off) from first to last (None: until further notice), over
        their rotation and their group's shift. A roster cell is edited with first == last."""
        self.site.require_hr_edit()
        with self.store.transaction():
            person = self.store.get_person(person_id)
            shift = self.store.get_shift(shift_id).name if shift_id is not None else OFF
            self._refuse_locked_span(first, last, "assigning a shift")
            assignment = self.store.add_shift_assignment(person_id, shift_id, first, last)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.SHIFT_ASSIGN,
                f"person {person.id}",
                "",
                {
                    "assignment_id": assignment.id,
                    "shift": shift,
                    "from": first.isoformat(),
                    "to": last.isoformat() if last else None,
                },
                person_id=person.id,
            )
        return self._hr_done(assignment, Changes.of(SCHEDULES, person_ids=[person_id]))

    def rotate_shift(
        self, person_id: int, pattern: str, first: date, actor: str | None = None
    ) -> Outcome[ShiftRotation]:
        """A rotating roster: 'Day,Day,Night,Night,off,off' repeated from `first`."""
        self.site.require_hr_edit()
        shifts = {name_key(s.name): s for s in self.store.list_shifts()}
        ids = parse_pattern(pattern, shifts, name_key)
        names = {s.id: s.name for s in shifts.values()}
        with self.store.transaction():
            person = self.store.get_person(person_id)
            self._refuse_locked_span(first, None, "a rotation")
            rotation = self.store.add_shift_rotation(person_id, ids, first)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.SHIFT_ROTATE,
                f"person {person.id}",
                "",
                {
                    "rotation_id": rotation.id,
                    "pattern": ",".join(names[i] if i is not None else OFF for i in ids),
                    "from": first.isoformat(),
                },
                person_id=person.id,
            )
        return self._hr_done(rotation, Changes.of(SCHEDULES, person_ids=[person_id]))

    def roster(self, first: date, last: date, group: str | None = None) -> list[RosterDay]:
        """Who works which shift on each day from first to last: person x day, by name then day."""
        if last < first:
            raise InvalidInputError("The end date is before the start date.")
        if (last - first).days >= MAX_ROSTER_DAYS:
            raise InvalidInputError(f"A roster view spans at most {MAX_ROSTER_DAYS} days.")
        people = [p for p in self.store.roster() if p.end_day is None or p.end_day >= first]  # not leavers gone
        if group is not None:
            wanted = self.store.find_group(group).id
            people = [p for p in people if p.group_id == wanted]
        return roster_days(self.shift_plan(), people, first, last)
