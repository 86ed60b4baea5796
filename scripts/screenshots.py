"""Take the documentation's screenshots from a real window: docs/screenshot-<page>.png.

    xvfb-run -a .venv/bin/python scripts/screenshots.py                 # every page, at 1280x720
    xvfb-run -a .venv/bin/python scripts/screenshots.py review hr-roster --size 1024x700
    .venv/bin/python scripts/screenshots.py --list                      # the pages, by scene

Each page belongs to a scene: a temporary data folder filled the way the page needs (dev people from
../shared/data/faces enrolled, the demo clip recognised, a month of HR records, strangers for Review,
local integration receivers). Only the scenes of the asked pages are built, each once. Nothing is
written outside a temporary folder except the PNGs. Offscreen (QT_QPA_PLATFORM=offscreen) works too.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.shots import scenes  # noqa: E402
from scripts.shots.common import FACES, HOME, Shot  # noqa: E402


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a size is WIDTHxHEIGHT, for example 1280x720, not {text!r}") from None
    return width, height


def offscreen_screen(width: int, height: int) -> None:
    """Offscreen, give Qt a screen with room for the asked size (the window fits the screen it opens on)."""
    import json
    import os

    if os.environ.get("QT_QPA_PLATFORM", "offscreen") != "offscreen":
        return  # xcb under Xvfb (its screen: xvfb-run -s "-screen 0 WxHx24"), or a configured offscreen screen
    config = HOME / "screen.json"
    screen = {
        "name": "shots",
        "x": 0,
        "y": 0,
        "width": max(width, 1280),
        "height": max(height, 800) + 100,
        "logicalDpi": 96,
        "logicalBaseDpi": 96,
        "dpr": 1,
    }
    config.write_text(json.dumps({"screens": [screen]}))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"


def main(argv: list[str] | None = None) -> int:
    catalogue = scenes.catalogue()
    pages = {page: scene for scene, names in catalogue.items() for page in names}
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", metavar="PAGE", help="pages to take (default: every page)")
    parser.add_argument("--size", type=parse_size, default=(1280, 720), help="window size, WIDTHxHEIGHT")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for the PNGs (default: docs/)")
    parser.add_argument("--list", action="store_true", help="list the pages by scene and exit")
    args = parser.parse_args(argv)
    if args.list:
        for scene, names in catalogue.items():
            print(f"{scene}: {' '.join(names)}")
        return 0
    unknown = [page for page in args.pages if page not in pages]
    if unknown:
        parser.error(f"no such page: {', '.join(unknown)} (--list shows them)")
    if not FACES.is_dir():
        print(f"Face data not found at {FACES}; clone the project beside ../shared.", file=sys.stderr)
        return 1
    wanted = args.pages or list(pages)
    offscreen_screen(*args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.style import apply_style
    from gui.widgets import icon

    app.setApplicationName("Rollcall")
    app.setWindowIcon(icon("rollcall"))
    apply_style(app)
    shot = Shot(args.out, *args.size, written=[])
    try:
        for scene, names in catalogue.items():
            asked = [page for page in names if page in wanted]
            if asked:
                scenes.take(scene, asked, shot)
    finally:
        shutil.rmtree(HOME, ignore_errors=True)  # the temporary data folders hold faces
    missing = sorted(set(wanted) - {p.name.removeprefix("screenshot-").removesuffix(".png") for p in shot.written})
    if missing:
        print(f"not taken: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
