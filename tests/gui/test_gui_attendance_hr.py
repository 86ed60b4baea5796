"""The Attendance panel's HR views in the real main window: Today, a correction with its reason,
Timesheet (export, lock), History, Charts, Audit; and late arrivals in the Recognize side list."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog  # noqa: E402

from core.base.records import AttendanceEvent, EventKind  # noqa: E402
from core.base.timekeeping import AuditAction, DayStatus  # noqa: E402


@pytest.fixture
def office(engine):
    """Two people in a group whose day started two hours ago (no grace); Ada arrived an hour late."""
    now = datetime.now(engine.site_zone())
    start = max(now - timedelta(hours=2), now.replace(hour=0, minute=0, second=0, microsecond=0))
    if now - start < timedelta(minutes=5):
        pytest.skip("too close to midnight for a shift that started before now on the same day")
    group = engine.add_group("Office", f"{start:%H:%M}", f"{now + timedelta(hours=3):%H:%M}", 0, "mon-sun").value
    ada = engine.store.add_person("Ada")
    bob = engine.store.add_person("Bob")
    for person in (ada, bob):
        engine.assign_group(person.id, group.id)
    late = start.replace(second=0, microsecond=0) + timedelta(minutes=3)
    event = engine.store.record_event(AttendanceEvent(None, ada.id, None, EventKind.CHECK_IN, late, "cam", 0.9))
    return ada, bob, event, start


def test_today_board_correction_dialog_timesheet_history_charts_audit(
    qtbot, window, dialogs, engine, office, tmp_path, monkeypatch
):
    from gui.correction_dialog import CorrectionDialog

    ada, bob, event, start = office
    panel = window.show_panel("attendance")
    today = panel.show_view(panel.today_view)
    assert today.status_of("Ada").status is DayStatus.LATE and today.status_of("Ada").late_minutes == 3
    assert today.status_of("Bob").status is DayStatus.ABSENT
    assert "1 late" in today.summary_label.text() and "1 absent" in today.summary_label.text()

    # A manual punch for Bob: Save stays disabled until a reason is typed.
    today.table.selectRow(next(r for r in range(2) if today.table.item(r, 0).text() == "Bob"))
    dialog = today.open_correction()
    assert isinstance(dialog, CorrectionDialog) and dialog.person_box.currentData() == bob.id
    dialog.time_edit.setDateTime(start.replace(tzinfo=None, second=0, microsecond=0))
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    assert not save.isEnabled() and "reason is required" in dialog.message_label.text()
    dialog.reason_edit.setText("forgot to look at the camera")
    assert save.isEnabled()
    save.click()
    qtbot.waitUntil(lambda: today.status_of("Bob").status is DayStatus.PRESENT, timeout=5000)

    # Reassigning Ada's event to Bob makes Ada absent; the raw event is unchanged.
    dialog = CorrectionDialog(engine, start.date(), ada.id, today)
    dialog.reassign_radio.setChecked(True)
    dialog.event_box.setCurrentIndex(dialog.event_box.findData(event.id))
    dialog.target_box.setCurrentIndex(dialog.target_box.findData(bob.id))
    dialog.reason_edit.setText("look-alike")
    dialog.save()
    assert today.status_of("Ada").status is DayStatus.ABSENT
    assert engine.event(event.id).person_id == ada.id

    audit = panel.show_view(panel.audit_view)
    actions = [audit.table.item(r, 2).text() for r in range(audit.table.rowCount())]
    assert actions[:2] == ["reassign", "punch"]
    assert audit.table.item(1, 5).text() == "forgot to look at the camera" and audit.table.item(1, 4).text() == "Bob"

    sheet = panel.show_view(panel.timesheet_view)
    assert sheet.model.rowCount() == 2 and "2 people" in sheet.summary_label.text()
    out = tmp_path / "month"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    sheet.export_xlsx_button.click()
    assert (tmp_path / "month.xlsx").stat().st_size > 0
    sheet.lock_button.click()  # asks first: the consequence, and a reason
    assert sheet.month() not in engine.locked_months() and not sheet.lock_dialog.action_button.isEnabled()
    assert "final" in sheet.lock_dialog.consequence_label.text()
    sheet.lock_dialog.reason_edit.setText("payroll closed")
    sheet.lock_dialog.action_button.click()
    qtbot.waitUntil(lambda: "locked" in sheet.summary_label.text(), timeout=5000)
    assert sheet.month() in engine.locked_months() and engine.audit_log(1)[0].reason == "payroll closed"
    sheet.lock_button.click()
    sheet.lock_dialog.reason_edit.setText("payroll re-run")
    sheet.lock_dialog.action_button.click()
    assert sheet.month() not in engine.locked_months()
    assert engine.audit_log(1)[0].action is AuditAction.MONTH_UNLOCK

    history = panel.show_view(panel.history_view)
    history.show_person(bob.id)
    assert history.table.rowCount() == engine.settings.attendance.history_days
    assert history.table.item(0, 3).text() == "Present"

    charts = panel.show_view(panel.charts_view)
    # Bob came at the start (his punch); Ada's late arrival now counts for Bob, so nobody is late.
    assert len(charts.plots) == 3 and sum(charts.series[1].values) == 1 and charts.series[2].labels == ()
    assert not dialogs.errors()


def test_recognize_list_shows_a_late_arrival_differently(qtbot, window, engine, office):
    ada, bob, event, _ = office
    panel = window.show_panel("recognize")
    panel._add_event(engine.event(event.id))
    item = panel.marked_list.item(0)
    assert item.text().splitlines()[1].startswith("Late 3 min")
    assert item.data(Qt.ItemDataRole.UserRole + 1) == 3
    assert item.background().color().name() != panel.marked_list.palette().base().color().name()


def test_people_panel_sets_the_group(qtbot, window, engine, office):
    ada, bob, _, _ = office
    night = engine.add_group("Night", "22:00", "06:00", 0, "mon-fri").value
    panel = window.show_panel("people")
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.is_refreshing(), timeout=5000)
    panel.select_person(bob.id)
    assert panel.group_box.currentText() == "Office"
    panel.group_box.setCurrentIndex(panel.group_box.findData(night.id))
    panel.group_box.activated.emit(panel.group_box.currentIndex())
    assert engine.person_group(bob.id) == night
    assert engine.audit_log(1)[0].action is AuditAction.GROUP_ASSIGN and engine.audit_log(1)[0].person_id == bob.id


def test_settings_take_the_site_time_zone_and_refuse_a_wrong_one(qtbot, window, dialogs, engine):
    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(engine, window)
    dialog.time_zone.setEditText("Mars/Olympus_Mons")
    dialog.accept()
    assert "not a time zone" in dialogs.errors()[-1] and engine.settings.attendance.time_zone == ""
    dialog.time_zone.setCurrentIndex(dialog.time_zone.findData("Europe/Berlin"))
    dialog.accept()
    assert engine.settings.attendance.time_zone == "Europe/Berlin"
    assert str(engine.site_zone()) == "Europe/Berlin"
