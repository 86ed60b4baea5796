"""The HR pages as an administrator meets them: refusals in a message bar at the top of the page, in HR words
(leave without a reason says so), and a shift list tall enough to see a new shift arrive."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint  # noqa: E402

pass


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


def test_the_roster_offers_off_and_shows_a_holiday(qtbot, window, engine, monkeypatch):  # noqa: F811 (fixture)
    from PySide6.QtWidgets import QInputDialog

    day = engine.add_shift("Day", "08:00", "16:00", "mon-sun").value
    group = engine.add_group("Office", "08:00", "16:00", days="mon-sun").value
    engine.set_group_shift(group.id, day.id)
    ada = engine.store.add_person("Ada")
    engine.assign_group(ada.id, group.id)
    today = engine.site_today()
    holiday = today.replace(day=1) if today.day != 1 else today.replace(day=2)
    engine.add_holiday(holiday, "Founders' Day")

    panel = window.show_panel("attendance")
    roster = panel.show_view(panel.roster_page)
    roster.refresh()
    assert roster.code_at("Ada", holiday) == "H", "a holiday is not a working Day"
    assert roster.code_at("Ada", today) == "Day"
    offered = []

    def choose_off(parent, title, label, items, current, editable):
        offered.extend(items)
        return next(i for i in items if i.startswith("off")), True

    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(choose_off))
    row = next(r for r, (_, name) in enumerate(roster.model.people) if name == "Ada")
    roster.edit_cell(roster.model.index(row, 1 + roster.model.days.index(today)))
    assert "Day" in offered and any(i.startswith("off") for i in offered)
    assert roster.code_at("Ada", today) == "-" and "Off on" in roster.message_label.text()
