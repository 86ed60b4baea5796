"""Integrations through the engine against local ERPNext, Odoo and webhook servers: what is queued and when,
what each target receives, dead letters and their retry, day statuses, and the CLI."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import ssl
import stat
import subprocess
from datetime import UTC, datetime

import pytest

from core.app.cli import main
from core.base.errors import InvalidInputError
from core.base.records import AttendanceEvent, EventKind
from core.integrations.targets import SECRETS_FILE, IntegrationError, Target, TargetKind
from core.integrations.webhook import signature_header, verify
from tests.kits.fake_webhook import FakeWebhook
from tests.kits.integration_kit import (
    add_erpnext,
    add_odoo,
    add_webhook,
    at,
    make_engine,
    people,
    secret_file,
    sight,
    status,
)


@pytest.fixture
def engine(rollcall_home):
    engine = make_engine()
    yield engine
    engine.close()


def test_each_event_is_queued_in_the_transaction_that_records_it(engine, hook):
    add_webhook(engine, hook)
    (ada,) = people(engine, 1)
    event = sight(engine, ada, at(12, 8, 0))
    rows = engine.store._conn.execute("SELECT uuid, type, state FROM integration_outbox").fetchall()
    uuid = engine.store._scalar("SELECT uuid FROM events WHERE id = ?", [event.id])
    assert rows == [(uuid, "event", "queued")]
    with pytest.raises(RuntimeError), engine.store._tx():  # a recording that fails queues nothing
        engine.store.record_event(AttendanceEvent(None, ada.id, None, EventKind.CHECK_IN, at(12, 9, 0), "cam", 0.9))
        raise RuntimeError("disk gone")
    assert engine.store._scalar("SELECT count(*) FROM integration_outbox") == 1
    engine.store.record_event(AttendanceEvent(None, None, None, EventKind.UNKNOWN, at(12, 9, 0), "cam", 0.2))
    assert engine.store._scalar("SELECT count(*) FROM integration_outbox") == 1  # unknown faces are not sent


def test_webhook_bodies_are_signed_and_carry_the_record(engine, hook):
    add_webhook(engine, hook)
    ada, bob = people(engine, 2)
    first = sight(engine, ada, at(12, 8, 0))
    sight(engine, bob, at(12, 8, 1))
    sight(engine, ada, at(12, 17, 0), EventKind.CHECK_OUT)
    report = engine.deliver_integrations_now()
    assert (report.dead, hook.bad_signatures, len(hook.unique("event"))) == (0, 0, 3)
    events = [b for b in hook.received if b["type"] == "event"]
    assert [b["data"]["person"]["name"] for b in events] == ["Person 0", "Person 1", "Person 0"]
    body = events[0]
    assert body["id"] == engine.store._scalar("SELECT uuid FROM events WHERE id = ?", [first.id])
    assert body["data"] == {
        "person": {"name": "Person 0", "external_id": "E000"},
        "kind": "check_in",
        "time": "2026-10-12T08:00:00+02:00",
        "station": body["data"]["station"],
        "sha256": engine.store._scalar(  # the event's hash in the station's chain, for the receiver to keep
            "SELECT hex(content) FROM ledger WHERE tbl = 'events' AND row_id = ?", [first.id]
        ).lower(),
    }
    assert body["data"]["station"]
    queued, delivered, dead = status(engine)["hook"]
    assert (queued, dead) == (0, 0) and delivered == report.delivered


def test_a_wrong_webhook_secret_is_refused_by_the_receiver_and_becomes_a_dead_letter(engine, hook):
    engine.add_integration(Target("hook", TargetKind.WEBHOOK, hook.url), "not-the-secret")
    (ada,) = people(engine, 1)
    sight(engine, ada, at(12, 8, 0))
    report = engine.deliver_integrations_now()
    assert (report.delivered, report.dead, hook.bad_signatures, len(hook.received)) == (0, 1, 1, 0)
    (letter,) = engine.integration_dead_letters()
    assert "HTTP 400" in letter.error and letter.person_name == "Person 0"


def test_signature_check_refuses_tampering_and_replays():
    body = b'{"id":"x"}'
    header = signature_header("s3cret", 1_000_000, body)
    assert verify("s3cret", header, body, now=1_000_010)
    assert not verify("s3cret", header, body + b" ", now=1_000_010)
    assert not verify("other", header, body, now=1_000_010)
    assert not verify("s3cret", header, body, now=1_000_000 + 301)  # too old: a replay


def test_erpnext_gets_checkins_in_the_site_zone_and_unknown_employees_are_dead_letters(engine, erp):
    add_erpnext(engine, erp)
    ada, bob = people(engine, 2)
    erp.add_employee("Ada Lovelace", attendance_device_id="E000")
    sight(engine, ada, at(12, 8, 0))
    sight(engine, bob, at(12, 8, 5))
    sight(engine, ada, at(12, 17, 30), EventKind.CHECK_OUT)
    report = engine.deliver_integrations_now()
    assert (report.delivered, report.dead) == (2, 1)
    assert [(c["employee"], str(c["time"]), c["log_type"]) for c in erp.checkins] == [
        ("HR-EMP-00001", "2026-10-12 08:00:00", "IN"),
        ("HR-EMP-00001", "2026-10-12 17:30:00", "OUT"),
    ]
    assert all(c["device_id"] for c in erp.checkins)
    (letter,) = engine.integration_dead_letters()
    assert "Person 1" in letter.error and "No Employee found" in letter.error
    erp.add_employee("Bob", attendance_device_id="E001")
    assert engine.retry_integration("erp").value == 1
    assert engine.deliver_integrations_now().delivered == 1
    assert status(engine)["erp"] == (0, 3, 0)


def test_erpnext_wrong_token_stops_the_round_with_a_clear_error_and_keeps_everything(engine, erp):
    engine.add_integration(Target("erp", TargetKind.ERPNEXT, erp.url), "key1:wrong")
    with pytest.raises(IntegrationError, match="refused the API key"):
        engine.test_integration("erp")
    (ada,) = people(engine, 1)
    for minute in range(3):
        sight(engine, ada, at(12, 8, minute))
    report = engine.deliver_integrations_now()
    assert report.delivered == 0 and "refused the API key" in report.errors[0]
    assert erp.requests == 3  # the test; the server's zone and the first row; the round stopped there
    row = engine.integration_status()[0]
    assert (row.queued, row.dead) == (3, 0) and "HTTP 401" in (row.last_error or "")


def test_odoo_attendances_open_and_close_as_the_rules_decide(engine, odoo):
    add_odoo(engine, odoo)
    (ada,) = people(engine, 1)
    employee = odoo.add_employee("Ada", barcode="E000")
    assert "logged in" in engine.test_integration("odoo")
    sight(engine, ada, at(12, 8, 0))
    sight(engine, ada, at(12, 12, 0), EventKind.CHECK_OUT)
    sight(engine, ada, at(12, 17, 0), EventKind.CHECK_OUT)  # a later check-out of the same shift: first to last
    sight(engine, ada, at(13, 8, 0))  # never checked out on the 13th
    sight(engine, ada, at(14, 8, 0))
    sight(engine, ada, at(14, 16, 0), EventKind.CHECK_OUT)
    report = engine.deliver_integrations_now()
    assert (report.delivered, report.dead) == (6, 0)
    spans = [(a["check_in"], a["check_out"]) for a in odoo.attendances(employee)]
    assert spans == [
        ("2026-10-12 06:00:00", "2026-10-12 15:00:00"),
        ("2026-10-13 06:00:00", "2026-10-13 06:00:00"),
        ("2026-10-14 06:00:00", "2026-10-14 14:00:00"),
    ]


def test_odoo_refusal_is_a_dead_letter_with_odoos_own_words(engine, odoo):
    add_odoo(engine, odoo)
    (ada,) = people(engine, 1)
    employee = odoo.add_employee("Ada", barcode="E000")
    odoo._create(
        "hr.attendance",
        {"employee_id": employee, "check_in": "2026-10-12 05:00:00", "check_out": "2026-10-12 09:00:00"},
    )  # entered by hand in Odoo
    sight(engine, ada, at(12, 8, 0))
    report = engine.deliver_integrations_now()
    assert report.dead == 1
    assert "the employee was already checked in on" in engine.integration_dead_letters()[0].error


def test_corrections_are_queued_and_sent(engine, hook, erp):
    add_webhook(engine, hook)
    add_erpnext(engine, erp)
    erp.add_employee("Ada", attendance_device_id="E000")
    (ada,) = people(engine, 1)
    engine.punch(ada.id, at(12, 8, 0), "badge reader broken", actor="admin")
    report = engine.deliver_integrations_now()
    assert report.dead == 0
    (correction,) = hook.unique("correction").values()
    assert correction["data"]["kind"] == "punch" and correction["data"]["reason"] == "badge reader broken"
    assert [str(c["time"]) for c in erp.checkins] == ["2026-10-12 08:00:00"]


def test_webhooks_get_day_status_changes(engine, hook):
    add_webhook(engine, hook)
    group = engine.add_group("Office", "09:00", "17:00", 5, "mon-fri", 0, actor="admin").value
    (ada,) = people(engine, 1)
    engine.assign_group(ada.id, group.id, actor="admin")
    engine.store._conn.execute("UPDATE people SET created_at = '2026-01-01T00:00:00+00:00'")
    sight(engine, ada, at(12, 9, 30))
    engine.deliver_integrations_now()
    engine.deliver_integrations_now()
    (day_status,) = hook.unique("day_status").values()
    assert day_status["data"]["kind"] == "late" and day_status["data"]["status"]["late_minutes"] == 30


def test_secrets_stay_in_an_owner_only_file(engine, hook, rollcall_home):
    add_webhook(engine, hook)
    path = engine._integration_folder() / SECRETS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"hook": hook.secret}
    for text_file in rollcall_home.rglob("*.json"):
        if text_file != path:
            assert hook.secret not in text_file.read_text()
    conn = sqlite3.connect(engine.store.path)
    assert hook.secret not in json.dumps(conn.execute("SELECT * FROM integration_targets").fetchall())
    conn.close()


def test_target_checks(engine):
    with pytest.raises(InvalidInputError, match="not an http"):
        engine.add_integration(Target("x", TargetKind.WEBHOOK, "ftp://example.com"), "s")
    with pytest.raises(InvalidInputError, match="API_KEY:API_SECRET"):
        engine.add_integration(Target("x", TargetKind.ERPNEXT, "https://erp.example.com"), "nocolon")
    with pytest.raises(InvalidInputError, match="Odoo needs"):
        engine.add_integration(Target("x", TargetKind.ODOO, "https://odoo.example.com"), "pw")
    with pytest.raises(InvalidInputError, match="lower-case"):
        engine.add_integration(Target("Bad Name", TargetKind.WEBHOOK, "https://example.com"), "s")
    assert engine.integration_targets() == []


def test_https_checks_certificates_by_default(engine):
    target = engine.add_integration(Target("tls", TargetKind.WEBHOOK, "https://127.0.0.1:9/x"), "s").value
    assert target.verify_tls


def test_cli_add_list_test_deliver_status_remove(engine, hook, erp, tmp_path, capsys):
    (ada,) = people(engine, 1)
    erp.add_employee("Ada", attendance_device_id="E000")
    hook_secret = secret_file(tmp_path, "hook", hook.secret)
    key_file = secret_file(tmp_path, "erp", erp.token.removeprefix("token "))
    assert main(["integrations", "add", "webhook", "hook", "--url", hook.url, "--secret-file", str(hook_secret)]) == 0
    assert main(["integrations", "add", "erpnext", "erp", "--url", erp.url, "--api-key-file", str(key_file)]) == 0
    assert main(["integrations", "test", "erp"]) == 0
    assert main(["integrations", "test", "hook"]) == 0
    capsys.readouterr()
    assert main(["integrations", "list"]) == 0
    assert "erp: erpnext" in capsys.readouterr().out
    sight(engine, ada, at(12, 8, 0))
    assert main(["integrations", "deliver"]) == 0
    capsys.readouterr()
    assert main(["integrations", "status", "--json"]) == 0
    rows = {r["target"]: r for r in json.loads(capsys.readouterr().out)}
    assert [(rows[t]["queued"], rows[t]["dead"]) for t in ("erp", "hook")] == [(0, 0), (0, 0)]
    assert rows["erp"]["delivered"] == 1 and rows["hook"]["delivered"] >= 1
    assert main(["integrations", "remove", "hook"]) == 0
    assert [t.name for t in engine.integration_targets()] == ["erp"]
    assert hook.secret not in (engine._integration_folder() / SECRETS_FILE).read_text()


def test_background_delivery_sends_within_moments(engine, hook):
    add_webhook(engine, hook)
    (ada,) = people(engine, 1)
    assert engine.start_integration_delivery()
    try:
        sight(engine, ada, datetime.now(UTC))
        deadline = datetime.now(UTC).timestamp() + 5
        while not hook.received and datetime.now(UTC).timestamp() < deadline:
            import time

            time.sleep(0.02)
    finally:
        engine.stop_integration_delivery()
    assert len(hook.unique("event")) == 1


def test_delivered_rows_are_dropped_after_the_retention(engine, hook):
    add_webhook(engine, hook)
    (ada,) = people(engine, 1)
    sight(engine, ada, at(12, 8, 0))
    engine.deliver_integrations_now()
    assert status(engine)["hook"][1] >= 1
    engine.integration_policy = dataclasses.replace(engine.integration_policy, keep_delivered_days=-1)
    engine.deliver_integrations_now()
    assert status(engine)["hook"] == (0, 0, 0)
    assert engine.store._scalar("SELECT count(*) FROM events") == 1  # the record itself stays


def test_merging_two_people_keeps_their_queued_rows(engine, hook):
    add_webhook(engine, hook)
    ada, twin = people(engine, 2)
    sight(engine, twin, at(12, 8, 0))
    engine.store.merge_people(ada.id, twin.id)
    assert status(engine)["hook"][0] == 1
    engine.deliver_integrations_now()
    (body,) = hook.unique("event").values()
    assert body["data"]["person"]["name"] == "Person 0"


@pytest.fixture
def tls_hook(tmp_path):
    """The webhook receiver behind https with a self-signed certificate for 127.0.0.1."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    server = FakeWebhook().up()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    assert server._server is not None
    server._server.socket = context.wrap_socket(server._server.socket, server_side=True)
    yield server
    server.down()


def test_https_certificates_are_checked_unless_a_target_says_insecure(engine, tls_hook):
    url = tls_hook.url.replace("http:", "https:")
    engine.add_integration(Target("checked", TargetKind.WEBHOOK, url), tls_hook.secret)
    (ada,) = people(engine, 1)
    sight(engine, ada, at(12, 8, 0))
    report = engine.deliver_integrations_now()
    assert report.delivered == 0 and "CERTIFICATE_VERIFY_FAILED" in report.errors[0]
    engine.add_integration(Target("checked", TargetKind.WEBHOOK, url, verify_tls=False), tls_hook.secret, replace=True)
    assert engine.deliver_integrations_now().delivered >= 1
    assert len(tls_hook.unique("event")) == 1


def test_a_redirect_is_a_dead_letter_not_a_lost_post(engine, hook):
    add_webhook(engine, hook)
    hook.moved_to = hook.url + "/new-home"  # urllib alone would follow it with a GET and no body
    (ada,) = people(engine, 1)
    sight(engine, ada, at(12, 8, 0))
    assert engine.deliver_integrations_now().dead == 1
    assert "HTTP 301" in engine.integration_dead_letters()[0].error
