"""The `rollcall` CLI in-process, and frames saved from the shared video."""

from __future__ import annotations

from pathlib import Path

import cv2

from core.app.cli import main

HAMILTON = "video/hamilton_640x360.mp4"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def save_frames(video: Path, indices: list[int], folder: Path) -> list[Path]:
    capture = cv2.VideoCapture(str(video))
    paths, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index in indices:
            path = folder / f"frame_{index:03d}.jpg"
            cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
            paths.append(path)
        index += 1
    capture.release()
    return paths
