"""The integrations scene: a webhook and an ERPNext target (the tests' local receivers on 127.0.0.1), each
having received a morning's sightings, shown in Settings → Integrations after a delivery round."""

from __future__ import annotations

from scripts.shots.common import Shot, engine_in, wait, wait_until

PEOPLE = ["Amelie Mauresmo", "Angelina Jolie", "Ariel Sharon", "Arnold Schwarzenegger", "Colin Powell"]


def take(pages: list[str], shot: Shot) -> None:
    from datetime import datetime, timedelta

    from core.base.records import AttendanceEvent, EventKind
    from core.integrations.targets import Target, TargetKind
    from gui.settings_dialog import SettingsDialog
    from tests.kits.fake_erpnext import FakeErpnext
    from tests.kits.fake_webhook import FakeWebhook

    engine = engine_in("integrations")
    with FakeWebhook() as hook, FakeErpnext() as erp:
        engine.add_integration(Target("door-relay", TargetKind.WEBHOOK, hook.url + "/rollcall"), hook.secret)
        engine.add_integration(Target("payroll", TargetKind.ERPNEXT, erp.url), erp.token.removeprefix("token "))
        start = datetime.now().astimezone().replace(hour=8, minute=0, second=0, microsecond=0)
        for n, name in enumerate(PEOPLE):
            person = engine.store.add_person(name, external_id=f"E{n:03d}")
            erp.add_employee(person.name, attendance_device_id=person.external_id)
            moment = start + timedelta(minutes=3 * n)
            engine.store.record_event(AttendanceEvent(None, person.id, None, EventKind.CHECK_IN, moment, "door", 0.9))
        dialog = SettingsDialog(engine)
        dialog.resize(min(dialog.width(), shot.width), min(dialog.height(), shot.height))
        dialog.show()
        titles = [dialog.pages.item(row).text() for row in range(dialog.pages.count())]
        dialog.pages.setCurrentRow(titles.index("Integrations"))
        page = dialog.integrations
        page.deliver_button.click()
        wait_until(lambda: page.job is None and all(row.queued == 0 for row in engine.integration_status()))
        page.table.selectRow(0)
        wait(200)
        shot.save(dialog, "settings-integrations")
        dialog.reject()
        dialog.deleteLater()
        wait(50)
    engine.close()
