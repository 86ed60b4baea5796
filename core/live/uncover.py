"""Asking a covered face to uncover for a moment, once, as an airport gate does (issue 34).

A face that is not recognised, whose best template is a derived one (a drawn mask or glasses), and that
is near someone there (accepted on the photos' threshold but not the covered one, or uncertain) is
most likely covered:
the kiosk asks the person to lower the mask or take off the glasses, once per track, and waits
`RecognitionSettings.uncover_prompt_s` before it may log the face as unknown. Meanwhile the face is
embedded on every detection, so it is named as soon as it shows itself. A passer-by near nobody (a
rejected match) is not asked.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from core.base.records import Occlusion
from core.gallery.match import MatchDecision, MatchResult


class Cover(enum.StrEnum):
    MASK = "mask"
    GLASSES = "glasses"


INSTRUCTIONS = {
    Cover.MASK: "Please lower your mask for a moment",
    Cover.GLASSES: "Please take off your glasses for a moment",
}


def cover_of(drawn: Occlusion | None) -> Cover | None:
    """The cover a derived template's drawing stands for (a cap's shadow asks nothing)."""
    if drawn is None:
        return None
    if drawn.covers_mouth:
        return Cover.MASK
    if drawn in (Occlusion.DARK_GLASSES, Occlusion.CLEAR_GLASSES):
        return Cover.GLASSES
    return None


@dataclass(frozen=True)
class UncoverPrompt:
    track_id: int
    cover: Cover
    asked_at: float  # frame time, seconds
    until: float

    @property
    def text(self) -> str:
        return INSTRUCTIONS[self.cover]


class UncoverDesk:
    """Per track: at most one prompt, from the first covered miss, held for `wait_s` (0: never ask)."""

    def __init__(self, wait_s: float):
        self.wait_s = float(wait_s)
        self._asked: dict[int, UncoverPrompt] = {}

    def observe(self, track_id: int, result: MatchResult, now: float) -> None:
        if self.wait_s <= 0 or result.person_id is not None or track_id in self._asked:
            return
        if result.decision is MatchDecision.REJECTED:  # near nobody: a passer-by is not asked
            return
        cover = cover_of(result.occlusion)
        if cover is not None:
            self._asked[track_id] = UncoverPrompt(track_id, cover, now, now + self.wait_s)

    def prompt(self, track_id: int, now: float) -> UncoverPrompt | None:
        """The prompt showing now for this track (None before it, after it, or never asked)."""
        asked = self._asked.get(track_id)
        return asked if asked is not None and asked.asked_at <= now < asked.until else None

    def forget(self, live: Iterable[int]) -> None:
        keep = set(live)
        for gone in [k for k in self._asked if k not in keep]:
            self._asked.pop(gone)
