"""HR words, not technical ones, and texts shown whole: the audit names people and says "for the whole site",
Review says where a visitor was (not a file path), the model list and the import fields are not cut, and the
person lists are as wide as the longest name."""

from __future__ import annotations

from datetime import date

import pytest

from core.vision.fusion_specs import FUSED_MODEL

pytest.importorskip("pytestqt")

pass


def test_a_camera_or_recording_is_named_as_a_place():
    from gui.text import place_name, places

    assert place_name("/srv/cameras/north-door.mp4") == "north-door"
    assert place_name("C:\\Video\\Front Desk.avi") == "Front Desk"
    assert place_name("rtsp://admin:pw@10.0.0.7:554/stream1") == "10.0.0.7:554"
    assert place_name("camera 0") == "camera 0"
    assert places(["/a/door.mp4", "/b/door.mp4", "lobby"]) == "door, lobby"


def test_a_time_that_cannot_be_read_is_explained_with_examples_not_a_standard():
    from zoneinfo import ZoneInfo

    from core.attendance.event_import import parse_time
    from core.base.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as refused:
        parse_time("13/10/2026 08:10", ZoneInfo("UTC"))
    assert "ISO" not in str(refused.value) and "2026-12-01 08:00" in str(refused.value)


def fits(widget, text: str, padding: int = 8) -> bool:
    return widget.fontMetrics().horizontalAdvance(text) + padding <= widget.width()


def test_the_audit_names_people_and_places(qtbot, window, engine):  # noqa: F811 (fixture)
    ada = engine.store.add_person("Ada Lovelace")
    office = engine.add_group("Office", "08:00", "16:00").value
    engine.assign_group(ada.id, office.id)
    engine.assign_group(ada.id, None)
    engine.add_holiday(date(2026, 12, 25), "Christmas Day")
    panel = window.show_panel("attendance")
    audit = panel.show_view(panel.audit_view)
    rows = [[audit.table.item(r, c).text() for c in range(audit.table.columnCount())] for r in range(3)]
    holiday, left, joined = rows
    assert "for the whole site" in holiday[6] and "group id" not in holiday[6], holiday
    assert left[3] == "Ada Lovelace" and "person " not in left[3] and "no group" in left[6], left
    assert joined[6] == "group Office"


def test_model_and_import_texts_are_whole_at_1024(qtbot, window, engine):  # noqa: F811 (fixture)
    from gui.settings_dialog import SettingsDialog

    window.resize(1024, 700)
    dialog = SettingsDialog(engine, window)
    qtbot.addWidget(dialog)
    dialog.show()
    for index in range(dialog.pages.count()):
        dialog.pages.setCurrentRow(index)
        if dialog.model.isVisible():
            break
    texts = [dialog.model.itemText(i) for i in range(dialog.model.count())]
    assert all("normalise" not in text for text in texts), texts
    dialog.model.setCurrentIndex(dialog.model.findData(FUSED_MODEL))
    assert fits(dialog.model, dialog.model.currentText(), 30), dialog.model.currentText()
    dialog.reject()

    panel = window.show_panel("attendance")
    page = panel.show_view(panel.import_page)
    qtbot.wait(20)
    for field in (page.path_edit, page.station_edit):
        assert fits(field, field.placeholderText()), field.placeholderText()


def test_person_lists_show_the_longest_name_whole(qtbot, window, engine):  # noqa: F811 (fixture)
    name = "Renée Elise Goldsberry-Washington"
    engine.store.add_person(name)
    engine.add_group("Office", "08:00", "16:00")
    panel = window.show_panel("attendance")
    window.resize(1024, 700)
    for page in (panel.groups_page, panel.roster_page):
        panel.show_view(page)
        page.refresh() if page is panel.groups_page else page.reload_choices()
        qtbot.waitUntil(lambda page=page: fits(page.person_box, name, 24), timeout=2000)  # the layout settles
        assert fits(page.person_box, name, 24), f"{type(page).__name__}: {page.person_box.width()} px"


def test_a_holiday_row_reads_whole_in_the_frozen_column(qtbot, window, engine):  # noqa: F811 (fixture)
    year = engine.site_today().year
    engine.add_holiday(date(year, 12, 25), "Christmas Day")
    panel = window.show_panel("attendance")
    page = panel.show_view(panel.calendar_page)
    window.resize(1024, 700)
    page.refresh()
    qtbot.wait(20)
    frozen = page.table.freezer.frozen
    assert page.table.item(0, 0).text() == "Fri 25 Dec" if date(year, 12, 25).weekday() == 4 else True
    assert frozen.viewport().width() >= frozen.sizeHintForColumn(0), (
        f"{frozen.viewport().width()} px shown of {frozen.sizeHintForColumn(0)}"
    )
