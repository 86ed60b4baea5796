"""Shifts, default shifts, assignments and rotations travel in a site's HR book like groups do: a station that
applies the admin station's book computes the same roster and the same days."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.app.engine import Engine
from core.base.settings import Settings
from core.base.timekeeping import HoursMode

ZONE = "Europe/London"


def test_the_hr_book_carries_shifts_assignments_and_rotations(rollcall_home, tmp_path):
    settings = Settings()
    settings.attendance.time_zone = ZONE
    admin = Engine(settings)
    admin.clock = lambda: datetime(2026, 12, 5, 12, 0, tzinfo=ZoneInfo(ZONE))
    night = admin.add_shift(
        "Night",
        "22:00",
        "06:00",
        days="mon-sun",
        checkin_before=60,
        checkout_after=60,
        half_day_below=4,
        hours=HoursMode.PAIRS,
        actor="hr",
    ).value
    admin.add_shift("Day", "08:00", "16:00", days="mon-fri", late_grace=5, early_grace=10, actor="hr")
    group = admin.add_group("Plant", "06:00", "14:00", 0, "mon-sat", 0, actor="hr").value
    admin.set_group_shift(group.id, night.id, actor="hr")
    people = [admin.store.add_person(name) for name in ("Ada", "Bob", "Cy")]
    for person in people:
        admin.assign_group(person.id, group.id, actor="hr")
    admin.assign_shift(people[0].id, admin.find_shift("Day").id, date(2026, 11, 2), date(2026, 11, 6), actor="hr")
    admin.rotate_shift(people[1].id, "Day,Night,off", date(2026, 10, 30), actor="hr")
    book = json.loads(json.dumps(admin.store.hr_book()))
    expected = admin.roster(date(2026, 10, 28), date(2026, 11, 10))
    admin.close()

    kiosk_home = tmp_path / "kiosk"
    kiosk_home.mkdir()
    shutil.copy(settings.database_path, kiosk_home / "rollcall.db")  # the same people (by UUID)
    kiosk_settings = Settings()
    kiosk_settings.attendance.time_zone = ZONE
    kiosk_settings.storage.data_dir = str(kiosk_home)
    with Engine(kiosk_settings) as kiosk:
        assert kiosk.store.apply_hr_book({}) == 0  # an empty book clears every HR table, shifts too
        assert kiosk.shifts() == [] and kiosk.store.shift_rotations() == []
        assert kiosk.store.apply_hr_book(book) == 0
        assert kiosk.roster(date(2026, 10, 28), date(2026, 11, 10)) == expected
        assert {s.name: s.schedule for s in kiosk.shifts()}["Night"] == night.schedule
        assert kiosk.groups()[0].shift_id == night.id
