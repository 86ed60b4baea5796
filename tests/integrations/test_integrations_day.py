"""A day through the CLI with three targets (ERPNext, Odoo and a webhook), each down for part of it:
sightings imported from another terminal's log and recognised in the Hamilton clip, then one more log of the
same day, with an earlier sighting, that reaches the targets after the live ones. Afterwards every target holds
each sighting exactly once, Odoo's attendance equals the day board (the same pair, the hours within a minute,
no 0-hour attendance), ERPNext's check-ins carry one IN (the day's first, in ERPNext's own zone) and OUT for
the rest, every webhook signature verified, and `integrations status --json` shows nothing queued or dead."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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
        erp.time_zone = "Asia/Kolkata"  # ERPNext's System Settings zone is not the site's
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
        import_sighting(capsys, tmp_path, now - timedelta(minutes=40), "arrival")
        code, out, _ = run(capsys, "integrations", "deliver")
        assert code == 1 and "erp: 0 delivered" in out and "cannot be reached" in out
        erp.up()
        odoo.down()  # midday: Odoo is down
        import_sighting(capsys, tmp_path, now - timedelta(minutes=25), "lunch")
        assert run(capsys, "integrations", "deliver")[0] == 1
        odoo.up()
        hook.down()  # the performance: the webhook receiver is down while recognize runs
        code, out, err = run(capsys, "recognize", str(faces / HAMILTON))
        assert code == 0 and "1 marked" in out, err
        assert "hook: 1 queued" in err and "cannot be reached" in err
        hook.up()
        code, out, err = run(capsys, "integrations", "deliver")
        assert code == 0, out + err
        import_sighting(capsys, tmp_path, now - timedelta(minutes=52), "found-later")  # after the live ones
        code, out, err = run(capsys, "integrations", "deliver")
        assert code == 0, out + err

        code, out, _ = run(capsys, "integrations", "status", "--json")
        rows = {row["target"]: row for row in json.loads(out)}
        assert {name: (row["queued"], row["dead"]) for name, row in rows.items()} == {
            "erp": (0, 0),
            "odoo": (0, 0),
            "hook": (0, 0),
        }
        assert rows["erp"]["delivered"] == rows["odoo"]["delivered"] == 4
        keys = [(c["employee"], c["time"]) for c in erp.checkins]
        assert len(keys) == len(set(keys)) == 4
        assert len(hook.unique("event")) == 4 and hook.bad_signatures == 0, hook.refused
        code, out, _ = run(capsys, "report", f"{start:%Y-%m-%d}", "--json")  # the shift's day (it may start yesterday)
        (board,) = [json.loads(line) for line in out.splitlines() if json.loads(line)["name"] == "Performer"]
        assert board["first_seen"], board
        first, last = (datetime.fromisoformat(board[key]) for key in ("first_seen", "last_seen"))
        by_time = sorted(erp.checkins, key=lambda c: c["time"])
        assert [c["log_type"] for c in by_time] == ["IN", "OUT", "OUT", "OUT"]
        kolkata = ZoneInfo("Asia/Kolkata")
        assert by_time[0]["time"] == first.astimezone(kolkata).replace(tzinfo=None)
        attendances = odoo.attendances(employee)
        assert len(attendances) == 1, attendances  # one pair, no 0-hour chain
        (attendance,) = attendances
        in_utc = [moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") for moment in (first, last)]
        assert [attendance["check_in"], attendance["check_out"]] == in_utc
        odoo_hours = (
            datetime.fromisoformat(attendance["check_out"]) - datetime.fromisoformat(attendance["check_in"])
        ).total_seconds() / 3600
        assert abs(odoo_hours - board["hours"]) < 1 / 60
    finally:
        for server in (erp, odoo, hook):
            server.down()
