"""A day through the CLI with three targets (ERPNext, Odoo and a webhook), each down for part of it:
sightings imported from another terminal's log and recognised in the Hamilton clip. Afterwards every
target holds each sighting exactly once, Odoo's attendance spans what the day board says, every webhook
signature verified, and `integrations status --json` shows nothing queued or dead."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.kits.cli import HAMILTON, run, save_frames
from tests.kits.fake_erpnext import FakeErpnext
from tests.kits.fake_odoo import FakeOdoo
from tests.kits.fake_webhook import FakeWebhook

EXTERNAL_ID = "E042"


def import_sighting(capsys, folder, moment: datetime, name: str) -> None:
    log = folder / f"{name}.csv"
    log.write_text(f"person,time,station\n{EXTERNAL_ID},{moment:%Y-%m-%d %H:%M:%S},old-terminal\n")
    code, out, err = run(capsys, "events", "import", str(log))
    assert code == 0, err


@pytest.mark.slow
def test_a_day_reaches_three_targets_each_down_for_part_of_it(capsys, default_weights, faces, tmp_path):
    now = datetime.now().astimezone().replace(microsecond=0)
    start, end = now - timedelta(minutes=60), now + timedelta(minutes=60)
    code, _, err = run(
        capsys,
        "group",
        "add",
        "Stage",
        "--start",
        f"{start:%H:%M}",
        "--end",
        f"{end:%H:%M}",
        "--grace",
        "0",
        "--days",
        "mon-sun",
    )
    assert code == 0, err
    frames = save_frames(faces / HAMILTON, [100, 130, 160], tmp_path)
    code, _, err = run(
        capsys, "enroll", "Performer", *map(str, frames), "--group", "Stage", "--external-id", EXTERNAL_ID
    )
    assert code == 0, err
    erp, odoo, hook = FakeErpnext().up(), FakeOdoo().up(), FakeWebhook().up()
    try:
        erp.add_employee("Performer", attendance_device_id=EXTERNAL_ID)
        employee = odoo.add_employee("Performer", barcode=EXTERNAL_ID)
        secrets = {"erp": erp.token.removeprefix("token "), "odoo": odoo.password, "hook": hook.secret}
        for name, secret in secrets.items():
            (tmp_path / name).write_text(secret)
        for argv in (
            ["erpnext", "erp", "--url", erp.url, "--api-key-file", str(tmp_path / "erp")],
            [
                "odoo",
                "odoo",
                "--url",
                odoo.url,
                "--db",
                odoo.db,
                "--user",
                odoo.login,
                "--password-file",
                str(tmp_path / "odoo"),
            ],
            ["webhook", "hook", "--url", hook.url, "--secret-file", str(tmp_path / "hook")],
        ):
            code, _, err = run(capsys, "integrations", "add", *argv)
            assert code == 0, err

        erp.down()  # the morning: ERPNext is down
        import_sighting(capsys, tmp_path, now - timedelta(minutes=50), "arrival")
        code, out, _ = run(capsys, "integrations", "deliver")
        assert code == 1 and "erp: 0 delivered" in out and "cannot be reached" in out
        erp.up()
        odoo.down()  # midday: Odoo is down
        import_sighting(capsys, tmp_path, now - timedelta(minutes=30), "lunch")
        assert run(capsys, "integrations", "deliver")[0] == 1
        odoo.up()
        hook.down()  # the performance: the webhook receiver is down while recognize runs
        code, out, err = run(capsys, "recognize", str(faces / HAMILTON))
        assert code == 0 and "1 marked" in out, err
        assert "hook: 1 queued" in err and "cannot be reached" in err
        hook.up()
        code, out, err = run(capsys, "integrations", "deliver")
        assert code == 0, out + err

        code, out, _ = run(capsys, "integrations", "status", "--json")
        rows = {row["target"]: row for row in json.loads(out)}
        assert {name: (row["queued"], row["dead"]) for name, row in rows.items()} == {
            "erp": (0, 0),
            "odoo": (0, 0),
            "hook": (0, 0),
        }
        assert rows["erp"]["delivered"] == rows["odoo"]["delivered"] == 3
        keys = [(c["employee"], c["time"]) for c in erp.checkins]
        assert len(keys) == len(set(keys)) == 3
        assert len(hook.unique("event")) == 3 and hook.bad_signatures == 0
        code, out, _ = run(capsys, "report", "--json")
        (board,) = [json.loads(line) for line in out.splitlines() if json.loads(line)["name"] == "Performer"]
        (attendance,) = odoo.attendances(employee)
        in_utc = [
            datetime.fromisoformat(board[key]).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            for key in ("first_seen", "last_seen")
        ]
        assert [attendance["check_in"], attendance["check_out"]] == in_utc
    finally:
        for server in (erp, odoo, hook):
            server.down()
