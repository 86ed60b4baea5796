"""`rollcall config`: settings by key from a terminal, checked like the Settings dialog, saved atomically."""

from __future__ import annotations

import json

import pytest

from core.app.cli import main
from core.base.errors import SettingsError
from core.base.settings import Device, Settings
from core.base.settings_keys import all_keys, list_settings, set_setting


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_set_get_and_reset_round_trip_through_settings_json(capsys):
    code, out, _ = run(capsys, "config", "set", "attendance.cooldown_minutes", "5")
    assert code == 0 and "10.0 -> 5.0" in out
    assert Settings.load().attendance.cooldown_minutes == 5.0
    assert run(capsys, "config", "get", "attendance.cooldown_minutes")[1].strip() == "5.0"

    assert run(capsys, "config", "set", "recognition.detect_thresholds", "0.8,0.6,0.7")[0] == 0
    assert run(capsys, "config", "set", "liveness.challenge", "yes")[0] == 0
    assert run(capsys, "config", "set", "compute.device", "cpu")[0] == 0
    assert run(capsys, "config", "set", "attendance.time_zone", "Europe/London")[0] == 0
    saved = Settings.load()
    assert saved.recognition.detect_thresholds == (0.8, 0.6, 0.7)
    assert saved.liveness.challenge is True
    assert saved.compute.device is Device.CPU
    assert saved.attendance.time_zone == "Europe/London"

    code, out, _ = run(capsys, "config", "reset", "attendance.cooldown_minutes")
    assert code == 0 and "5.0 -> 10.0" in out
    assert Settings.load().attendance.cooldown_minutes == 10.0


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("attendance.cooldown_minutes", "ten", "attendance.cooldown_minutes = 'ten' is not a number"),
        ("attendance.cooldown_minutes", "-3", "must be zero or more"),
        ("recognition.votes_to_mark", "2.5", "is not a whole number"),
        ("attendance.checkout_mode", "maybe", "is not true or false"),
        ("compute.device", "gpu", "is not one of 'auto', 'cpu', 'cuda', 'mps'"),
        ("recognition.detect_thresholds", "0.8,0.7", "is not a list of 3 numbers"),
        ("attendance.time_zone", "Mars/Base", "is not a time zone"),
        ("attendance.cooldwn", "5", "Did you mean attendance.cooldown_minutes"),
        ("security.admin_pin_hash", "x", "cannot be set here"),
    ],
)
def test_a_bad_value_names_the_key_and_changes_nothing(capsys, key, value, says):
    run(capsys, "config", "set", "attendance.cooldown_minutes", "7")
    before = Settings.file_path().read_bytes()
    code, _, err = run(capsys, "config", "set", key, value)
    assert code == 2
    assert says in err
    assert Settings.file_path().read_bytes() == before


def test_list_shows_every_key_and_masks_the_pin(capsys):
    settings = Settings.load()
    settings.security.admin_pin_hash = "scrypt$secret"
    settings.save()
    code, out, _ = run(capsys, "config", "list", "--json")
    listed = json.loads(out)
    assert code == 0 and set(listed) == set(all_keys())
    assert listed["security.admin_pin_hash"] == "(set)" and "secret" not in out
    code, out, _ = run(capsys, "config", "list", "attendance")
    assert code == 0 and all(line.split()[0].startswith("attendance.") for line in out.splitlines())


def test_changed_flag_and_unknown_section():
    settings = Settings()
    set_setting(settings, "review.days_shown", "9")
    changed = {i.key for i in list_settings(settings) if i.changed}
    assert changed == {"review.days_shown"}
    with pytest.raises(SettingsError, match="no settings section 'reviews'"):
        list_settings(settings, "reviews")
