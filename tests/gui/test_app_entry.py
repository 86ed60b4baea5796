"""The one installed executable (gui.app.main) serves the window, the self-test and the command line."""

from __future__ import annotations

import json

from gui.app import main


def test_a_command_runs_the_command_line_not_the_window(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ROLLCALL_HOME", str(tmp_path / "home"))
    assert main(["Rollcall", "report", "--json"]) == 0
    out = capsys.readouterr().out
    assert all(json.loads(line) for line in out.splitlines())  # one JSON object per line (none: empty)


def test_help_is_the_command_lines(capsys):
    try:
        main(["Rollcall", "--help"])
    except SystemExit as done:
        assert done.code == 0
    assert "recognize" in capsys.readouterr().out
