"""Defects of the Attendance panel (issue 25), each held by a test: chart buckets that hold an 85-minute late
arrival on a real minutes axis, day-off cells in CSV exports, the Today view's A-to-Z order, a month lock that
asks and keeps its reason, the audit's 'what changed', plurals in History."""

from __future__ import annotations

import csv
from datetime import date, datetime

import pytest

from core.attendance.charts import arrival_histogram, attendance_rate_per_day
from core.attendance.export import safe_text
from core.base.timekeeping import DayStatus, PersonDay
from tests.kits.hr import DAY, at


def _arrival(minute_of_day: int, day: date = DAY) -> PersonDay:
    seen = datetime(day.year, day.month, day.day, minute_of_day // 60, minute_of_day % 60)
    return PersonDay(1, "Ada", None, "Office", day, DayStatus.LATE, first_seen=seen)


def test_an_85_minute_late_arrival_falls_in_a_bucket_that_holds_it():
    series = arrival_histogram([_arrival(9 * 60 + 85), _arrival(9 * 60 - 10)], {"Office": 9 * 60})
    assert series.values[series.labels.index("+85")] == 1 and series.values[series.labels.index("-10")] == 1
    assert sum(series.values) == 2 and series.x_limits[1] >= 90 and series.marker == 0.0
    far = arrival_histogram([_arrival(9 * 60 + 300)], {"Office": 9 * 60})
    assert len(far.labels) <= 48 and sum(far.values) == 1
    bucket = far.x_values[far.values.index(1.0)]
    assert bucket - far.bar_width / 2 <= 300 < bucket + far.bar_width / 2


def test_one_days_bar_is_one_day_wide_on_an_axis_of_the_month():
    series = attendance_rate_per_day([_arrival(9 * 60)])
    assert series.x_values == (12.0,) and series.bar_width < 1 and series.x_limits == (0.5, 31.5)


def test_formula_guard_quotes_formulas_not_a_day_off():
    assert safe_text("-") == "-" and safe_text("- off") == "- off"
    assert safe_text("-1+2") == "'-1+2" and safe_text("=1") == "'=1" and safe_text("@E") == "'@E"


def test_csv_day_off_cells_are_plain(hr, tmp_path):
    engine, _ = hr
    with open(engine.export_timesheet("2026-10", tmp_path / "oct.csv"), encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    sunday = rows[0].index("2026-10-11")
    assert {r[sunday] for r in rows[1:]} == {"-"}


pytest.importorskip("pytestqt")


def test_today_reads_a_to_z_and_history_says_one_day(qtbot, hr):
    from core.base.records import AttendanceEvent, EventKind
    from gui.attendance.history import HistoryView
    from gui.attendance.today import TodayView

    engine, (ada, _, bob) = hr
    today = TodayView(engine)
    qtbot.addWidget(today)
    today.day_edit.setDate(today.day_edit.date().fromString(DAY.isoformat(), "yyyy-MM-dd"))
    names = today.names_shown()
    assert names == sorted(names, key=str.casefold) and names[0] == '=HYPERLINK("http://x")'
    engine.store.record_event(AttendanceEvent(None, ada.id, None, EventKind.CHECK_IN, at(DAY, 9, 0), "cam", 0.9))
    history = HistoryView(engine)
    qtbot.addWidget(history)
    history.start_edit.setDate(history.start_edit.date().fromString(DAY.isoformat(), "yyyy-MM-dd"))
    history.end_edit.setDate(history.end_edit.date().fromString(DAY.isoformat(), "yyyy-MM-dd"))
    history.show_person(ada.id)
    assert history.summary_label.text().startswith("1 day attended")


def test_lock_asks_names_the_consequence_and_keeps_the_reason_in_the_audit(qtbot, hr):
    from gui.attendance.audit import AuditView
    from gui.hr.locks import LocksPage

    engine, _ = hr
    page = LocksPage(engine)
    qtbot.addWidget(page)
    engine.subscribe(page.on_changes)  # as the main window passes every change on
    page.month_edit.setDate(page.month_edit.date().fromString("2026-10-01", "yyyy-MM-dd"))
    dialog = page.ask()
    assert "not over" in dialog.consequence_label.text()  # the clock is 12 October: the month is unfinished
    dialog.accept()  # no reason: refused, nothing locked
    assert dialog.isVisible() and "2026-10" not in engine.locked_months()
    dialog.reason_edit.setText("audit visit")
    dialog.action_button.click()
    assert "2026-10" in engine.locked_months() and page.unlock_button.isVisibleTo(page)
    audit = AuditView(engine)
    qtbot.addWidget(audit)
    audit.refresh()
    assert audit.table.item(0, 2).text() == "month lock" and audit.table.item(0, 5).text() == "audit visit"
    group_row = next(r for r in range(audit.table.rowCount()) if audit.table.item(r, 2).text() == "group assign")
    assert audit.table.item(group_row, 6).text() == "group Office"


def test_the_correction_dialog_never_offers_a_time_still_to_come():
    from datetime import time

    from gui.correction_dialog import default_punch_time

    morning = datetime(2026, 10, 12, 8, 30)
    assert default_punch_time(DAY, time(9, 0), morning) == morning  # 09:00 has not come yet: now instead
    assert default_punch_time(DAY, time(9, 0), datetime(2026, 10, 12, 11, 0)) == datetime(2026, 10, 12, 9, 0)


def test_arrivals_are_measured_from_the_days_own_shift(hr):
    from core.base.records import AttendanceEvent, EventKind

    engine, (ada, _, _) = hr
    late = engine.add_shift("Late", "14:00", "22:00", "mon-sun").value
    engine.assign_shift(ada.id, late.id, DAY, DAY)
    engine.store.record_event(AttendanceEvent(None, ada.id, None, EventKind.CHECK_IN, at(DAY, 14, 20), "cam", 0.8))
    arrivals = engine.chart_series("2026-10")[1]
    assert sum(arrivals.values) == 1 and arrivals.values[arrivals.labels.index("+20")] == 1
