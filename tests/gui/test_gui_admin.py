"""Admin side of the GUI: the admin PIN guard, a damaged database at start-up, and a lost camera."""

from __future__ import annotations

import json
import threading

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QDialog, QMessageBox  # noqa: E402

from tests.kits.gui import (
    PIN,
    WAIT_MS,  # noqa: E402,F401 (fixtures)
    PinAnswers,
)


@pytest.fixture
def pin_window(window, engine, monkeypatch):
    from core.base.security import hash_pin

    engine.settings.security.admin_pin_hash = hash_pin(PIN)
    return window


def test_pin_guards_admin_panels_and_settings_but_not_recognize(qtbot, pin_window, dialogs, monkeypatch):
    from gui.settings_dialog import SettingsDialog

    window = pin_window
    pins = PinAnswers(monkeypatch)
    opened: list[SettingsDialog] = []
    monkeypatch.setattr(SettingsDialog, "exec", lambda self: (opened.append(self), QDialog.DialogCode.Rejected)[1])

    # A wrong PIN, then Cancel: the panel stays locked and the second prompt says why.
    pins.answers = ["1111", None]
    window.show_panel("enroll")
    assert window.current_panel() == "recognize" and window.nav.currentRow() == 0
    assert pins.asked == 2 and pins.messages[1].startswith("Wrong PIN. 4 tries left")
    window.show_panel("people")
    assert window.current_panel() == "recognize" and pins.asked == 3
    window.open_settings()
    assert not opened and pins.asked == 4

    # The right PIN opens the admin panels; it stays unlocked while the admin works.
    pins.answers = [PIN]
    assert window.show_panel("people") is window.people_panel
    assert window.current_panel() == "people" and pins.asked == 5
    window.show_panel("enroll")
    window.show_panel("attendance")
    window.show_panel("models")
    window.open_settings()
    assert window.current_panel() == "models" and pins.asked == 5 and len(opened) == 1
    assert window.lock_button.isVisibleTo(window)

    # Back at Recognize the guard locks again; Recognize itself never asks.
    window.show_panel("recognize")
    assert not window.guard.is_unlocked() and not window.lock_button.isVisibleTo(window)
    window.show_panel("enroll")
    assert window.current_panel() == "recognize" and pins.asked == 6

    # Lock, and inactivity, send an unlocked admin back to Recognize.
    pins.answers = [PIN, PIN]
    window.show_panel("people")
    window.lock_button.click()
    assert window.current_panel() == "recognize"
    window.show_panel("enroll")
    assert window.current_panel() == "enroll" and pins.asked == 8
    window.guard._timer.timeout.emit()  # UNLOCK_MINUTES without a click or key
    assert window.current_panel() == "recognize" and not window.guard.is_unlocked()
    assert not dialogs.errors()


def test_five_wrong_pins_pause_the_guard(qtbot, pin_window, dialogs, monkeypatch):
    window = pin_window
    pins = PinAnswers(monkeypatch)
    now = [1000.0]
    monkeypatch.setattr(window.guard, "_clock", lambda: now[0])

    pins.answers = ["0000"] * 5
    window.show_panel("people")
    assert pins.asked == 5 and window.current_panel() == "recognize"
    assert "5 times in a row" in dialogs.errors()[-1] and "30 seconds" in dialogs.errors()[-1]

    pins.answers = [PIN]
    now[0] += 10
    window.show_panel("people")  # still paused: no prompt at all, even with the right PIN ready
    assert pins.asked == 5 and window.current_panel() == "recognize"
    assert "Wait 20 seconds" in dialogs.errors()[-1]

    now[0] += 21
    window.show_panel("people")
    assert pins.asked == 6 and window.current_panel() == "people"


def test_settings_store_the_pin_only_as_a_scrypt_hash(qtbot, window, dialogs, engine):
    from core.base.security import verify_pin
    from core.base.settings import Settings
    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(engine, window)
    dialog.pin_edit.setText(PIN)
    dialog.pin_repeat.setText(PIN + "0")
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "not the same" in dialogs.errors()[-1] and not engine.settings.security.admin_pin_hash

    dialog.pin_repeat.setText(PIN)
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.pin_changed
    window.settings_applied(dialog)
    text = Settings.file_path().read_text(encoding="utf-8")
    stored = json.loads(text)["security"]["admin_pin_hash"]
    assert stored.startswith("scrypt$") and verify_pin(PIN, stored) and not verify_pin("000000", stored)
    assert PIN not in text
    assert window.guard.enabled and window.guard.is_unlocked()  # the admin who set it is not asked at once
    assert window.lock_button.isVisibleTo(window)

    too_short = SettingsDialog(engine, window)
    too_short.pin_edit.setText("12")
    too_short.pin_repeat.setText("12")
    too_short.accept()
    assert "at least 4" in dialogs.errors()[-1] and Settings.load().security.admin_pin_hash == stored

    remove = SettingsDialog(engine, window)
    remove.remove_pin.setChecked(True)
    remove.accept()
    window.settings_applied(remove)
    assert Settings.load().security.admin_pin_hash == "" and not window.guard.enabled
    assert not window.lock_button.isVisibleTo(window)


