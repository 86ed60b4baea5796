"""Site mode end to end through the `rollcall` command: one admin, two kiosks, the server stopped
while both kiosks recognise the Hamilton clip, then every event on the server exactly once."""

from __future__ import annotations

import csv
import json

import psycopg
import pytest

from core.app.cli import main
from tests.kits.site_kit import local_uuids, server_uuids
from tests.kits.cli import HAMILTON, save_frames

MAX_FRAMES = 200  # the performer is marked well before this; the audience (220+) is left out to keep it quick


def rollcall(capsys, home, *argv) -> tuple[int, str, str]:
    code = main(["--home", str(home), *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_two_kiosks_offline_then_every_event_on_the_server_once(pg, capsys, default_weights, faces, tmp_path,
                                                                monkeypatch):
    cluster, url = pg
    admin, north, south = tmp_path / "admin", tmp_path / "north", tmp_path / "south"
    video = faces / HAMILTON
    frames = save_frames(video, [100, 130, 160], tmp_path)

    assert rollcall(capsys, admin, "site", "init", url)[0] == 0
    code, out, err = rollcall(capsys, admin, "enroll", "Performer", *map(str, frames))
    assert code == 0 and "enrolled: Performer" in out, err
    for home, name in ((north, "north"), (south, "south")):
        code, out, err = rollcall(capsys, home, "site", "join", url, "--kiosk", name)
        assert code == 0 and "1 people pulled" in out, err
        code, out, _ = rollcall(capsys, home, "people", "--json")
        assert [p["name"] for p in json.loads(out)] == ["Performer"]

    # a kiosk may not edit the gallery; the person stays on the server
    code, _, err = rollcall(capsys, north, "delete", "Performer", "--yes")
    assert code == 2 and "admin station" in err
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT name FROM people").fetchall() == [("Performer",)]

    cluster.stop()
    try:
        for home in (north, south):
            code, out, err = rollcall(capsys, home, "recognize", str(video), "--max-frames", str(MAX_FRAMES))
            assert code == 0, err
            assert "1 marked" in out and "events queued on this station" in err, (out, err)
            code, out, _ = rollcall(capsys, home, "site", "status", "--json")
            status = json.loads(out)
            assert status["reachable"] is False and status["queue"] >= 1
    finally:
        cluster.start()

    for home in (north, south):
        for _ in range(2):
            code, out, err = rollcall(capsys, home, "site", "sync")
            assert code == 0, err
        code, out, _ = rollcall(capsys, home, "site", "status", "--json")
        assert json.loads(out)["queue"] == 0

    export = tmp_path / "site.csv"
    code, out, err = rollcall(capsys, admin, "export", str(export))
    assert code == 0, err
    with open(export, encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    from core.gallery.store import GalleryStore

    with psycopg.connect(url) as conn:
        for home, name in ((north, "north"), (south, "south")):
            with GalleryStore(home / "rollcall.db") as store:
                written = local_uuids(store)
            on_server = server_uuids(conn, name)
            kiosk_rows = [r for r in rows if r["kiosk"] == name]
            lost, duplicates = len(written - on_server), len(kiosk_rows) - len(on_server)
            assert (len(kiosk_rows), lost, duplicates) == (len(written), 0, 0), (name, len(written), len(kiosk_rows))
            assert [r["name"] for r in kiosk_rows if r["kind"] == "check_in"] == ["Performer"]
    code, out, _ = rollcall(capsys, admin, "report")
    assert "Performer" in out and "north" in out and "south" in out
    code, out, _ = rollcall(capsys, admin, "site", "status")
    assert "kiosk north" in out and "kiosk south" in out and "queue 0" in out
