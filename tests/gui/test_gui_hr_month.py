"""One HR month end to end in the window, without the CLI, on real enrolled faces: a shift and a group, people
assigned, the roster edited, a ZKTeco log and a CSV imported (a bad CSV refused by line), a punch corrected with
a reason, the timesheet and the charts read, and the month locked after its confirmation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QInputDialog  # noqa: E402

from core.base.records import AttendanceEvent, EventKind  # noqa: E402
from core.base.timekeeping import AuditAction, DayStatus  # noqa: E402
from tests.kits.paths import dev_people, dev_photos  # noqa: E402


def _enroll(engine, index: int, external_id: str) -> tuple[int, str]:
    person = dev_people()[index]
    name = person.name.replace("_", " ")
    report = engine.enroll_files(name, dev_photos(person)[:2], external_id).value
    assert report.samples_added == 2
    overview = next(o for o in engine.people() if o.person.name == name)
    return overview.person.id, name


def test_an_hr_month_in_the_window(qtbot, window, dialogs, engine, tmp_path, monkeypatch):
    ada_id, ada = _enroll(engine, 0, "101")
    bob_id, bob = _enroll(engine, 1, "102")
    enrolled = engine.site_today()
    real_now = engine.clock()
    engine.clock = lambda: real_now + timedelta(days=40)  # the month below is over, and after the enrollment
    day = enrolled + timedelta(days=3)
    month_start = day.replace(day=1)
    panel = window.show_panel("attendance")
    panel.refresh()

    # Shifts: every rule setting from the form.
    shifts = panel.show_view(panel.shifts_page)
    shifts.name_edit.setText("Day")
    shifts.start_edit.setTime(shifts.start_edit.time().fromString("08:00", "HH:mm"))
    shifts.end_edit.setTime(shifts.end_edit.time().fromString("16:00", "HH:mm"))
    shifts.days_edit.setText("mon-sun")
    shifts.late_grace.setValue(5)
    shifts.checkin_before.setValue(60)
    shifts.checkout_after.setValue(60)
    shifts.half_day_below.setValue(4)
    shifts.add_button.click()
    shifts.name_edit.setText("Late")
    shifts.start_edit.setTime(shifts.start_edit.time().fromString("12:00", "HH:mm"))
    shifts.end_edit.setTime(shifts.end_edit.time().fromString("20:00", "HH:mm"))
    shifts.add_button.click()
    assert [s.name for s in engine.shifts()] == ["Day", "Late"] and shifts.table.rowCount() == 2
    day_shift = engine.find_shift("Day")
    assert day_shift.schedule.checkin_before_minutes == 60 and day_shift.schedule.half_day_below == 4

    # Groups: a group, its default shift, two members; the People panel's combo hears of it.
    groups = panel.show_view(panel.groups_page)
    groups.name_edit.setText("Floor")
    groups.start_edit.setTime(groups.start_edit.time().fromString("08:00", "HH:mm"))
    groups.end_edit.setTime(groups.end_edit.time().fromString("16:00", "HH:mm"))
    groups.days_edit.setText("mon-sun")
    groups.add_button.click()
    groups.select_group("Floor")
    groups.shift_box.setCurrentIndex(groups.shift_box.findData(day_shift.id))
    groups.shift_button.click()
    for person_id in (ada_id, bob_id):
        groups.person_box.setCurrentIndex(groups.person_box.findData(person_id))
        groups.join_button.click()
    assert groups.members_list.count() == 2 and engine.find_group("Floor").shift_id == day_shift.id
    assert engine.audit_log(1)[0].action is AuditAction.GROUP_ASSIGN

    # Roster: the group's shift every day; one day edited to Late becomes an audited assignment.
    roster = panel.show_view(panel.roster_page)
    late_day = day + timedelta(days=2)
    roster.month_edit.setDate(roster.month_edit.date().fromString(late_day.isoformat(), "yyyy-MM-dd"))
    assert roster.code_at(ada, late_day) == "Day"
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: ("Late", True)))
    row = [n for _, n in roster.model.people].index(ada)
    roster.edit_cell(roster.model.index(row, 1 + roster.model.days.index(late_day)))
    assert roster.code_at(ada, late_day) == "Late" and roster.code_at(bob, late_day) == "Day"
    assert engine.audit_log(1)[0].action is AuditAction.SHIFT_ASSIGN

    # Import: a CSV with problems is refused by line, nothing kept; a ZKTeco log and a good CSV are taken.
    page = panel.show_view(panel.import_page)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"person,time\nNobody Known,{day} 08:00\n{bob},yesterday\n", encoding="utf-8")
    page.start(str(bad))
    qtbot.waitUntil(lambda: not page.busy(), timeout=20000)
    assert [page.problems.item(r, 0).text() for r in range(page.problems.rowCount())] == ["2", "3"]
    assert "Nothing was imported" in page.summary_label.text() and engine.events_on(day) == []
    attlog = tmp_path / "1_attlog.dat"
    attlog.write_text(f"       101\t{day} 08:20:00\t1\t0\t1\t0\n       101\t{day} 16:00:00\t1\t0\t1\t0\n")
    page.start(str(attlog))
    qtbot.waitUntil(lambda: not page.busy(), timeout=20000)
    assert page.result is not None and page.result.recorded == 2, page.summary_label.text()
    good = tmp_path / "kiosk2.csv"
    good.write_text(f"person,time\n{bob},{day} 07:58\n{bob},{day} 16:01\n", encoding="utf-8")
    page.start(str(good))
    qtbot.waitUntil(lambda: not page.busy(), timeout=20000)
    assert page.result.recorded == 2 and page.problems.rowCount() == 0
    early = tmp_path / "before.csv"  # a day before Ada was enrolled: listed, not recorded, until her start moves
    before_start = enrolled - timedelta(days=1)
    early.write_text(f"person,time\n{ada},{before_start} 09:00\n", encoding="utf-8")
    page.start(str(early))
    qtbot.waitUntil(lambda: not page.busy(), timeout=20000)
    assert page.result.recorded == 0 and "NOT recorded" in page.summary_label.text()
    assert "before " + ada in page.problems.item(0, 1).text() and page.move_start_button.isVisible()
    page.move_start_button.click()
    qtbot.waitUntil(lambda: not page.busy(), timeout=20000)
    assert page.result.recorded == 1 and engine.working_life(ada_id).start_day == before_start

    # A punch corrected with a reason: the dialog offers the shift's start, and the time is marked as manual.
    today = panel.show_view(panel.today_view)
    next_day = day + timedelta(days=1)
    today.day_edit.setDate(today.day_edit.date().fromString(next_day.isoformat(), "yyyy-MM-dd"))
    today.table.selectRow(today.names_shown().index(bob))
    dialog = today.open_correction()
    assert dialog.time_edit.dateTime().toPython() == datetime(next_day.year, next_day.month, next_day.day, 8, 0)
    dialog.reason_edit.setText("badge reader down")
    dialog.save()
    assert today.status_of(bob).status is not DayStatus.ABSENT
    row = today.names_shown().index(bob)
    assert today.table.item(row, 6).text() == "08:00 (manual punch)"
    audit = panel.show_view(panel.audit_view)
    assert audit.table.item(0, 2).text() == "punch" and audit.table.item(0, 5).text() == "badge reader down"
    assert f"time {next_day} 08:00:00" in audit.table.item(0, 6).text()

    # The timesheet: Ada late on the day, the Name column frozen, every total header whole.
    sheet = panel.show_view(panel.timesheet_view)
    sheet.month_edit.setDate(sheet.month_edit.date().fromString(month_start.isoformat(), "yyyy-MM-dd"))
    names = [sheet.model.data(sheet.model.index(r, 0)) for r in range(sheet.model.rowCount())]
    ada_row = sheet.model.sheet.rows[names.index(ada)]
    assert ada_row.days[day.day - 1].status is DayStatus.LATE and ada_row.days[day.day - 1].late_minutes == 20
    metrics = sheet.table.horizontalHeader().fontMetrics()
    for column in sheet.model.total_columns():
        text = sheet.model.headerData(column, sheet.table.horizontalHeader().orientation())
        assert metrics.horizontalAdvance(text) <= sheet.table.columnWidth(column), text
    sheet.table.resize(600, 300)
    sheet.table.horizontalScrollBar().setValue(sheet.table.horizontalScrollBar().maximum())
    assert sheet.table.horizontalScrollBar().value() > 0
    assert sheet.table.frozen.isVisible() and sheet.table.frozen.width() == sheet.table.columnWidth(0) + 1  # its line
    assert sheet.table.frozen.columnViewportPosition(0) == 0 and sheet.table.frozen.isColumnHidden(1)

    # The charts: the 20-minute late arrival in its bucket, days of the month on the axis.
    charts = panel.show_view(panel.charts_view)
    charts.month_edit.setDate(charts.month_edit.date().fromString(month_start.isoformat(), "yyyy-MM-dd"))
    rate, arrivals, late = charts.series
    assert arrivals.values[arrivals.labels.index("+20")] == 1 and late.labels == (ada,)
    assert rate.x_limits == (0.5, len(sheet.model.sheet.days) + 0.5)

    # Lock the month: the confirmation names the consequence and waits for a reason.
    sheet = panel.show_view(panel.timesheet_view)
    sheet.lock_button.click()
    assert "refused" in sheet.lock_dialog.consequence_label.text()
    assert not sheet.lock_dialog.action_button.isEnabled()
    sheet.lock_dialog.reason_edit.setText("October payroll sent")
    sheet.lock_dialog.action_button.click()
    assert sheet.month() in engine.locked_months()
    entry = engine.audit_log(1)[0]
    assert entry.action is AuditAction.MONTH_LOCK and entry.reason == "October payroll sent"
    assert "locked" in sheet.summary_label.text()
    panel.show_view(panel.locks_page)  # a hidden HR page catches up with the lock when shown
    assert panel.locks_page.locked_list.count() == 1
    assert not dialogs.errors()

    # Issue 30: what HR entered is put right in the window, and the locked month stays final.
    locked_month = sheet.month()
    after = engine.site_today() + timedelta(days=1)
    calendar = panel.show_view(panel.calendar_page)
    calendar.holiday_day.setDate(calendar.holiday_day.date().fromString(after.isoformat(), "yyyy-MM-dd"))
    calendar.holiday_name.setText("Wrong day")
    calendar.holiday_button.click()
    calendar.table.selectRow(0)
    dialog = calendar.edit_selected()
    dialog.fields["Name"].setText("Founders' Day")
    dialog.fields["Day"].setDate(dialog.fields["Day"].date().fromString(day.isoformat(), "yyyy-MM-dd"))
    dialog.action_button.click()  # into the locked month: refused, and the dialog stays open
    assert "is locked" in dialog.message_label.text() and dialog.isVisible()
    dialog.fields["Day"].setDate(dialog.fields["Day"].date().fromString(after.isoformat(), "yyyy-MM-dd"))
    dialog.action_button.click()
    assert not dialog.isVisible() and engine.holidays_between(after, after)[0].name == "Founders' Day"
    calendar.leave_person.setCurrentIndex(calendar.leave_person.findData(bob_id))
    for edit in (calendar.leave_first, calendar.leave_last):
        edit.setDate(edit.date().fromString(after.isoformat(), "yyyy-MM-dd"))
    calendar.leave_reason.setText("training")
    calendar.leave_button.click()
    leave_row = next(r for r in range(calendar.table.rowCount()) if "Leave" in calendar.table.item(r, 1).text())
    calendar.table.selectRow(leave_row)
    dialog = calendar.edit_selected()
    dialog.fields["Reason"].setText("training (moved)")
    dialog.action_button.click()
    assert engine.leave_between(after, after)[0].reason == "training (moved)"
    for _ in range(2):  # the leave, then the holiday
        calendar.table.selectRow(0)
        calendar.remove_selected().action_button.click()
    assert engine.holidays_between(after, after) == [] and engine.leave_between(after, after) == []

    # The group renamed, and its default shift changed while the month is locked: from today, not before.
    groups = panel.show_view(panel.groups_page)
    groups.select_group("Floor")
    dialog = groups.edit_group()
    dialog.fields["Name"].setText("Shop floor")
    dialog.action_button.click()
    groups.select_group("Shop floor")
    groups.from_check.setChecked(True)
    groups.from_edit.setDate(groups.from_edit.date().fromString(day.isoformat(), "yyyy-MM-dd"))
    groups.shift_box.setCurrentIndex(groups.shift_box.findData(engine.find_shift("Late").id))
    groups.shift_button.click()
    assert "is locked" in groups.message_label.text()
    groups.from_check.setChecked(False)
    groups.shift_button.click()
    assert "works Late from" in groups.message_label.text()
    assert engine.verify_locked_month(locked_month).verified

    # A shift renamed; the dated assignment edited, then removed; an unused shift removed.
    shifts_page = panel.show_view(panel.shifts_page)
    shifts_page.table.selectRow([s.name for s in shifts_page.shown_shifts].index("Late"))
    dialog = shifts_page.edit_shift()
    dialog.fields["Name"].setText("Evening")
    dialog.action_button.click()
    assert [s.name for s in engine.shifts()] == ["Day", "Evening"]
    shifts_page.assignments.selectRow(0)
    dialog = shifts_page.remove_assignment()
    dialog.action_button.click()  # the roster edit lies in the locked month
    assert "is locked" in dialog.message_label.text()
    roster = panel.show_view(panel.roster_page)  # a rotation set from tomorrow, then removed
    roster.person_box.setCurrentIndex(roster.person_box.findData(ada_id))
    roster.pattern_edit.setText("Day,off")
    roster.rotate_from.setDate(roster.rotate_from.date().fromString(after.isoformat(), "yyyy-MM-dd"))
    roster.rotate_button.click()
    assert len(engine.shift_rotations(ada_id)) == 1
    roster.remove_rotation().action_button.click()
    assert engine.shift_rotations(ada_id) == [] and engine.audit_log(1)[0].action is AuditAction.ROTATION_REMOVE
    shifts_page = panel.show_view(panel.shifts_page)
    shifts_page.name_edit.setText("Spare")
    shifts_page.add_button.click()
    shifts_page.table.selectRow([s.name for s in shifts_page.shown_shifts].index("Spare"))
    shifts_page.remove_shift().action_button.click()
    assert "Spare" not in [s.name for s in engine.shifts()]

    # A sighting in the locked month from a late log is held, listed, and dismissed with a reason.
    page = panel.show_view(panel.import_page)
    late_log = tmp_path / "late.csv"
    late_log.write_text(f"person,time\n{bob},{day} 12:00\n", encoding="utf-8")
    page.start(str(late_log))
    qtbot.waitUntil(lambda: not page.busy(), timeout=20000)
    assert page.result.held == 1 and engine.verify_locked_month(locked_month).verified
    held = panel.show_view(panel.held_page)
    assert held.table.rowCount() == 1 and held.table.item(0, 1).text() == bob
    held.table.selectRow(0)
    dialog = held.dismiss_selected()
    dialog.reason_edit.setText("already paid by hand")
    dialog.action_button.click()
    assert held.table.rowCount() == 0 and engine.audit_log(1)[0].action is AuditAction.HELD_DISMISSED

    # A sighting written past the engine into the locked month: the timesheet shows what was locked, and says so.
    moment = datetime.combine(day, datetime.min.time()).replace(hour=12)  # a third punch that day
    forged = AttendanceEvent(None, bob_id, None, EventKind.CHECK_IN, engine.site_moment(moment), "x", 1.0)
    engine.store.record_event(forged)
    sheet = panel.show_view(panel.timesheet_view)
    sheet.refresh()
    assert "would compute differently now" in sheet.summary_label.text()
    assert not engine.verify_locked_month(locked_month).verified

    # People: the employee ID set, then Bob archived as a leaver (his locked month keeps him).
    people = window.show_panel("people")
    people.select_person(bob_id)
    dialog = people.edit_external_id()
    dialog.fields["Employee ID"].setText("B-7")
    dialog.action_button.click()
    assert engine.person(bob_id).external_id == "B-7"
    dialog = people.edit_working_life()
    dialog.fields["left_check"].setChecked(True)
    dialog.fields["archive"].setChecked(True)
    dialog.action_button.click()
    assert not dialog.isVisible() and bob not in [o.person.name for o in engine.people()]
    assert bob in [row.name for row in engine.timesheet(locked_month).rows]
    assert not dialogs.errors()