def _damaged_database_with_backup(settings):
    from core.gallery.store import GalleryStore

    with GalleryStore(settings.database_path) as store:
        store.add_person("Ada Backup")
        backup = store.backup_to(settings.backups_path / "rollcall-2024-05-01.db")
    settings.database_path.write_bytes(b"this is not a database" * 200)
    for suffix in ("-wal", "-shm"):
        settings.database_path.with_name(settings.database_path.name + suffix).unlink(missing_ok=True)
    return backup


def test_damaged_database_offers_the_latest_backup_and_keeps_the_damaged_file(qtbot, dialogs, monkeypatch):
    import gui.admin as admin
    from core.base.settings import Settings, StorageSettings

    settings = Settings(storage=StorageSettings(backups_kept=0))
    backup = _damaged_database_with_backup(settings)

    # The real dialog names the backup's date and says the damaged file is kept.
    shown: list[tuple[str, str, list[str]]] = []

    def click_restore(box):
        buttons = [b.text() for b in box.buttons()]
        shown.append((box.text(), box.informativeText(), buttons))
        next(b for b in box.buttons() if b.text().startswith("Restore")).click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", click_restore)
    assert admin.ask_restore_backup(None, "The database is damaged.", backup, settings.database_path)
    text, info, buttons = shown[0]
    assert "cannot open its database" in text and "The database is damaged." in text
    assert "Restore the latest backup (01 May 2024)" in buttons and "Quit" in buttons
    assert "damaged file is kept" in info

    # Start-up: the user restores; the engine opens on the backup and the damaged file is still there.
    offered: list[tuple[str, object]] = []
    monkeypatch.setattr(
        admin,
        "ask_restore_backup",
        lambda parent, message, found, database: (offered.append((message, found)), True)[1],
    )
    closed_splash: list[bool] = []
    engine = admin.open_engine(settings, before_dialog=lambda: closed_splash.append(True))
    try:
        assert engine is not None and closed_splash
        assert [p.name for p in engine.store.list_people()] == ["Ada Backup"]
    finally:
        engine.close()
    assert offered[0][1] == backup and "not a Rollcall database or is damaged" in offered[0][0]
    kept = list(settings.database_path.parent.glob("rollcall.db.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"this is not a database")


def test_damaged_database_quit_leaves_everything_in_place(qtbot, qapp, dialogs, monkeypatch):
    import gui.admin as admin
    import gui.app as app_module
    from core.base.settings import Settings

    settings = Settings()
    _damaged_database_with_backup(settings)
    monkeypatch.setattr(app_module, "install_excepthook", lambda path: None)
    monkeypatch.setattr(app_module, "setup_logging", lambda settings: None)
    monkeypatch.setattr(qapp, "setStyleSheet", lambda sheet: None)
    asked: list[object] = []
    monkeypatch.setattr(admin, "ask_restore_backup", lambda *args: (asked.append(args), False)[1])
    assert app_module.main([]) == 1
    assert len(asked) == 1
    assert settings.database_path.read_bytes().startswith(b"this is not a database")
    assert not list(settings.database_path.parent.glob("rollcall.db.damaged-*"))


def test_camera_lost_messages_reach_the_recognize_panel(qtbot, window, dialogs, monkeypatch):
    import core.app.engine as engine_module
    from core.base.errors import SourceError
    from core.live.sources import FrameSource

    release = threading.Event()
    opened: list[dict] = []

    class LostCamera(FrameSource):
        """A live source that drops at once, reports its reconnect tries, then gives up."""

        def __init__(self, on_status, stop_event):
            super().__init__("camera 9", stop_event)
            self.on_status = on_status

        @property
        def fps(self):
            return None

        @property
        def is_live(self):
            return True

        def read(self):
            self.on_status("Camera lost, reconnecting (try 2 of 5)…")
            while not (release.wait(0.05) or self.stopped):
                pass
            if self.stopped:
                return None
            self.on_status("Camera lost; gave up after 5 tries.")
            raise SourceError("Camera 9 stopped delivering frames and did not come back. Check the cable.")

    def fake_open_source(spec, **kwargs):
        opened.append(kwargs)
        return LostCamera(kwargs.get("on_status"), kwargs.get("stop_event"))

    monkeypatch.setattr(engine_module, "open_source", fake_open_source)
    panel = window.show_panel("recognize")
    banners: list[str] = []
    original = panel.view.set_banner
    monkeypatch.setattr(
        panel.view, "set_banner", lambda text, kind="info": (banners.append(text), original(text, kind))
    )
    panel.start("9")
    try:
        qtbot.waitUntil(lambda: "Camera lost, reconnecting (try 2 of 5)…" in banners, timeout=WAIT_MS)
        assert callable(opened[0]["on_status"])
        assert "reconnecting (try 2 of 5)" in window.statusBar().currentMessage()
        assert panel.is_running()  # still waiting for the camera, not failed
    finally:
        release.set()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=WAIT_MS)
    assert dialogs.errors() == ["Camera 9 stopped delivering frames and did not come back. Check the cable."]
    assert panel.view.banner == "Stopped: the source failed" and panel.start_button.isEnabled()
