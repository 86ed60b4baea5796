"""Capture enrollment: take face samples from a live source, with guidance for the person in front of it.

Each frame is checked against the enrollment quality gates. A frame that passes becomes a sample,
at most one every `min_gap_s`, so the samples differ a little; the rest say what to change.
Nothing is saved here: the caller saves the candidates (Engine.enroll_candidates).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from core.base.errors import EnrollmentError
from core.base.settings import EnrollmentSettings
from core.gallery.enroll import Enroller, FaceCandidate
from core.live.frames import Frame
from core.vision.detect import DetectedFace, FaceDetector
from core.vision.images import to_rgb

CancelCheck = Callable[[], bool]


# EnrollmentError.reason -> what the person in front of the camera should do
GUIDANCE = {
    "no_face": "No face found: look at the camera",
    "too_small": "Move closer",
    "several_faces": "Only one face please",
    "blurred": "Hold still",
    "low_confidence": "Face the camera in good light",
}


@dataclass(frozen=True)
class CaptureProgress:
    """One checked frame: the faces found, the one chosen, guidance, and a new sample when one was taken."""

    frame: Frame
    faces: list[DetectedFace]
    chosen: DetectedFace | None
    guidance: str
    good: bool  # the frame passed the quality gates
    taken: int  # samples taken so far
    wanted: int
    sample: FaceCandidate | None = None


def capture_samples(
    enroller: Enroller,
    detector: FaceDetector,
    frames: Iterator[Frame],
    wanted: int,
    source_name: str = "",
    cancel: CancelCheck | None = None,
    min_gap_s: float = EnrollmentSettings.capture_gap_s,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[CaptureProgress]:
    """Check frames until `wanted` samples are taken, the frames end or `cancel()` is true."""
    taken, last_taken = 0, float("-inf")
    for frame in frames:
        if taken >= wanted or (cancel and cancel()):
            return
        rgb = to_rgb(frame.image, "bgr")
        faces = detector.detect(rgb, with_crops=False)
        sample, chosen = None, None
        try:
            candidate = enroller.candidate_from_frame(rgb, f"{source_name} frame {frame.index}", faces=faces)
            chosen = candidate.face
            now = clock()
            if now - last_taken >= min_gap_s:
                sample, last_taken, taken = candidate, now, taken + 1
            guidance, good = f"Good: sample {taken} of {wanted}", True
        except EnrollmentError as exc:
            guidance, good = GUIDANCE.get(exc.reason, str(exc)), False
        yield CaptureProgress(frame, faces, chosen, guidance, good, taken, wanted, sample)
