"""The `rollcall` command end to end on real faces and the shared video."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.vision.models import ModelRegistry
from core.vision.sface import SFACE_MODEL
from tests.kits.cli import HAMILTON, run, save_frames
from tests.kits.paths import MODELS_CACHE, REPO, dev_people, dev_photos


def test_identify_json_reports_every_face(capsys, default_weights, faces):
    person = dev_people()[0]
    code, _, _ = run(capsys, "enroll", "Someone", *map(str, dev_photos(person)[:3]))
    assert code == 0
    code, out, _ = run(capsys, "identify", "--json", str(faces / "group" / "six_faces.jpg"), str(dev_photos(person)[5]))
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 7
    for row in rows:
        assert set(row) >= {"image", "box", "person", "similarity"} and len(row["box"]) == 4
    group = [r for r in rows if r["image"].endswith("six_faces.jpg")]
    assert all(r["person"] is None for r in group)
    assert rows[-1]["person"] == "Someone"


def test_identify_bad_file_says_what_is_wrong(capsys, default_weights, tmp_path):
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"\x00\x01garbage")
    code, _, err = run(capsys, "identify", str(bad))
    assert code == 1 and "not an image file" in err


def test_people_delete_report_and_export(capsys, default_weights, tmp_path):
    tree = tmp_path / "tree"
    for person in dev_people()[:2]:
        (tree / person.name).mkdir(parents=True)
        for photo in dev_photos(person)[:2]:
            (tree / person.name / photo.name).write_bytes(photo.read_bytes())
    code, out, _ = run(capsys, "import", str(tree))
    assert code == 0 and out.count("enrolled:") == 2
    code, out, _ = run(capsys, "people", "--json")
    people = json.loads(out)
    assert len(people) == 2 and all(p["samples"] == 2 for p in people)
    assert all(p["derived"] == 4 for p in people)  # a masked and a glasses template per photo, counted apart
    code, out, _ = run(capsys, "people")
    assert "(2 samples, 4 derived)" in out
    code, out, _ = run(capsys, "delete", str(people[0]["id"]), "--yes")
    assert code == 0 and "deleted" in out
    code, out, _ = run(capsys, "people", "--json")
    assert [p["name"] for p in json.loads(out)] == [people[1]["name"]]
    code, out, _ = run(capsys, "report")
    assert code == 0 and "0 people" in out
    out_csv = tmp_path / "attendance.csv"
    code, out, _ = run(capsys, "export", str(out_csv))
    assert code == 0 and out_csv.exists()
    code, _, err = run(capsys, "delete", "Nobody At All", "--yes")
    assert code == 2 and "error:" in err


@pytest.mark.slow
def test_recognize_marks_the_performer_exactly_once(capsys, default_weights, faces, tmp_path):
    video = faces / HAMILTON
    frames = save_frames(video, [100, 130, 160], tmp_path)
    code, out, _ = run(capsys, "enroll", "Performer", *map(str, frames))
    assert code == 0 and "enrolled: Performer" in out
    faces_csv = tmp_path / "faces.csv"
    code, out, err = run(capsys, "recognize", str(video), "--faces-csv", str(faces_csv))
    assert code == 0, err
    with open(faces_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert set(rows[0]) == {
        "frame",
        "time_s",
        "track",
        "state",
        "person_id",
        "name",
        "similarity",
        "x1",
        "y1",
        "x2",
        "y2",
    }
    named = {int(r["frame"]) for r in rows if r["name"] == "Performer"}
    # As many performer frames as face_recognition's half-size loop names (126, benchmarks/whole_process.py),
    # and none in the pianist (20-81) or audience (211-274) shots.
    assert len(named) >= 126 and not named & (set(range(20, 82)) | set(range(211, 275)))
    assert {r["state"] for r in rows} <= {"pending", "known", "unknown", "too_small"}
    lines = [line for line in out.splitlines() if " check_in " in line or " unknown " in line or " check_out " in line]
    marked = [line for line in lines if "unknown" not in line.split()[2]]
    assert len(marked) == 1 and "Performer" in marked[0], out
    assert "1 marked" in out
    # The audience (frames 220-275) is logged as unknown, never as a person.
    assert sum("unknown" in line for line in lines) >= 1
    code, out, _ = run(capsys, "report")
    assert "1 people" in out and "Performer" in out
    export = tmp_path / "today.csv"
    run(capsys, "export", str(export))
    with open(export, encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows if r["kind"] == "check_in"] == ["Performer"]


def test_eval_lfw_writes_figures_and_plot(capsys, default_weights, faces, tmp_path):
    # A small pairs file in View 1 format: 10 same and 10 different pairs from the shared set.
    source = (faces / "lfw_view1" / "pairsDevTest.txt").read_text().splitlines()
    same = [line for line in source[1:] if len(line.split()) == 3][:10]
    diff = [line for line in source[1:] if len(line.split()) == 4][:10]
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("\n".join(["10", *same, *diff]) + "\n")
    plot, figures = tmp_path / "roc.png", tmp_path / "figures.json"
    code, out, _ = run(
        capsys,
        "eval",
        "lfw",
        "--pairs",
        str(pairs),
        "--images",
        str(faces / "lfw_view1" / "images"),
        "--plot",
        str(plot),
        "--json",
        str(figures),
    )
    assert code == 0
    data = json.loads(figures.read_text())
    assert {"accuracy", "auc", "tar_at_far_1e-3", "threshold", "pairs"} <= set(data)
    assert data["pairs"] == 20 and data["accuracy"] >= 0.9
    assert plot.stat().st_size > 5000 and "accuracy" in out


@pytest.mark.slow
def test_lfw_view1_accuracy_of_the_default_model(capsys, default_weights, faces, tmp_path):
    figures = tmp_path / "lfw.json"
    code, out, _ = run(
        capsys,
        "eval",
        "lfw",
        "--pairs",
        str(faces / "lfw_view1" / "pairsDevTest.txt"),
        "--images",
        str(faces / "lfw_view1" / "images"),
        "--plot",
        str(tmp_path / "roc.png"),
        "--json",
        str(figures),
    )
    assert code == 0
    data = json.loads(figures.read_text())
    print(out)
    assert data["pairs"] == 1000
    assert data["accuracy"] >= 0.990
    # The default is FaceNet fused with SFace: not below FaceNet alone, more true accepts at FAR 1e-3.
    facenet = data["members"]["facenet-keras-128"]
    assert data["accuracy"] >= facenet["accuracy"] and data["tar_at_far_1e-3"] > facenet["tar_at_far_1e-3"]


@pytest.mark.slow
def test_hr_day_end_to_end_late_absent_punch_audit_timesheet(capsys, default_weights, faces, tmp_path):
    from datetime import datetime, timedelta

    import openpyxl

    from core.attendance.schedule import site_zone

    now = datetime.now(site_zone(""))
    start = max(now - timedelta(hours=1), now.replace(hour=0, minute=0, second=0, microsecond=0))
    if now - start < timedelta(minutes=2):
        pytest.skip("too close to midnight for a shift that started before now on the same day")
    end = now + timedelta(hours=3)
    code, out, err = run(
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
    assert run(capsys, "enroll", "Performer", *map(str, frames), "--group", "Stage")[0] == 0
    others = ["Second Person", "Third Person"]
    for name, person in zip(others, dev_people()[:2]):
        code, out, err = run(capsys, "enroll", name, *map(str, dev_photos(person)[:2]), "--group", "Stage")
        assert code == 0 and "group: Stage" in out, err
    code, _, err = run(capsys, "enroll", "Nobody", *map(str, frames), "--group", "No Such Group")
    assert code == 2 and "No group named" in err
    code, out, err = run(capsys, "recognize", str(faces / HAMILTON))
    assert code == 0 and "1 marked" in out, err

    def report() -> dict[str, dict]:
        code, out, err = run(capsys, "report", "--json")
        assert code == 0, err
        rows = [json.loads(line) for line in out.splitlines()]
        for row in rows:
            assert {"name", "external_id", "group", "status", "first_seen", "last_seen", "late_minutes"} <= set(row)
        return {row["name"]: row for row in rows}

    rows = report()
    assert rows["Performer"]["status"] == "late" and rows["Performer"]["late_minutes"] >= 1
    assert rows["Performer"]["first_seen"] is not None and rows["Performer"]["group"] == "Stage"
    assert [rows[n]["status"] for n in others] == ["absent", "absent"]

    code, out, err = run(
        capsys, "punch", "Second Person", "--at", f"{start:%Y-%m-%d %H:%M}", "--reason", "badge reader was down"
    )
    assert code == 0, err
    rows = report()
    assert rows["Second Person"]["status"] == "present" and rows["Third Person"]["status"] == "absent"

    code, out, _ = run(capsys, "audit", "--json")
    entries = [json.loads(line) for line in out.splitlines()]
    punch = next(e for e in entries if e["action"] == "punch")
    assert punch["reason"] == "badge reader was down" and punch["person"] == "Second Person"

    sheet = tmp_path / f"{now:%Y-%m}.xlsx"
    code, out, err = run(capsys, "timesheet", "--month", f"{now:%Y-%m}", "-o", str(sheet))
    assert code == 0, err
    grid = openpyxl.load_workbook(sheet).worksheets[0]
    assert sorted(row[0].value for row in grid.iter_rows(min_row=2)) == ["Performer", *others]


def test_a_second_person_with_an_existing_external_id_is_refused(capsys, default_weights):
    ada, bob = dev_people()[:2]
    code, _, _ = run(capsys, "enroll", "Ada", str(dev_photos(ada)[0]), "--external-id", "E1")
    assert code == 0
    code, out, err = run(capsys, "enroll", "Bob", str(dev_photos(bob)[0]), "--external-id", "E1")
    assert code == 2 and "External ID 'E1' already belongs to Ada" in err, err
    code, out, _ = run(capsys, "people", "--json")
    assert [(p["name"], p["external_id"]) for p in json.loads(out)] == [("Ada", "E1")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders decide the user cache on Linux")
def test_a_fresh_data_folder_finds_the_installed_model(default_weights, faces, tmp_path):
    """Model files are shared by every data folder: `--home`/ROLLCALL_HOME never hides the installed model."""
    user_cache = tmp_path / "xdg-cache"
    installed = user_cache / "Rollcall" / "models"
    installed.mkdir(parents=True)
    sface = ModelRegistry(MODELS_CACHE).ensure_weights(SFACE_MODEL)  # the fused default's second member
    for weights in (default_weights, sface):
        for path in weights.parent.glob(f"{weights.name}*"):  # the weights and their checksum
            (installed / path.name).symlink_to(path)
    home = tmp_path / "fresh-home"
    env = {key: value for key, value in os.environ.items() if key != "ROLLCALL_MODELS_DIR"}
    env.update(
        ROLLCALL_HOME=str(home),
        XDG_CACHE_HOME=str(user_cache),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        PYTHONPATH=str(REPO),
    )
    photo = dev_photos(dev_people()[0])[0]
    result = subprocess.run(
        [sys.executable, "-m", "core.app.cli", "identify", str(photo)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "unknown" in result.stdout and "not installed" not in result.stderr
    assert not (home / "models").exists(), "no model files inside the data folder"
    result = subprocess.run(
        [sys.executable, "-m", "core.app.cli", "--home", str(tmp_path / "other-home"), "models", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "facenet-keras-128    128-d  ready" in result.stdout, result.stdout


@pytest.fixture
def own_models_dir(tmp_path, monkeypatch):
    """Imported models are written to a folder of this test's own, not the shared test cache."""
    folder = tmp_path / "models"
    monkeypatch.setenv("ROLLCALL_MODELS_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def small_weights(tmp_path_factory) -> Path:
    import torch

    from core.vision.keras_facenet import build_network

    path = tmp_path_factory.mktemp("weights") / "my-weights.pt"
    torch.save(build_network(64).state_dict(), path)
    return path


def test_models_add_needs_a_name_and_a_file(capsys, own_models_dir, small_weights):
    code, _, err = run(capsys, "models", "add")
    assert code == 2 and "rollcall models add NAME --file WEIGHTS.pt" in err
    code, _, err = run(capsys, "models", "add", "mine")
    assert code == 2 and "--file" in err
    code, _, err = run(capsys, "models", "add", "mine", "--file", str(small_weights.with_name("missing.pt")))
    assert code == 2 and "does not exist" in err


def test_models_add_registers_a_new_version_and_never_overwrites(capsys, engine, own_models_dir, small_weights):
    code, _, err = run(capsys, "models", "add", "facenet-keras-128", "--file", str(small_weights), "--size", "64")
    assert code == 2 and "built-in model and is never replaced" in err
    assert not list(own_models_dir.glob("facenet-keras-128*")), "nothing written for a refused name"
    code, _, err = run(capsys, "models", "add", "mine", "--file", str(small_weights), "--size", "128")
    assert code == 2 and "does not fit a 128-d FaceNet" in err
    code, out, err = run(capsys, "models", "add", "mine", "--file", str(small_weights), "--size", "64")
    assert code == 0 and "mine: registered (64-d" in out, err
    code, out, _ = run(capsys, "models", "list")
    assert any(
        line.split()[:2] == ["mine", "64-d"] and f"imported from {small_weights}" in line for line in out.splitlines()
    ), out
    record = engine.store.get_model("mine")
    assert record.parent_id is None and Path(record.weights_path).parent == own_models_dir
    assert engine.load_network("mine").last_linear.out_features == 64, "the registered file loads"
    code, _, err = run(capsys, "models", "add", "mine", "--file", str(small_weights), "--size", "64")
    assert code == 2 and "'mine' is already registered" in err
