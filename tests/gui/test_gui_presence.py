"""One count of "present": Today, the Sightings summary and the timesheet agree, a manual punch included."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

pytest.importorskip("pytestqt")

from core.attendance.book import AttendanceBook  # noqa: E402
from tests.kits.paths import dev_people, dev_photos  # noqa: E402


def test_today_sightings_and_timesheet_count_a_manual_punch_alike(window, engine):  # noqa: F811 (fixture)
    people = dev_people()[:3]
    names = [p.name.replace("_", " ") for p in people]
    for person, name in zip(people, names, strict=True):
        engine.enroll_files(name, dev_photos(person)[:1])
    ids = [engine.find_person(name).id for name in names]
    engine.add_group("Office", "08:00", "17:00", days="mon-sun")
    for person_id in ids:
        engine.assign_group(person_id, engine.find_group("Office").id)
    day = engine.site_today()
    at = lambda hour: datetime.combine(day, time(hour)).replace(tzinfo=engine.site_zone())  # noqa: E731
    engine.clock = lambda: at(23).astimezone(UTC)
    AttendanceBook(engine.store).observe(ids[0], 0.9, "door", when=at(8))  # seen by a camera
    AttendanceBook(engine.store).observe(ids[0], 0.9, "door", when=at(17))
    engine.punch(ids[1], at(9).replace(tzinfo=None), "forgot her badge")  # present by a manual punch only

    panel = window.show_panel("attendance")
    today = panel.show_view(panel.today_view)
    today.day_edit.setDate(today.day_edit.date().fromString(day.isoformat(), "yyyy-MM-dd"))
    today.refresh()
    assert today.summary_label.text().startswith("2 present"), today.summary_label.text()
    panel.set_range(day, day)
    assert panel.table.rowCount() == 1, "the sightings list only what a camera saw"
    assert panel.summary_label.text().startswith("2 people present"), panel.summary_label.text()
    assert "1 by a manual punch" in panel.summary_label.text()
    sheet = engine.timesheet(day)
    attended = sum(1 for row in sheet.rows for d in row.days if d.day == day and d.status.attended)
    assert attended == engine.presence(day, day).count == 2
