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


def place_name(source: str) -> str:
    """Where a camera or recording is, as HR says it: a file's name without its folders and type
    ('/srv/video/north-door.mp4' is 'north-door'), a stream's host, a camera's name as it is."""
    text = str(source).strip()
    if "://" in text:
        host = text.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        return host or text
    if "/" in text or "\\" in text:
        name = text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        stem = name.rsplit(".", 1)[0] if "." in name[1:] else name
        return stem or text
    return text


def places(sources) -> str:
    """The places a visitor was seen, each once, in order: 'north-door, south-door'."""
    return ", ".join(dict.fromkeys(place_name(s) for s in sources))
