"""Why?: opened from a day-board row, a timesheet cell and a roster cell, in a real offscreen Qt window, with the
evidence photo of the sighting (a real face from the shared data), also on hover in the day board and Sightings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication

from core.attendance.book import AttendanceBook
from core.base.timekeeping import DayStatus
from gui.attendance.timesheet import TimesheetView
from gui.attendance.today import FIRST_COLUMN, TodayView
from gui.attendance.why import WhyDialog
from gui.hr.roster import RosterPage
from gui.panels.attendance import AttendancePanel
from tests.kits.hr import at
from tests.kits.paths import FACES


def test_why_opens_from_the_day_board_the_timesheet_and_the_roster(qtbot, hr):
    engine, (ada, _, _) = hr
    today = (datetime.now(UTC) - timedelta(days=1)).date()
    while today.weekday() >= 5:  # a working day of the Office group, recent enough to keep its photo
        today -= timedelta(days=1)
    engine.clock = lambda: at(today, 23, 0)
    face = next((FACES / "dev").glob("*/*.jpg")).read_bytes()
    book = AttendanceBook(engine.store, engine.settings.attendance)
    book.observe(ada.id, 0.91, "door", snapshot_jpeg=face, when=at(today, 9, 20))
    book.observe(ada.id, 0.9, "door", when=at(today, 17, 0))
    board = TodayView(engine)
    qtbot.addWidget(board)
    board.day_edit.setDate(today)
    board.show()
    row = next(r for r in range(board.table.rowCount()) if board.table.item(r, 0).text() == "Ada")
    board.table.selectRow(row)
    qtbot.mouseClick(board.why_button, Qt.MouseButton.LeftButton)
    why = board.findChild(WhyDialog)  # the dialog the click opened
    assert why is not None and why.isVisible()
    assert why.explained.day == board.status_of("Ada") and why.explained.day.status is DayStatus.LATE
    assert why.decision_label.text().endswith(why.explained.decision) and "late 20" in why.decision_label.text()
    assert why.table.rowCount() == 2 and why.photo_shown()  # 09:20 has its photo
    why.table.selectRow(1)
    assert not why.photo_shown()  # 17:00 was stored without one
    for column, has_photo in ((FIRST_COLUMN, True), (FIRST_COLUMN + 1, False)):  # hover First seen, Last seen
        rect = board.table.visualRect(board.table.model().index(row, column))
        viewport = board.table.viewport()
        hover = QHelpEvent(QEvent.Type.ToolTip, rect.center(), viewport.mapToGlobal(rect.center()))
        QApplication.sendEvent(viewport, hover)
        assert ("data:image/jpeg;base64," in board.evidence.last_tip) is has_photo
    sightings = AttendancePanel(engine)
    qtbot.addWidget(sightings)
    sightings.set_range(today, today)
    qtbot.waitUntil(lambda: not sightings.is_refreshing() and sightings.table.rowCount() == 1, timeout=5000)
    assert "data:image/jpeg" in sightings.evidence.tip_for(0, 3) and sightings.evidence.tip_for(0, 4) == ""

    sheet = TimesheetView(engine)
    qtbot.addWidget(sheet)
    sheet.month_edit.setDate(today.replace(day=1))
    sheet.refresh()
    ada_row = next(i for i, r in enumerate(sheet.model.sheet.rows) if r.person_id == ada.id)
    column = len(sheet.model.LEAD) + today.day - 1
    index = sheet.model.index(ada_row, column)
    sheet.table.doubleClicked.emit(index)
    cell = sheet.findChild(WhyDialog)
    assert cell is not None and cell.explained.day == sheet.model.sheet.rows[ada_row].days[today.day - 1]

    roster = RosterPage(engine)
    qtbot.addWidget(roster)
    roster.month_edit.setDate(today.replace(day=1))
    roster.refresh()
    roster_row = next(r for r, (person_id, _) in enumerate(roster.model.people) if person_id == ada.id)
    roster.table.setCurrentIndex(roster.model.index(roster_row, today.day))
    qtbot.mouseClick(roster.why_button, Qt.MouseButton.LeftButton)
    opened = roster.findChild(WhyDialog)
    assert opened is not None and opened.explained.day.day == today
