"""The Attendance panel's Today view with a real enrolled person in no group: the summary counts that
person instead of saying that nobody is enrolled."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from core.base.timekeeping import DayStatus  # noqa: E402
from tests.kits.paths import dev_people, dev_photos  # noqa: E402


def test_today_summary_counts_an_enrolled_person_in_no_group(window, engine):
    person = dev_people()[0]
    name = person.name.replace("_", " ")
    assert engine.enroll_files(name, dev_photos(person)[:3]).value.samples_added == 3

    panel = window.show_panel("attendance")
    today = panel.show_view(panel.today_view)
    assert today.table.rowCount() == 1 and today.table.item(0, 0).text() == name
    assert today.status_of(name).status is DayStatus.UNSCHEDULED
    assert "Nobody is enrolled" not in today.summary_label.text()
    assert today.summary_label.text() == "0 present · 1 unscheduled"
