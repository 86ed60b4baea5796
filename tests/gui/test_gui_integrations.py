"""Settings → Integrations against a real local webhook receiver that checks signatures: a target added through
the page's dialog, a sighting delivered by Deliver now until the table shows it delivered, Test's answer, and
Remove after a confirmation that says the queue is dropped."""

from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QDialog  # noqa: E402

from core.integrations.targets import TargetKind  # noqa: E402
from gui.integrations_settings import COLUMNS, AddTargetDialog  # noqa: E402
from tests.kits.fake_webhook import FakeWebhook  # noqa: E402
from tests.kits.integration_kit import at, make_engine, people, sight, status  # noqa: E402

WAIT_MS = 8_000


@pytest.fixture
def engine(rollcall_home):
    engine = make_engine()
    # the background rounds the page starts with the first target run once, then wait: Deliver now is tested
    engine.integration_policy = dataclasses.replace(engine.integration_policy, interval_s=3600.0)
    yield engine
    engine.close()


@pytest.fixture
def hook():
    with FakeWebhook() as server:
        yield server


def cells(page, name: str) -> dict[str, str]:
    for row in range(page.table.rowCount()):
        if page.table.item(row, 0).text() == name:
            return {column: page.table.item(row, i).text() for i, column in enumerate(COLUMNS)}
    return {}


def test_the_page_adds_delivers_and_removes_a_webhook(qtbot, engine, hook, dialogs, monkeypatch):  # noqa: F811
    from gui.settings_dialog import SettingsDialog

    settings = SettingsDialog(engine)
    qtbot.addWidget(settings)
    titles = [settings.pages.item(row).text() for row in range(settings.pages.count())]
    settings.pages.setCurrentRow(titles.index("Integrations"))
    page = settings.integrations
    assert page.table.rowCount() == 0 and not page.deliver_button.isEnabled()

    secrets = iter(["", hook.secret])  # the first try has no secret: refused, said, and the dialog stays open

    def fill_and_press_ok(dialog: AddTargetDialog) -> int:
        dialog.kind.setCurrentIndex(dialog.kind.findData(TargetKind.WEBHOOK))
        assert not dialog.employee_field.isVisibleTo(dialog) and not dialog.database.isVisibleTo(dialog)
        assert dialog.secret.echoMode() is dialog.secret.EchoMode.Password
        dialog.name.setText("hook")
        dialog.url.setText(hook.url + "/rollcall")
        for secret in secrets:
            dialog.secret.setText(secret)
            dialog.accept()
            if dialog.result() == QDialog.DialogCode.Accepted:
                break
        return dialog.result()

    monkeypatch.setattr(AddTargetDialog, "exec", fill_and_press_ok)
    page.add_button.click()
    assert dialogs.errors() == ["Type the signing secret."]
    assert [target.name for target in engine.integration_targets()] == ["hook"]
    background = engine._background_delivery
    assert background is not None  # delivery in the background starts with the first target
    qtbot.waitUntil(lambda: background.rounds_finished == 1, timeout=WAIT_MS)  # its first round: nothing queued yet

    (ada,) = people(engine, 1)
    sight(engine, ada, at(12, 8, 0))
    page.refresh()
    row = cells(page, "hook")
    assert (row["Kind"], row["Queued"], row["Delivered"], row["Dead"]) == ("webhook", "1", "0", "0")
    assert hook.secret not in str([page.table.item(0, i).text() for i in range(len(COLUMNS))])
    settings.resize(860, 600)  # the dialog's own size: the address is shown whole, never "http:/…5/hook"
    settings.show()
    qtbot.wait(20)
    address = page.table.item(0, COLUMNS.index("Address")).text()
    width = page.table.fontMetrics().horizontalAdvance(address)
    assert page.table.columnWidth(COLUMNS.index("Address")) >= width, (address, width)

    page.table.selectRow(0)
    page.test_button.click()
    qtbot.waitUntil(lambda: page.job is None and page.state.text().startswith("hook:"), timeout=WAIT_MS)
    assert status(engine) == {"hook": (1, 0, 0)}  # a test changes nothing: a signed ping, nothing delivered
    assert [item["type"] for item in hook.received] == ["ping"]

    hook.fail_next = 1  # the receiver answers 500 once: the sighting stays queued, with the answer shown
    page.deliver_button.click()
    qtbot.waitUntil(lambda: page.job is None and bool(cells(page, "hook").get("Last error")), timeout=WAIT_MS)
    assert cells(page, "hook")["Queued"] == "1" and cells(page, "hook")["Dead"] == "0"
    page.table.selectRow(0)
    assert "Last error: " + cells(page, "hook")["Last error"] in page.state.text()

    page.deliver_button.click()  # the receiver is back
    qtbot.waitUntil(lambda: page.job is None and cells(page, "hook").get("Queued") == "0", timeout=WAIT_MS)
    row = cells(page, "hook")
    # the sighting, and the day status it started (webhooks take those too), each once
    assert sorted(item["type"] for item in hook.received[1:]) == ["day_status", "event"]
    assert (row["Queued"], row["Delivered"], row["Dead"]) == ("0", "2", "0")
    assert status(engine) == {"hook": (0, 2, 0)} and hook.bad_signatures == 0
    assert page.state.text().splitlines()[0] == "Delivered 2, 0 dead."
    assert row["Last error"] == "" and "Last error" not in page.state.text()

    page.table.selectRow(0)
    dialogs.question_answer = dialogs.question_answer.No
    page.remove_button.click()
    assert page.table.rowCount() == 1  # said no: kept
    dialogs.question_answer = dialogs.question_answer.Yes
    page.remove_button.click()
    question = [text for kind, text in dialogs.shown if kind == "question"][-1]
    assert "hook" in question and "queue is dropped" in question
    assert page.table.rowCount() == 0 and engine.integration_targets() == []
    settings.reject()
