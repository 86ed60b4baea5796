"""The timesheet as HR reads it: hours as h:mm ("7:49", not 7.82), no shift code before a person joined, a
legend entry for the blank cells, and times on the day board without seconds."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.attendance import timesheet
from core.base.timekeeping import DayStatus, PersonDay


def day(status: DayStatus, hours: float = 0.0, shift: str | None = "Night") -> PersonDay:
    return PersonDay(1, "Ada", None, "Office", date(2026, 12, 1), status, hours=hours, shift=shift)


def test_hours_are_hours_and_minutes():
    assert (
        timesheet.hours_text(7.82) == "7:49" and timesheet.hours_text(8) == "8:00" and timesheet.hours_text(0) == "0:00"
    )
    assert timesheet.hours_text(37.7) == "37:42" and timesheet.hours_text(0.999) == "1:00"


def test_cells_write_hours_as_h_mm_and_nothing_before_a_person_joined():
    assert timesheet.cell_text(day(DayStatus.PRESENT, 7.82, shift="Office")) == "P 7:49"
    assert timesheet.cell_text(day(DayStatus.LATE, 7.5)) == "L 7:30 Night"
    assert timesheet.cell_text(day(DayStatus.NOT_ENROLLED)) == "", "no shift code on a day before they joined"
    assert timesheet.cell_text(day(DayStatus.DAY_OFF)) == "- Night"


pytest.importorskip("pytestqt")


def test_the_timesheet_legend_names_the_blank_cells_and_the_board_drops_seconds(qtbot, engine):
    from core.base.records import AttendanceEvent, EventKind
    from gui.attendance.common import seen_text
    from gui.attendance.timesheet import TimesheetView

    view = TimesheetView(engine)
    qtbot.addWidget(view)
    assert "blank: unscheduled or not enrolled" in view.legend_label.text()
    assert "7:49" in view.legend_label.text()
    moment = datetime(2026, 12, 1, 7, 58, tzinfo=UTC)
    assert seen_text(moment, {int(moment.timestamp())}) == "07:58"
    person = engine.store.add_person("Ada")
    engine.store.record_event(AttendanceEvent(None, person.id, None, EventKind.CHECK_IN, moment, "door", 0.9))
    engine.store.record_event(
        AttendanceEvent(None, person.id, None, EventKind.CHECK_IN, moment.replace(hour=15, minute=47), "door", 0.9)
    )
    view.month_edit.setDate(view.month_edit.date().fromString("2026-12-01", "yyyy-MM-dd"))
    view.refresh()
    hours = view.model.index(0, view.model.columnCount() - 1).data()
    assert hours == "7:49", hours
    assert "7:49 hours" in view.summary_label.text()
