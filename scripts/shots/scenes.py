"""The scenes and the pages each one can take, in the order they are taken."""

from __future__ import annotations

from scripts.shots import gallery, hr, integrations, review
from scripts.shots.common import Shot

SCENES = {
    "gallery": (gallery.take, gallery.PANELS + gallery.SETTINGS + gallery.PROMPTS),
    "hr": (hr.take, hr.VIEWS + hr.HR_PAGES + hr.DIALOGS),
    "review": (review.take, ["review", "review-added", "review-dismissed"]),
    "integrations": (integrations.take, ["settings-integrations"]),
}


def catalogue() -> dict[str, list[str]]:
    return {scene: list(pages) for scene, (_, pages) in SCENES.items()}


def take(scene: str, pages: list[str], shot: Shot) -> None:
    SCENES[scene][0](pages, shot)
