"""Holidays and leave can be read back, not only added: `rollcall holiday list`, `leave list`, and the
HR tab's overview of the year (an HR office checks what it already entered)."""

from __future__ import annotations

from datetime import date

from core.app.cli import main
from tests.kits.paths import dev_people, dev_photos


def test_holidays_and_leave_are_listed_in_the_cli_and_the_calendar_tab(engine, qtbot, capsys):
    from gui.hr.calendar import CalendarPage

    person = dev_people()[0]
    name = person.name.replace("_", " ")
    person_id = engine.enroll_files(name, dev_photos(person)[:2]).value.person_ids[name]
    year = engine.site_today().year
    engine.add_holiday(date(year, 12, 25), "Christmas Day")
    engine.add_leave(person_id, date(year, 8, 3), date(year, 8, 7), "annual leave")
    engine.add_holiday(date(year - 1, 12, 25), "Last year's Christmas")

    page = CalendarPage(engine)
    qtbot.addWidget(page)
    rows = [[page.table.item(r, c).text() for c in range(3)] for r in range(page.table.rowCount())]
    assert rows == [
        ["03 Aug to 07 Aug", "Leave: annual leave", name],
        [date(year, 12, 25).strftime("%a %d %b"), "Holiday: Christmas Day", "The whole site"],
    ]
    engine.close()

    assert main(["holiday", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{year}-12-25  Christmas Day  (the whole site)" in out and "Last year" not in out
    assert main(["holiday", "list", "--from", f"{year - 1}-01-01"]) == 0
    assert "Last year's Christmas" in capsys.readouterr().out
    assert main(["leave", "list"]) == 0
    assert f"{year}-08-03 to {year}-08-07  {name}  (annual leave)" in capsys.readouterr().out
