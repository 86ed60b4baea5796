"""The one installed executable (gui.app.main) serves the window, the self-test and the command line."""

from __future__ import annotations

import json

from gui.app import main


def test_a_command_runs_the_command_line_not_the_window(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ROLLCALL_HOME", str(tmp_path / "home"))
    assert main(["Rollcall", "report", "--json"]) == 0
    out = capsys.readouterr().out
    assert all(json.loads(line) for line in out.splitlines())  # one JSON object per line (none: empty)


def test_help_is_the_windows_own_and_names_the_commands(capsys):
    assert main(["rollcall-gui", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: rollcall-gui [--kiosk") and "--self-test" in out, out
    assert "recognize" in out and "report" in out, "the command line's commands are named"
    try:
        main(["rollcall-gui", "report", "--help"])  # a command's help is the command line's
    except SystemExit as done:
        assert done.code == 0
    assert "usage: rollcall report" in capsys.readouterr().out
