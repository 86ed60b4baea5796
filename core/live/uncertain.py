"""The kiosk's question for an uncertain face (core.gallery.match.MatchDecision.UNCERTAIN): "Are you NAME?".

The recognizer asks once per track, when the track's last `votes_to_mark` matches were all uncertain
for the same person; the GUI shows the question and hands the answer to the engine
(Engine.confirm_uncertain / refuse_uncertain), which also records it here so the recognizer stops asking.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class UncertainAnswer(enum.StrEnum):
    YES = "yes"
    NO = "no"
    TIMED_OUT = "timed_out"  # counts as No


@dataclass(eq=False)
class UncertainQuestion:
    track_id: int
    person_id: int  # who the face most resembles
    name: str
    similarity: float
    crop_jpeg: bytes | None  # the face (FaceNet's crop, as a sample stores it)
    source: str
    asked_at: float  # the frame time it was first asked
    timeout_s: float
    answer: UncertainAnswer | None = field(default=None)  # set once, from the thread that answered

    @property
    def answered(self) -> bool:
        return self.answer is not None
