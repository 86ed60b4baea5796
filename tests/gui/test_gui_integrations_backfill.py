"""Settings → Integrations: Backfill… sends an existing period to the selected target (off the GUI thread, with
progress), an ERPNext target takes the station's place, and Cancel on the Settings dialog undoes a target
added in it (OK keeps it)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QDialog  # noqa: E402

from core.base.records import EventKind  # noqa: E402
from core.integrations.targets import TargetKind  # noqa: E402
from gui.integrations_settings import AddTargetDialog, BackfillDialog  # noqa: E402
from tests.kits.fake_erpnext import FakeErpnext  # noqa: E402
from tests.kits.integration_kit import at, make_engine, people, sight  # noqa: E402

WAIT_MS = 8_000


@pytest.fixture
def engine(rollcall_home):
    engine = make_engine()
    engine.integration_policy = dataclasses.replace(engine.integration_policy, interval_s=3600.0)
    yield engine
    engine.close()


def settings_page(qtbot, engine):
    from gui.settings_dialog import SettingsDialog

    settings = SettingsDialog(engine)
    qtbot.addWidget(settings)
    return settings, settings.integrations


def add_erpnext_in_dialog(monkeypatch, page, erp: FakeErpnext, place: str) -> None:
    def fill(dialog: AddTargetDialog) -> int:
        dialog.kind.setCurrentIndex(dialog.kind.findData(TargetKind.ERPNEXT))
        assert dialog.place.isVisibleTo(dialog) and not dialog.database.isVisibleTo(dialog)
        dialog.name.setText("erp")
        dialog.url.setText(erp.url)
        dialog.secret.setText(erp.token.removeprefix("token "))
        dialog.place.setText(place)
        dialog.shift_types.setText("Day, Night")
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(AddTargetDialog, "exec", fill)
    page.add_button.click()


def test_cancel_on_settings_undoes_a_target_added_in_it_and_ok_keeps_it(qtbot, engine, dialogs, monkeypatch):  # noqa: F811
    with FakeErpnext() as erp:
        settings, page = settings_page(qtbot, engine)
        add_erpnext_in_dialog(monkeypatch, page, erp, "52.5x, 13.4")
        assert dialogs.errors() == ["Type the station's place as two numbers: latitude, longitude."]
        add_erpnext_in_dialog(monkeypatch, page, erp, "52.52, 13.405")
        (target,) = engine.integration_targets()
        assert (target.latitude, target.longitude, target.shift_types) == (52.52, 13.405, ("Day", "Night"))
        settings.reject()  # Cancel
        assert engine.integration_targets() == []
        settings, page = settings_page(qtbot, engine)
        add_erpnext_in_dialog(monkeypatch, page, erp, "")
        settings.done(QDialog.DialogCode.Accepted.value)  # as OK ends it
        assert [t.name for t in engine.integration_targets()] == ["erp"]
        engine.stop_integration_delivery()


def test_backfill_from_the_page_queues_a_period_with_progress(qtbot, engine, dialogs, monkeypatch):  # noqa: F811
    (ada,) = people(engine, 1)
    for day in (10, 11, 12):
        sight(engine, ada, at(day, 8, 0))
        sight(engine, ada, at(day, 17, 0), EventKind.CHECK_OUT)
    with FakeErpnext() as erp:
        erp.add_employee("Ada", attendance_device_id="E000")
        settings, page = settings_page(qtbot, engine)
        add_erpnext_in_dialog(monkeypatch, page, erp, "")
        page.table.selectRow(0)
        assert page.backfill_button.isEnabled()

        def choose(dialog: BackfillDialog) -> int:
            dialog.first.setDate(date(2026, 10, 10))
            dialog.last.setDate(date(2026, 10, 11))
            return QDialog.DialogCode.Accepted.value

        monkeypatch.setattr(BackfillDialog, "exec", choose)
        page.backfill_button.click()
        assert page.job is not None
        qtbot.waitUntil(lambda: page.job is None, timeout=WAIT_MS)
        assert page.state.text().startswith("Backfill erp: 4 of 4 queued")
        page.deliver_button.click()
        qtbot.waitUntil(lambda: page.job is None and page.state.text().startswith("Delivered"), timeout=WAIT_MS)
        assert sorted(c["time"].day for c in erp.checkins) == [10, 10, 11, 11]
        settings.done(QDialog.DialogCode.Accepted.value)
        engine.stop_integration_delivery()
