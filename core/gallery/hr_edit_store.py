"""The store's corrections of what HR entered: edit and remove holidays, leave, dated assignments and rotations.
GalleryStore inherits these methods; the Engine refuses them in a locked month and audits them."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING

from core.base.errors import InvalidInputError
from core.base.timekeeping import Holiday, Leave, Shift, ShiftAssignment, ShiftRotation
from core.gallery.store_state import StoreState
from core.gallery.table_guard import guarded


class HrEditTables(StoreState):
    """Edit and remove one holiday, leave, assignment or rotation by id."""

    if TYPE_CHECKING:

        def get_shift(self, shift_id: int) -> Shift: ...

    # ---- holidays ----

    @guarded
    def get_holiday(self, holiday_id: int) -> Holiday:
        row = self._conn.execute("SELECT id, day, name, group_id FROM holidays WHERE id = ?", [holiday_id]).fetchone()
        if row is None:
            raise InvalidInputError(f"No holiday with id {holiday_id}.")
        return Holiday(row[0], date.fromisoformat(row[1]), row[2], row[3])

    @guarded
    def update_holiday(self, holiday_id: int, day: date, name: str, group_id: int | None) -> Holiday:
        name = " ".join(str(name or "Holiday").split()) or "Holiday"
        with self._tx():
            self.get_holiday(holiday_id)
            if group_id is not None:
                self.get_group(group_id)
            if self._conn.execute(
                "SELECT 1 FROM holidays WHERE day = ? AND group_id IS ? AND id != ?",
                [day.isoformat(), group_id, holiday_id],
            ).fetchone():
                raise InvalidInputError(
                    f"{day.isoformat()} is already a holiday{' for that group' if group_id else ''}."
                )
            self._conn.execute(
                "UPDATE holidays SET day = ?, name = ?, group_id = ? WHERE id = ?",
                [day.isoformat(), name, group_id, holiday_id],
            )
            return self.get_holiday(holiday_id)

    @guarded
    def remove_holiday(self, holiday_id: int) -> Holiday:
        with self._tx():
            holiday = self.get_holiday(holiday_id)
            self._conn.execute("DELETE FROM holidays WHERE id = ?", [holiday_id])
            return holiday

    # ---- leave ----

    @guarded
    def get_leave(self, leave_id: int) -> Leave:
        row = self._conn.execute(
            "SELECT id, person_id, first_day, last_day, reason FROM leave WHERE id = ?", [leave_id]
        ).fetchone()
        if row is None:
            raise InvalidInputError(f"No leave with id {leave_id}.")
        return Leave(row[0], row[1], date.fromisoformat(row[2]), date.fromisoformat(row[3]), row[4])

    @guarded
    def update_leave(self, leave_id: int, first_day: date, last_day: date, reason: str) -> Leave:
        if last_day < first_day:
            raise InvalidInputError(f"The leave ends ({last_day}) before it starts ({first_day}).")
        with self._tx():
            self.get_leave(leave_id)
            self._conn.execute(
                "UPDATE leave SET first_day = ?, last_day = ?, reason = ? WHERE id = ?",
                [first_day.isoformat(), last_day.isoformat(), reason, leave_id],
            )
            return self.get_leave(leave_id)

    @guarded
    def remove_leave(self, leave_id: int) -> Leave:
        with self._tx():
            leave = self.get_leave(leave_id)
            self._conn.execute("DELETE FROM leave WHERE id = ?", [leave_id])
            return leave

    # ---- dated assignments and rotations ----

    @guarded
    def get_assignment(self, assignment_id: int) -> ShiftAssignment:
        row = self._conn.execute(
            "SELECT id, person_id, shift_id, first_day, last_day FROM shift_assignments WHERE id = ?", [assignment_id]
        ).fetchone()
        if row is None:
            raise InvalidInputError(f"No shift assignment with id {assignment_id}.")
        aid, person_id, shift_id, first, last = row
        return ShiftAssignment(
            aid, person_id, shift_id, date.fromisoformat(first), date.fromisoformat(last) if last else None
        )

    @guarded
    def update_assignment(
        self, assignment_id: int, shift_id: int | None, first_day: date, last_day: date | None
    ) -> ShiftAssignment:
        if last_day is not None and last_day < first_day:
            raise InvalidInputError(f"The assignment ends ({last_day}) before it starts ({first_day}).")
        with self._tx():
            self.get_assignment(assignment_id)
            if shift_id is not None:
                self.get_shift(shift_id)
            self._conn.execute(
                "UPDATE shift_assignments SET shift_id = ?, first_day = ?, last_day = ? WHERE id = ?",
                [shift_id, first_day.isoformat(), last_day.isoformat() if last_day else None, assignment_id],
            )
            return self.get_assignment(assignment_id)

    @guarded
    def remove_assignment(self, assignment_id: int) -> ShiftAssignment:
        with self._tx():
            assignment = self.get_assignment(assignment_id)
            self._conn.execute("DELETE FROM shift_assignments WHERE id = ?", [assignment_id])
            return assignment

    @guarded
    def get_rotation(self, rotation_id: int) -> ShiftRotation:
        row = self._conn.execute(
            "SELECT id, person_id, pattern_json, first_day FROM shift_rotations WHERE id = ?", [rotation_id]
        ).fetchone()
        if row is None:
            raise InvalidInputError(f"No rotation with id {rotation_id}.")
        return ShiftRotation(row[0], row[1], tuple(json.loads(row[2])), date.fromisoformat(row[3]))

    @guarded
    def remove_rotation(self, rotation_id: int) -> ShiftRotation:
        with self._tx():
            rotation = self.get_rotation(rotation_id)
            self._conn.execute("DELETE FROM shift_rotations WHERE id = ?", [rotation_id])
            return rotation
