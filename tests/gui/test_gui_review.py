"""The Review panel offscreen: unknown visitors grouped with snapshots; enroll, add to a person and dismiss
through the engine, the list following the engine's changes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytest.importorskip("pytestqt")

from core.base.timekeeping import AuditAction  # noqa: E402
from tests.kits.gui import WAIT_MS  # noqa: E402,F401 (fixtures)
from tests.kits.paths import dev_people, dev_photos  # noqa: E402
from tests.kits.sightings import store_sighting  # noqa: E402


def photos(name: str):
    return dev_photos(next(p for p in dev_people() if p.name == name))


def test_review_panel_enrolls_adds_and_dismisses_groups(qtbot, engine, faces, dialogs, request):  # noqa: F811
    engine.enroll_files("Colin Powell", photos("Colin_Powell")[:3])
    now = datetime.now().astimezone()
    naomi = [
        store_sighting(engine, p, now - timedelta(hours=3 - i), f"door {i % 2 + 1}")
        for i, p in enumerate(photos("Naomi_Watts")[:3])
    ]
    tony = [store_sighting(engine, p, now, "door 1") for p in photos("Tony_Blair")[:2]]
    hugo = [store_sighting(engine, photos("Hugo_Chavez")[0], now, "door 2")]

    window = request.getfixturevalue("window")  # noqa: F811
    panel = window.show_panel("review")
    assert window.current_panel() == "review"
    qtbot.waitUntil(lambda: not panel.is_refreshing() and panel.group_list.count() == 3, timeout=WAIT_MS)
    assert sorted(g.id for g in panel.groups) == sorted([naomi[0], tony[0], hugo[0]])
    first_item = panel.group_list.item(0)
    assert not first_item.icon().isNull() and "sighting" in first_item.text()
    assert "3 groups, 6 unknown faces" == panel.count_label.text()

    panel.select_group(naomi[0])
    assert panel.faces_view.count() == 3 and "door 1, door 2" in panel.info_label.text()
    panel.enroll_current(name="Naomi Watts")
    qtbot.waitUntil(lambda: panel.job is None and panel.group_list.count() == 2, timeout=WAIT_MS)
    person = engine.find_person("Naomi Watts")
    assert len(engine.samples(person.id)) == 3 and "Saved 3 face samples" in panel.message_bar.text()
    assert naomi[0] not in [g.id for g in panel.groups], "the list follows the engine's changes"

    colin = engine.find_person("Colin Powell")
    panel.select_group(tony[0])
    panel.assign_current(person_id=colin.id)
    qtbot.waitUntil(lambda: panel.job is None and panel.group_list.count() == 1, timeout=WAIT_MS)
    assert len(engine.samples(colin.id)) == 3 + 2
    assert engine.audit_log(limit=1)[0].action is AuditAction.UNKNOWN_ASSIGN
    # The sightings count as Colin's attendance: the day board shows him seen, and Undo takes it all back.
    today_view = window.attendance_panel.today_view
    today_view.refresh()
    assert today_view.status_of("Colin Powell").status.attended  # both at one second: one punch
    assert "2 sightings now count as Colin Powell's attendance" in panel.message_bar.text()
    assert panel.message_bar.action_button.isVisible() and panel.message_bar.action_button.text() == "Undo"
    panel.message_bar.action_button.click()
    qtbot.waitUntil(lambda: panel.job is None and panel.group_list.count() == 2, timeout=WAIT_MS)
    assert len(engine.samples(colin.id)) == 3 and tony[0] in [g.id for g in panel.groups]
    assert panel.message_bar.text().startswith("Undone: unknown visitor") and not panel.message_bar.is_refusal()
    today_view.refresh()
    colin_today = today_view.status_of("Colin Powell")
    assert colin_today.punches == 0 and not colin_today.status.attended
    panel.select_group(tony[0])
    panel.assign_current(person_id=colin.id)
    qtbot.waitUntil(lambda: panel.job is None and panel.group_list.count() == 1, timeout=WAIT_MS)

    panel.select_group(hugo[0])
    panel.dismiss_button.click()  # asks first (answered yes)
    qtbot.waitUntil(lambda: panel.job is None and panel.group_list.count() == 0, timeout=WAIT_MS)
    assert any("Dismiss unknown visitor" in text for kind, text in dialogs.shown if kind == "question")
    assert panel.count_label.text() == "No unknown visitors to review"
    assert not panel.enroll_button.isEnabled() and not dialogs.errors()
    # Dismissed visitors are listed, and one can be restored to review.
    dismissed = panel.open_dismissed()
    assert [v.id for v in dismissed.visitors()] == [hugo[0]]
    assert "door 2" in dismissed.visitor_list.item(0).text()
    dismissed.restore_current()
    qtbot.waitUntil(lambda: panel.job is None and panel.group_list.count() == 1, timeout=WAIT_MS)
    assert "back in review" in panel.message_bar.text() and engine.dismissed_unknowns() == []


def test_review_panel_shows_a_refused_enrollment(qtbot, engine, faces, dialogs, request):  # noqa: F811
    engine.enroll_files("Colin Powell", photos("Colin_Powell")[:3])
    store_sighting(engine, photos("Tony_Blair")[0], datetime.now().astimezone(), "door")
    window = request.getfixturevalue("window")  # noqa: F811
    panel = window.show_panel("review")
    qtbot.waitUntil(lambda: not panel.is_refreshing() and panel.group_list.count() == 1, timeout=WAIT_MS)
    panel.enroll_current(name="colin powell")
    qtbot.waitUntil(lambda: panel.job is None, timeout=WAIT_MS)
    assert "already enrolled" in panel.message_bar.text() and panel.message_bar.is_refusal()
    top = panel.message_bar.mapTo(panel, panel.message_bar.rect().topLeft()).y()
    assert top < panel.group_list.mapTo(panel, panel.group_list.rect().topLeft()).y(), "at the top, where one looks"
    assert panel.group_list.count() == 1 and engine.find_person("Colin Powell").id
