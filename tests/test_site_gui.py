"""Settings → Site joins a site from the GUI; the status bar shows the connection and the queue."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from core.site.service import SiteRole  # noqa: E402
from tests.site_kit import enroll, station, write_events  # noqa: E402
from tests.test_gui_flow import WAIT_MS, dialogs, window  # noqa: E402,F401 (fixtures)


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
    dialog.reject()
    admin.close()
