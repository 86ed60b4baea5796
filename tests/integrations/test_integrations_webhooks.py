"""Webhooks (issue 32, items 14-16): the sample receiver in docs/integrations.md, run from the docs' own text
against Rollcall and against bad headers; a station clock 10 minutes off; a token in the address never shown."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from core.app.cli import main
from core.integrations.targets import Target, TargetKind
from core.integrations.webhook import SIGNATURE_HEADER, signature, signature_header, verify
from tests.kits.fake_webhook import FakeWebhook
from tests.kits.integration_kit import add_webhook, at, make_engine, people, sight, status
from tests.kits.paths import REPO

DOCS = REPO / "docs" / "integrations.md"
SECRET = "whsec_docs"


@pytest.fixture
def engine(rollcall_home):
    engine = make_engine()
    yield engine
    engine.close()


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def docs_receiver(tmp_path, monkeypatch):
    """The receiver exactly as docs/integrations.md prints it, served by wsgiref on 127.0.0.1."""
    (code,) = [block for block in re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S) if "def app(" in block]
    (tmp_path / "doors.secret").write_text(SECRET + "\n")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    handled: list[dict] = []
    namespace["handle"] = handled.append
    server = make_server("127.0.0.1", 0, namespace["app"], handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/rollcall", handled
    server.shutdown()
    server.server_close()


def post(url: str, body: bytes, header: str | None) -> int:
    headers = {"Content-Type": "application/json"} | ({SIGNATURE_HEADER: header} if header is not None else {})
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=5) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


def test_14_the_docs_receiver_verifies_rollcall_and_refuses_bad_headers_with_400(engine, docs_receiver):
    url, handled = docs_receiver
    engine.add_integration(Target("hook", TargetKind.WEBHOOK, url), SECRET)
    (ada,) = people(engine, 1)
    sight(engine, ada, at(12, 8, 0))
    assert engine.deliver_integrations_now().dead == 0
    assert "event" in [record["type"] for record in handled]

    body = json.dumps({"id": "r-1", "type": "event", "data": {}}).encode()
    now = int(time.time())
    good = signature(SECRET, now, body)
    assert post(url, body, None) == 400  # no header
    assert post(url, body, "garbage") == 400
    assert post(url, body, "t=soon,v1=" + good) == 400
    assert post(url, body, f"t={now},v1=ü{good[1:]}") == 400  # not ASCII: refused, not a crash
    assert post(url, body, f"t={now},v1={'0' * 64},v1={good}") == 204  # any v1 may match
    assert post(url, body, f"t={now},v1={good}") == 204  # a replay of the same id: answered, handled once
    assert [record["id"] for record in handled].count("r-1") == 1


def test_14_core_verify_takes_any_v1_and_refuses_non_ascii_without_raising():
    body = b'{"id":"x"}'
    good = signature("s3cret", 1_000_000, body)
    assert verify("s3cret", f"t=1000000,v1={'0' * 64},v1={good}", body, now=1_000_010)
    assert not verify("s3cret", f"t=1000000,v1=ü{good[1:]}", body, now=1_000_010)
    assert not verify("s3cret", "t=١٠٠٠٠٠٠,v1=" + good, body, now=1_000_010)  # Arabic-Indic digits
    assert verify("s3cret", signature_header("s3cret", 1_000_000, body), body, now=1_000_010)


def test_15_a_station_clock_10_minutes_off_is_retried_and_warned_about(engine, capsys):
    with FakeWebhook() as hook:
        hook.clock_offset_s = 600  # the receiver's clock against this station's
        add_webhook(engine, hook)
        (ada,) = people(engine, 1)
        sight(engine, ada, at(12, 8, 0))
        report = engine.deliver_integrations_now()
        assert (report.delivered, report.dead) == (0, 0) and "clock skew" in report.errors[0]
        assert status(engine)["hook"] == (1, 0, 0)
        assert main(["integrations", "status"]) == 0
        assert "WARNING: hook: this station's clock is off" in capsys.readouterr().out
        hook.clock_offset_s = 0  # the clock was set
        engine.deliver_integrations_now()
        assert status(engine)["hook"][0] == 0 and len(hook.unique("event")) == 1


def test_16_a_token_in_the_address_is_masked_in_errors_status_and_list(engine, capsys):
    token = "T0KEN-s3cr3t-9f8e7d"
    url = f"http://127.0.0.1:9/hooks/{token}?key={token}"  # nothing listens on port 9
    engine.add_integration(Target("hook", TargetKind.WEBHOOK, url), "s")
    (ada,) = people(engine, 1)
    sight(engine, ada, at(12, 8, 0))
    report = engine.deliver_integrations_now()
    assert (
        report.errors and token not in report.errors[0] and "http://127.0.0.1:9/hooks/***?key=***" in report.errors[0]
    )
    capsys.readouterr()
    for argv in (["status", "--dead"], ["status", "--json"], ["list"], ["list", "--json"]):
        main(["integrations", *argv])
    with pytest.raises(Exception) as failed:
        engine.test_integration("hook")
    shown = capsys.readouterr().out + str(failed.value)
    assert "127.0.0.1:9/hooks" in shown and token not in shown
