"""Engine operations for changes that apply from a day: a group's default shift and schedule, a shift type's
rules, a person's group; and renaming or removing groups and shift types.

A change applies from a day (default: today at the site), never silently to the past. A change that would
alter a locked month is refused, naming the month. A group's very first default shift and a person's very
first group alter no earlier day that counted (nobody was in the group; the person had no group), so they
apply from the day after the last locked month (from the start when nothing is locked).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine_state import EngineState, T
from core.attendance.schedule import make_schedule, month_days, month_key, parse_month
from core.base.errors import MonthLockedError
from core.base.records import Person
from core.base.timekeeping import AuditAction, Group, HoursMode, Shift

SCHEDULES = ChangeKind.SCHEDULES
BEGINNING = date.min


class DatedOperations(EngineState):
    """Mixed into Engine; uses AttendanceOperations' audit, lock and publish helpers."""

    if TYPE_CHECKING:

        def _hr_done(self, value: T, changes: Changes) -> Outcome[T]: ...

        def _actor(self, actor: str | None) -> str: ...

    def refuse_locked_from(self, first: date, last: date | None, what: str) -> None:
        """Refuse a change to the days first..last (None: from first on) that touches a locked month."""
        locked = [
            month
            for month in self.store.locked_months()
            if month >= month_key(first) and (last is None or month <= month_key(last))
        ]
        if locked:
            raise MonthLockedError(
                f"{', '.join(locked)} is locked (its timesheet is final), so {what} is refused. Make the change "
                f"from a day after {locked[-1]}, or unlock the month first, giving a reason.",
                tuple(locked),
            )

    def after_last_lock(self) -> date:
        """The first day after the latest locked month (BEGINNING when none is locked)."""
        locked = self.store.locked_months()
        return month_days(parse_month(locked[-1]))[-1] + timedelta(days=1) if locked else BEGINNING

    def _effective(self, from_day: date | None, first_ever: bool) -> date:
        if from_day is not None:
            return from_day
        return self.after_last_lock() if first_ever else self.site_today()

    def set_group_shift(
        self, group_id: int, shift_id: int | None, actor: str | None = None, from_day: date | None = None
    ) -> Outcome[Group]:
        """A group's default shift (None: the group's own schedule) from a day (default today)."""
        self.site.require_hr_edit()
        with self.store.transaction():
            unused = not self.store.group_changed_from(group_id) and not any(
                entry.group_id == group_id for entry in self.store.roster(include_inactive=True)
            )
            first = self._effective(from_day, unused)
            self.refuse_locked_from(first, None, "changing the group's default shift")
            group = self.store.set_group_rules_from(group_id, first, shift_id)
            shift = self.store.get_shift(shift_id).name if shift_id is not None else None
            self.store.append_audit(
                self._actor(actor),
                AuditAction.GROUP_SHIFT,
                f"group {group.name}",
                "",
                {"shift": shift} | _from(first),
            )
        return self._hr_done(group, Changes.of(SCHEDULES))

    def edit_group(
        self,
        group_id: int,
        *,
        name: str | None = None,
        start: str | None = None,
        end: str | None = None,
        grace_minutes: int | None = None,
        days: str | None = None,
        min_hours: float | None = None,
        from_day: date | None = None,
        actor: str | None = None,
    ) -> Outcome[Group]:
        """Rename a group, and/or change its own schedule from a day (default today)."""
        self.site.require_hr_edit()
        with self.store.transaction():
            group = self.store.get_group(group_id)
            details: dict = {}
            if name is not None and name.strip() != group.name:
                details["renamed_from"] = group.name
                group = self.store.rename_group(group_id, name)
            if any(value is not None for value in (start, end, grace_minutes, days, min_hours)):
                old = group.schedule
                schedule = make_schedule(
                    start or f"{old.start:%H:%M}",
                    end or f"{old.end:%H:%M}",
                    old.grace_minutes if grace_minutes is None else grace_minutes,
                    days or old.days_text(),
                    old.min_hours if min_hours is None else min_hours,
                )
                first = from_day or self.site_today()
                self.refuse_locked_from(first, None, "changing the group's schedule")
                group = self.store.set_group_rules_from(group_id, first, None, schedule)
                details |= {
                    "from": first.isoformat(),
                    "start": f"{schedule.start:%H:%M}",
                    "end": f"{schedule.end:%H:%M}",
                    "grace_minutes": schedule.grace_minutes,
                    "days": schedule.days_text(),
                    "min_hours": schedule.min_hours,
                }
            if details:
                self.store.append_audit(self._actor(actor), AuditAction.GROUP_EDIT, f"group {group.name}", "", details)
        return self._hr_done(group, Changes.of(SCHEDULES) if details else Changes())

    def remove_group(self, group_id: int, actor: str | None = None) -> Outcome[Group]:
        """Remove a group nobody is or was in (and with no holidays of its own)."""
        self.site.require_hr_edit()
        with self.store.transaction():
            group = self.store.remove_group(group_id)
            self.store.append_audit(self._actor(actor), AuditAction.GROUP_REMOVE, f"group {group.name}", "")
        return self._hr_done(group, Changes.of(SCHEDULES))

    def assign_group(
        self, person_id: int, group_id: int | None, actor: str | None = None, from_day: date | None = None
    ) -> Outcome[Person]:
        """The person is in the group (None: in none) from a day (default today; a first group: see above)."""
        self.site.require_hr_edit()
        with self.store.transaction():
            person = self.store.get_person(person_id)
            entry = self.store.roster_entry(person_id)
            history = [m for m in self.store.rule_history().memberships if m.person_id == person_id]
            if entry is not None and entry.group_id == group_id and from_day is None:
                return self._hr_done(person, Changes())
            first = self._effective(from_day, entry is not None and entry.group_id is None and not history)
            self.refuse_locked_from(first, None, "changing the person's group")
            self.store.set_person_group_from(person_id, group_id, first)
            group = self.store.get_group(group_id).name if group_id is not None else None
            self.store.append_audit(
                self._actor(actor),
                AuditAction.GROUP_ASSIGN,
                f"person {person.id}",
                "",
                {"group": group} | _from(first),
                person_id=person.id,
            )
        return self._hr_done(person, Changes.of(SCHEDULES, person_ids=[person_id]))

    def edit_shift(
        self,
        shift_id: int,
        *,
        name: str | None = None,
        start: str | None = None,
        end: str | None = None,
        days: str | None = None,
        late_grace: int | None = None,
        early_grace: int | None = None,
        checkin_before: int | None = None,
        checkout_after: int | None = None,
        half_day_below: float | None = None,
        absent_below: float | None = None,
        hours: HoursMode | str | None = None,
        min_hours: float | None = None,
        from_day: date | None = None,
        actor: str | None = None,
    ) -> Outcome[Shift]:
        """Rename a shift type, and/or change its rules from a day (default today). Options left None keep
        their value."""
        self.site.require_hr_edit()
        with self.store.transaction():
            shift = self.store.get_shift(shift_id)
            details: dict = {}
            if name is not None and name.strip() != shift.name:
                details["renamed_from"] = shift.name
                shift = self.store.rename_shift(shift_id, name)
            old = shift.schedule
            rules = (start, end, days, late_grace, early_grace, checkin_before, checkout_after)
            if any(v is not None for v in (*rules, half_day_below, absent_below, hours, min_hours)):
                schedule = make_schedule(
                    start or f"{old.start:%H:%M}",
                    end or f"{old.end:%H:%M}",
                    old.grace_minutes if late_grace is None else late_grace,
                    days or old.days_text(),
                    old.min_hours if min_hours is None else min_hours,
                    old.early_grace_minutes if early_grace is None else early_grace,
                    old.checkin_before_minutes if checkin_before is None else checkin_before,
                    old.checkout_after_minutes if checkout_after is None else checkout_after,
                    old.half_day_below if half_day_below is None else half_day_below,
                    old.absent_below if absent_below is None else absent_below,
                    old.hours_mode if hours is None else hours,
                )
                first = from_day or self.site_today()
                self.refuse_locked_from(first, None, f"changing the rules of shift {shift.name}")
                shift = self.store.set_shift_rules_from(shift_id, first, schedule)
                for group in self.store.list_groups():  # a group working this shift follows it
                    if group.shift_id == shift_id:
                        self.store.set_group_rules_from(group.id, first, shift_id)
                details |= {
                    "from": first.isoformat(),
                    "start": f"{schedule.start:%H:%M}",
                    "end": f"{schedule.end:%H:%M}",
                    "days": schedule.days_text(),
                    "late_grace": schedule.grace_minutes,
                    "early_grace": schedule.early_grace,
                    "hours": schedule.hours_mode.value,
                }
            if details:
                self.store.append_audit(self._actor(actor), AuditAction.SHIFT_EDIT, f"shift {shift.name}", "", details)
        return self._hr_done(shift, Changes.of(SCHEDULES) if details else Changes())

    def remove_shift(self, shift_id: int, actor: str | None = None) -> Outcome[Shift]:
        """Remove a shift type no group, assignment or rotation uses."""
        self.site.require_hr_edit()
        with self.store.transaction():
            shift = self.store.remove_shift(shift_id)
            self.store.append_audit(self._actor(actor), AuditAction.SHIFT_REMOVE, f"shift {shift.name}", "")
        return self._hr_done(shift, Changes.of(SCHEDULES))


def _from(day: date) -> dict[str, str]:
    """The audit's "from": left out when a change applies to every day (a first group or shift)."""
    return {} if day == BEGINNING else {"from": day.isoformat()}
