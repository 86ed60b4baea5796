"""Recognize's "Marked present" list after a restart: it shows who was already marked today (it was empty,
though people had been present that day)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from core.attendance.book import AttendanceBook
from core.attendance.schedule import localize
from tests.kits.paths import dev_people, dev_photos


def test_a_restarted_window_lists_who_was_marked_today(qtbot, engine):
    from gui.panels.recognize import RecognizePanel

    names = []
    for person in dev_people()[:2]:
        name = person.name.replace("_", " ")
        engine.enroll_files(name, dev_photos(person)[:2])
        names.append(name)
    book = AttendanceBook(engine.store, engine.settings.attendance)
    today, zone = engine.site_today(), engine.site_zone()
    day_start = localize(datetime.combine(today, time()), zone)
    for minute, name in enumerate(names, start=1):  # first sightings just after midnight, site time
        book.observe(engine.find_person(name).id, 0.9, "door", when=day_start + timedelta(minutes=minute))
    book.observe(engine.find_person(names[0]).id, 0.9, "door", when=day_start - timedelta(hours=12))

    panel = RecognizePanel(engine)  # as the window builds it at start-up
    qtbot.addWidget(panel)
    shown = [panel.marked_list.item(row).text().split("\n")[0] for row in range(panel.marked_list.count())]
    assert shown == [names[1], names[0]]  # newest on top; yesterday's sighting left out
    assert panel.marked_count.text() == "2"
