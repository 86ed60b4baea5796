"""Engine operations that put right what HR entered: edit and remove holidays, leave, dated assignments and
rotations; a person's working life (start and end dates, archiving a leaver) and external ID.

Every one is audited, refused when it would alter a locked month (naming it), and reaches a site's kiosks in
the HR book. Archiving differs from erasure (delete_person): an archived leaver is no longer recognised, but
their record, events and timesheets stay; erasure removes the person and everything about them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine_state import EngineState, T
from core.attendance.corrections import clean_reason
from core.base.errors import InvalidInputError
from core.base.records import Person
from core.base.timekeeping import AuditAction, Holiday, Leave, RosterEntry, ShiftAssignment, ShiftRotation

SCHEDULES, PEOPLE = ChangeKind.SCHEDULES, ChangeKind.PEOPLE
ONE_DAY = timedelta(days=1)


class HrEditOperations(EngineState):
    """Mixed into Engine; uses AttendanceOperations' and DatedOperations' helpers."""

    if TYPE_CHECKING:

        def _hr_done(self, value: T, changes: Changes) -> Outcome[T]: ...

        def _actor(self, actor: str | None) -> str: ...

        def refuse_locked_from(self, first: date, last: date | None, what: str) -> None: ...

    # ---- holidays ----

    def edit_holiday(
        self,
        holiday_id: int,
        day: date | None = None,
        name: str | None = None,
        group_id: int | None | str = "keep",
        actor: str | None = None,
    ) -> Outcome[Holiday]:
        """Move, rename or re-scope a holiday (group_id None: the whole site; "keep": as it is)."""
        self.site.require_hr_edit()
        with self.store.transaction():
            old = self.store.get_holiday(holiday_id)
            new_day = day or old.day
            scope = old.group_id if group_id == "keep" else group_id
            assert scope is None or isinstance(scope, int)
            for touched in {old.day, new_day}:
                self.refuse_locked_from(touched, touched, "changing the holiday")
            holiday = self.store.update_holiday(holiday_id, new_day, name if name is not None else old.name, scope)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.HOLIDAY_EDIT,
                old.day.isoformat(),
                "",
                {
                    "holiday_id": holiday_id,
                    "day": new_day.isoformat(),
                    "name": holiday.name,
                    "group_id": scope,
                    "was": {"day": old.day.isoformat(), "name": old.name, "group_id": old.group_id},
                },
            )
        return self._hr_done(holiday, Changes.of(SCHEDULES))

    def remove_holiday(self, holiday_id: int, actor: str | None = None) -> Outcome[Holiday]:
        self.site.require_hr_edit()
        with self.store.transaction():
            old = self.store.get_holiday(holiday_id)
            self.refuse_locked_from(old.day, old.day, "removing the holiday")
            self.store.remove_holiday(holiday_id)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.HOLIDAY_REMOVE,
                old.day.isoformat(),
                "",
                {"holiday_id": holiday_id, "name": old.name, "group_id": old.group_id},
            )
        return self._hr_done(old, Changes.of(SCHEDULES))

    # ---- leave ----

    def edit_leave(
        self,
        leave_id: int,
        first: date | None = None,
        last: date | None = None,
        reason: str | None = None,
        actor: str | None = None,
    ) -> Outcome[Leave]:
        self.site.require_hr_edit()
        with self.store.transaction():
            old = self.store.get_leave(leave_id)
            new_first, new_last = first or old.first_day, last or old.last_day
            why = clean_reason(reason) if reason is not None else old.reason
            self.refuse_locked_from(old.first_day, old.last_day, "changing the leave")
            self.refuse_locked_from(new_first, new_last, "changing the leave")
            leave = self.store.update_leave(leave_id, new_first, new_last, why)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.LEAVE_EDIT,
                f"person {old.person_id}",
                why,
                {
                    "leave_id": leave_id,
                    "from": new_first.isoformat(),
                    "to": new_last.isoformat(),
                    "was": {"from": old.first_day.isoformat(), "to": old.last_day.isoformat()},
                },
                person_id=old.person_id,
            )
        return self._hr_done(leave, Changes.of(SCHEDULES, person_ids=[old.person_id]))

    def remove_leave(self, leave_id: int, reason: str = "", actor: str | None = None) -> Outcome[Leave]:
        """Remove leave (cancelled, or entered by mistake)."""
        self.site.require_hr_edit()
        with self.store.transaction():
            old = self.store.get_leave(leave_id)
            self.refuse_locked_from(old.first_day, old.last_day, "removing the leave")
            self.store.remove_leave(leave_id)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.LEAVE_REMOVE,
                f"person {old.person_id}",
                reason.strip(),
                {"leave_id": leave_id, "from": old.first_day.isoformat(), "to": old.last_day.isoformat()},
                person_id=old.person_id,
            )
        return self._hr_done(old, Changes.of(SCHEDULES, person_ids=[old.person_id]))

    # ---- dated assignments and rotations ----

    def edit_assignment(
        self,
        assignment_id: int,
        shift_id: int | None | str = "keep",
        first: date | None = None,
        last: date | None | str = "keep",
        actor: str | None = None,
    ) -> Outcome[ShiftAssignment]:
        """Change a dated assignment's shift (None: off) or dates ("keep": as they are)."""
        self.site.require_hr_edit()
        with self.store.transaction():
            old = self.store.get_assignment(assignment_id)
            new_shift = old.shift_id if shift_id == "keep" else shift_id
            new_last = old.last_day if last == "keep" else last
            assert (new_shift is None or isinstance(new_shift, int)) and not isinstance(new_last, str)
            new_first = first or old.first_day
            self.refuse_locked_from(old.first_day, old.last_day, "changing the assignment")
            self.refuse_locked_from(new_first, new_last, "changing the assignment")
            assignment = self.store.update_assignment(assignment_id, new_shift, new_first, new_last)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.ASSIGNMENT_EDIT,
                f"person {old.person_id}",
                "",
                {
                    "assignment_id": assignment_id,
                    "shift_id": new_shift,
                    "from": new_first.isoformat(),
                    "to": new_last.isoformat() if new_last else None,
                },
                person_id=old.person_id,
            )
        return self._hr_done(assignment, Changes.of(SCHEDULES, person_ids=[old.person_id]))

    def remove_assignment(self, assignment_id: int, actor: str | None = None) -> Outcome[ShiftAssignment]:
        self.site.require_hr_edit()
        with self.store.transaction():
            old = self.store.get_assignment(assignment_id)
            self.refuse_locked_from(old.first_day, old.last_day, "removing the assignment")
            self.store.remove_assignment(assignment_id)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.ASSIGNMENT_REMOVE,
                f"person {old.person_id}",
                "",
                {
                    "assignment_id": assignment_id,
                    "shift_id": old.shift_id,
                    "from": old.first_day.isoformat(),
                    "to": old.last_day.isoformat() if old.last_day else None,
                },
                person_id=old.person_id,
            )
        return self._hr_done(old, Changes.of(SCHEDULES, person_ids=[old.person_id]))

    def remove_rotation(self, rotation_id: int, actor: str | None = None) -> Outcome[ShiftRotation]:
        self.site.require_hr_edit()
        with self.store.transaction():
            old = self.store.get_rotation(rotation_id)
            self.refuse_locked_from(old.first_day, None, "removing the rotation")
            self.store.remove_rotation(rotation_id)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.ROTATION_REMOVE,
                f"person {old.person_id}",
                "",
                {"rotation_id": rotation_id, "from": old.first_day.isoformat()},
                person_id=old.person_id,
            )
        return self._hr_done(old, Changes.of(SCHEDULES, person_ids=[old.person_id]))

    # ---- working life ----

    def working_life(self, person_id: int) -> RosterEntry:
        entry = self.store.roster_entry(person_id)
        if entry is None:
            self.store.get_person(person_id)  # raises the not-found message
            raise InvalidInputError(f"No person with id {person_id}.")
        return entry

    def set_working_life(
        self,
        person_id: int,
        start: date | None | str = "keep",
        end: date | None | str = "keep",
        actor: str | None = None,
    ) -> Outcome[RosterEntry]:
        """Set or move a person's start (joined) and end (left) dates ("keep": as they are; None: clear).
        Refused when the days it changes touch a locked month."""
        self.site.require_hr_edit()
        with self.store.transaction():
            old = self.working_life(person_id)
            zone = self.site_zone()
            new_start = old.start_day if start == "keep" else start
            new_end = old.end_day if end == "keep" else end
            assert not isinstance(new_start, str) and not isinstance(new_end, str)
            was_first, now_first = old.first_day(zone), (new_start or old.first_day(zone))
            if was_first != now_first and was_first is not None and now_first is not None:
                self.refuse_locked_from(min(was_first, now_first), max(was_first, now_first), "moving the start date")
            if old.end_day != new_end:
                ends = [d for d in (old.end_day, new_end) if d is not None]
                later = None if None in (old.end_day, new_end) else max(ends)
                self.refuse_locked_from(min(ends) + ONE_DAY, later, "moving the end date")
            entry = self.store.set_working_life(person_id, new_start, new_end)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.PERSON_DATES,
                f"person {person_id}",
                "",
                {
                    "start": _iso(new_start),
                    "end": _iso(new_end),
                    "was": {"start": _iso(old.start_day), "end": _iso(old.end_day)},
                },
                person_id=person_id,
            )
        return self._hr_done(entry, Changes.of(SCHEDULES, PEOPLE, person_ids=[person_id]))

    def archive_person(
        self, person_id: int, last_day: date, reason: str = "", actor: str | None = None
    ) -> Outcome[Person]:
        """A leaver: their last working day is `last_day`; recognition stops, and their record, events and
        timesheets stay (erasure, delete_person, is for the right to be forgotten)."""
        self.set_working_life(person_id, end=last_day, actor=actor)
        with self.store.transaction():
            person = self.store.set_active(person_id, False)
            self.store.append_audit(
                self._actor(actor),
                AuditAction.PERSON_ARCHIVE,
                f"person {person_id}",
                reason.strip(),
                {"left": last_day.isoformat()},
                person_id=person_id,
            )
        return self._site_done(person, Changes.of(PEOPLE, SCHEDULES, person_ids=[person_id]))

    def set_external_id(self, person_id: int, external_id: str | None, actor: str | None = None) -> Outcome[Person]:
        """Set, change or clear (None) a person's external (employee) ID: unique, audited."""
        self.site.require_gallery_edit()
        with self.store.transaction():
            before = self.store.get_person(person_id)
            person = self.store.set_external_id(person_id, external_id)
            if person.external_id != before.external_id:
                self.store.append_audit(
                    self._actor(actor),
                    AuditAction.PERSON_EXTERNAL_ID,
                    f"person {person_id}",
                    "",
                    {"external_id": person.external_id, "was": before.external_id},
                    person_id=person_id,
                )
        return self._site_done(person, Changes.of(PEOPLE, person_ids=[person.id]))


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
