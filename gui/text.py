"""Words for numbers: plurals, and match scores as a person reads them."""

from __future__ import annotations

IRREGULAR = {"person": "people", "day": "days", "sample": "samples"}


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 day', '2 days', '0 people': the count with its noun in the right number."""
    if count == 1:
        return f"{count} {word}"
    return f"{count} {many or IRREGULAR.get(word) or word + 's'}"


def match_strength(score: float, threshold: float) -> str:
    """A score against the threshold in words: how far above (or below) it the face matched.

    Scores are on the active model's own scale (a cosine for FaceNet, a z-score for a fused model), so
    only their place against the threshold means anything to a reader."""
    if threshold <= 0 and score <= 0:
        return "no match"
    ratio = score / threshold if threshold > 0 else 1.0
    if ratio >= 1.25:
        return "strong match"
    if ratio >= 1.0:
        return "match"
    if ratio >= 0.8:
        return "near match"
    return "no match"
