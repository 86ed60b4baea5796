"""The HR pages as an administrator meets them: refusals in a message bar at the top of the page, in HR words
(leave without a reason says so), and a shift list tall enough to see a new shift arrive."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint  # noqa: E402

from tests.test_gui_flow import dialogs, window  # noqa: E402,F401 (fixtures)


def top_of(widget, page) -> int:
    return widget.mapTo(page, QPoint(0, 0)).y()


def test_leave_without_a_reason_is_refused_at_the_top_in_hr_words(qtbot, window, engine):  # noqa: F811 (fixture)
    engine.store.add_person("Ada Lovelace")
    panel = window.show_panel("attendance")
    page = panel.show_view(panel.calendar_page)
    window.resize(1024, 700)
    page.refresh()
    page.leave_reason.setText("   ")
    page.leave_button.click()
    bar = page.message_label
    assert bar.is_refusal() and bar.isVisible()
    assert "Leave needs a reason" in bar.text() and "correction" not in bar.text()
    assert top_of(bar, page) < top_of(page.list_box, page), "the refusal is above the page, where one looks"
    page.leave_reason.setText("annual leave")
    page.leave_button.click()
    assert not bar.is_refusal() and "Leave for Ada Lovelace" in bar.text()


def test_the_shift_list_shows_several_shifts_on_a_small_screen(qtbot, window, engine):  # noqa: F811 (fixture)
    for name, start, end in (("Day", "08:00", "16:00"), ("Late", "14:00", "22:00"), ("Night", "22:00", "06:00")):
        engine.add_shift(name, start, end, "mon-fri")
    panel = window.show_panel("attendance")
    page = panel.show_view(panel.shifts_page)
    window.resize(1024, 700)
    qtbot.wait(20)
    table = page.table
    shown = [
        row
        for row in range(table.rowCount())
        if table.visualRect(table.model().index(row, 0)).bottom() <= table.viewport().height()
    ]
    assert len(shown) == 3, f"{len(shown)} of 3 shifts visible in a {table.viewport().height()} px list"
    page.name_edit.setText("")
    page.add_button.click()
    assert page.message_label.is_refusal() and "needs a name" in page.message_label.text()
