"""The usual loop, for comparison: face_recognition's documented webcam example
(facerec_from_webcam_faster.py): resize the frame, HOG face locations, 128-d dlib encodings,
compare_faces/face_distance against the known encodings, every other frame; the skipped frame
shows the previous frame's names, as the example's drawing code does. Nothing is drawn here
(both pipelines run headless).

Benchmark-only: `pip install -e .[bench] --no-deps` is not enough because face_recognition
pins dlib (a source build); install with

    pip install dlib-bin face_recognition_models face_recognition --no-deps

face_recognition_models imports pkg_resources, which setuptools >= 81 no longer ships; `load()`
provides a minimal stand-in when it is missing.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import types
from pathlib import Path

import numpy as np


def load():
    """Import face_recognition, or raise ImportError with the install line."""
    if importlib.util.find_spec("face_recognition") is None or importlib.util.find_spec("dlib") is None:
        raise ImportError(
            "face_recognition is not installed: pip install dlib-bin face_recognition_models face_recognition --no-deps"
        )
    if "pkg_resources" not in sys.modules and importlib.util.find_spec("pkg_resources") is None:
        shim = types.ModuleType("pkg_resources")  # face_recognition_models only needs resource_filename

        def resource_filename(package: str, name: str) -> str:
            return str(Path(importlib.util.find_spec(package).origin).parent / name)

        shim.resource_filename = resource_filename
        sys.modules["pkg_resources"] = shim
    import face_recognition

    return face_recognition


def known_encodings(fr, bgr_frames: list, scale: float) -> tuple[list, str]:
    """Encodings of the enrolled frames: face_encodings(image) as the README shows; when HOG finds
    no face at full size, the frame at the loop's scale (what the loop itself would see)."""
    import cv2

    encodings, how = [], set()
    for bgr in bgr_frames:
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        found = fr.face_encodings(rgb)
        if found:
            how.add("full size")
        else:
            small = cv2.resize(rgb, (0, 0), fx=scale, fy=scale)
            found = fr.face_encodings(small)
            how.add(f"x{scale}")
        if found:
            encodings.append(found[0])
    return encodings, "+".join(sorted(how))


def run(video: Path, known: list, names: list[str], scale: float = 0.5, limit: int | None = None):
    """The loop over a file as fast as possible. Returns per-frame names on screen, stage seconds,
    frames processed, and per-frame (start, end) perf_counter times."""
    import cv2

    fr = load()
    capture = cv2.VideoCapture(str(video))
    process_this_frame = True
    face_names: list[str] = []
    on_screen: list[list[str]] = []
    stages = {"decode": 0.0, "detect": 0.0, "embed": 0.0, "match": 0.0}
    processed = 0
    times: list[tuple[float, float]] = []
    while limit is None or len(on_screen) < limit:
        t0 = time.perf_counter()
        ok, frame = capture.read()
        if not ok:
            break
        t1 = time.perf_counter()
        stages["decode"] += t1 - t0
        if process_this_frame:
            small_frame = cv2.resize(frame, (0, 0), fx=scale, fy=scale)
            rgb_small_frame = cv2.cvtColor(small_frame, cv2.COLOR_BGR2RGB)
            face_locations = fr.face_locations(rgb_small_frame)
            t2 = time.perf_counter()
            face_encodings = fr.face_encodings(rgb_small_frame, face_locations)
            t3 = time.perf_counter()
            face_names = []
            for face_encoding in face_encodings:
                name = "Unknown"
                if known:
                    matches = fr.compare_faces(known, face_encoding)
                    face_distances = fr.face_distance(known, face_encoding)
                    best_match_index = int(np.argmin(face_distances))
                    if matches[best_match_index]:
                        name = names[best_match_index]
                face_names.append(name)
            stages["detect"] += t2 - t1
            stages["embed"] += t3 - t2
            stages["match"] += time.perf_counter() - t3
            processed += 1
        process_this_frame = not process_this_frame
        on_screen.append(list(face_names))
        times.append((t0, time.perf_counter()))
    capture.release()
    return on_screen, stages, processed, times
