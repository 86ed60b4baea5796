"""`rollcall recognize --liveness` asks everyone recognised for the head-movement challenge, so a
printed photo of an enrolled person swung in front of the camera is never marked. The passive check,
which lets most printed photos through, is its own switch: `--photo-filter`, `liveness.photo_filter`
(the old `liveness.enabled`)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from benchmarks import presentation_attacks as pa
from core.app.cli import build_parser, main
from core.base.records import ChallengeOutcome
from core.base.settings import Settings
from tests.kits.challenge import ANSWERS, performer_print

HAMILTON = "video/hamilton_640x360.mp4"
ENROLL_FRAMES = (100, 130, 160)  # the performer close up, as tests/app/test_cli.py enrolls him
ATTACK_FPS = 10.0


@pytest.fixture(scope="module")
def clip_bgr(faces: Path) -> list:
    capture = cv2.VideoCapture(str(faces / HAMILTON))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            capture.release()
            return frames
        frames.append(frame)


@pytest.fixture(scope="module")
def photo_attack_video(clip_bgr: list, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A printed photo of the performer, swung and turned in front of the camera for 7 s (as in
    tests/live/test_challenge_attacks.py), written as a video file."""
    attack = pa.attack_presentation(performer_print(clip_bgr), ANSWERS, "print", 7.0, seed=5, fps=ATTACK_FPS)
    video = tmp_path_factory.mktemp("attack") / "printed-photo.avi"
    height, width = attack.frames[0].shape[:2]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), ATTACK_FPS, (width, height))
    for frame in attack.frames:
        writer.write(frame)
    writer.release()
    return video


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def enroll_performer(capsys: pytest.CaptureFixture[str], clip_bgr: list, folder: Path) -> None:
    photos = []
    for index in ENROLL_FRAMES:
        path = folder / f"frame_{index:03d}.jpg"
        cv2.imwrite(str(path), clip_bgr[index], [cv2.IMWRITE_JPEG_QUALITY, 95])
        photos.append(str(path))
    code, out, _ = run(capsys, "enroll", "Performer", *photos)
    assert code == 0 and "enrolled: Performer" in out


def test_recognize_with_liveness_never_marks_a_swung_printed_photo(
    capsys, default_weights, clip_bgr, photo_attack_video, tmp_path
):
    from core.app.engine import Engine

    enroll_performer(capsys, clip_bgr, tmp_path)
    code, out, err = run(capsys, "recognize", str(photo_attack_video), "--liveness")
    assert code == 0, err
    assert "0 marked" in out, f"the printed photo was marked with --liveness:\n{out}"
    assert "[liveness] Performer:" in err, "the performer (in no group) must be asked to move his head"
    with Engine(Settings.load()) as engine:
        attempts = engine.store.challenges()
        assert attempts and {a.outcome for a in attempts} <= {ChallengeOutcome.FAILED, ChallengeOutcome.TIMED_OUT}
        assert engine.store.events() == []

    code, out, _ = run(capsys, "recognize", str(photo_attack_video))
    assert code == 0 and "1 marked" in out, "without --liveness the photo is marked: the attack is a real one"


def test_the_liveness_flag_requires_the_challenge_for_everyone(default_weights):
    from core.app.cli.common import open_engine

    def liveness_of(*flags: str):
        args = build_parser(["recognize"]).parse_args(["recognize", "0", *flags])
        with open_engine(args) as engine:
            return engine.settings.liveness, engine.recognizer(source_name="test").challenges

    rules, desk = liveness_of("--liveness")
    assert rules.challenge and desk.active
    assert desk.required_for(1) and desk.required_for(12345), "everyone recognised, not only a group's people"
    rules, desk = liveness_of("--photo-filter")
    assert rules.photo_filter and not rules.challenge and not desk.required_for(1)
    rules, desk = liveness_of()
    assert not (rules.photo_filter or rules.challenge or desk.active)


def test_the_old_liveness_enabled_key_is_the_photo_filter(tmp_path):
    """A settings.json of earlier versions keeps its passive check, under its new name."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"liveness": {"enabled": True, "threshold": 0.85}}), encoding="utf-8")
    settings = Settings.load(path)
    assert settings.liveness.photo_filter and not settings.liveness.challenge
    assert settings.liveness.threshold == 0.85
    settings.save(path)
    saved = json.loads(path.read_text(encoding="utf-8"))["liveness"]
    assert saved["photo_filter"] is True and "enabled" not in saved
