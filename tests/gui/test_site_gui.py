"""Settings → Site joins a site from the GUI; the status bar shows the connection and the queue."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from core.site.service import SiteRole  # noqa: E402
from core.site.trust import record_refused, record_skipped  # noqa: E402
from tests.kits.gui import WAIT_MS
from tests.kits.site_kit import enroll, station, write_events  # noqa: E402


def test_join_from_settings_then_status_bar_shows_queue(qtbot, window, engine, pg, tmp_path):
    from gui.settings_dialog import SettingsDialog

    cluster, url = pg
    admin = station(tmp_path / "admin")
    enroll(admin.store, "Ada Lovelace", seed=1)
    admin.init(url)
    assert not window.site_label.isVisible()  # standalone: nothing about sites in the status bar

    dialog = SettingsDialog(engine, window)
    assert not dialog.sync_button.isEnabled() and dialog.join_button.isEnabled()
    dialog.site_url.setText(url)
    dialog.kiosk_name.setText("gui kiosk")
    dialog.join_button.click()
    qtbot.waitUntil(lambda: dialog.site_job is None, timeout=WAIT_MS)
    assert engine.site.role is SiteRole.KIOSK
    assert "Kiosk 'gui kiosk'" in dialog.site_state.text() and dialog.site_url.text() == ""
    assert dialog.sync_button.isEnabled() and not dialog.join_button.isEnabled()
    assert cluster.password not in dialog.site_state.text()
    qtbot.waitUntil(lambda: "Site: kiosk gui kiosk" in window.site_label.text(), timeout=WAIT_MS)
    assert "Gallery: 1 person" in window.gallery_label.text()
    today = window.show_panel("attendance").today_view
    today.refresh()
    assert not today.correct_button.isEnabled() and "admin station" in today.correct_button.toolTip()

    engine.stop_site_sync()
    cluster.stop()
    try:
        write_events(engine.store, 4)
        dialog.sync_button.click()
        qtbot.waitUntil(lambda: dialog.site_job is None, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: "offline · 4 queued" in window.site_label.text(), timeout=WAIT_MS)
        assert "cannot be reached" in window.site_label.toolTip()
    finally:
        cluster.start()
    dialog.sync_button.click()
    qtbot.waitUntil(lambda: dialog.site_job is None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "connected · 0 queued" in window.site_label.text(), timeout=WAIT_MS)
    record_skipped(engine.store, [("north", "3f0c", "similarity nan is not a number from -1 to 1")])
    dialog.site.show_state()  # the site page lists a row this station could not use, with its station and why
    assert "Skipped 1 row of other stations" in dialog.site_state.text()
    assert "'north', row 3f0c: similarity nan" in dialog.site_state.text()
    record_refused(engine.store, [("9a1b", "event dated 2099-01-01: the server takes times from …")])
    dialog.site.show_state()  # and this station's own events the server refused, kept here
    assert "The server refused 1 event of this station (kept here)" in dialog.site_state.text()
    dialog.reject()
    admin.close()


def test_an_admin_stations_attendance_report_is_read_off_the_gui_thread(qtbot, window, engine, pg, monkeypatch):
    """The admin's report reads every kiosk's events from the server: a network call, never on the GUI thread."""
    import threading

    from core.base.records import DayRow

    _, url = pg
    enroll(engine.store, "Ada Lovelace", seed=1)
    engine.site_init(url)
    assert engine.reports_from_server
    read_on: list[threading.Thread] = []
    original = type(engine).range_report

    def recording(self, start, end) -> list[DayRow]:
        read_on.append(threading.current_thread())
        return original(self, start, end)

    monkeypatch.setattr(type(engine), "range_report", recording)
    panel = window.show_panel("attendance")
    panel.refresh()
    qtbot.waitUntil(lambda: bool(read_on) and not panel.is_refreshing(), timeout=WAIT_MS)
    assert all(thread is not threading.main_thread() for thread in read_on), read_on
    assert panel.rows == [] and "present" in panel.summary_label.text()
    engine.stop_site_sync()
