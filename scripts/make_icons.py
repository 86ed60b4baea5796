"""Write the app's SVG icons to resources/icons (a dark and a light variant of each line icon).

The icons are simple line drawings on a 24x24 grid, drawn for Rollcall. Run again after editing:
    python scripts/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
DARK, LIGHT = "#334155", "#f8fafc"

# name -> SVG body; "C" is replaced by the stroke/fill colour
SHAPES = {
    "camera": '<rect x="2" y="6" width="20" height="14" rx="3"/><path d="M8 6l2-3h4l2 3"/>'
    '<circle cx="12" cy="13" r="4"/>',
    "enroll": '<circle cx="9" cy="8" r="4"/><path d="M2 21c0-4 3-7 7-7s7 3 7 7"/><path d="M19 8v6M16 11h6"/>',
    "people": '<circle cx="9" cy="8" r="4"/><path d="M2 21c0-4 3-7 7-7s7 3 7 7"/><path d="M16 4a4 4 0 0 1 0 8"/>'
    '<path d="M18 14.5c2.4 1 4 3.5 4 6.5"/>',
    "attendance": '<rect x="3" y="5" width="18" height="16" rx="2"/><path d="M3 10h18M8 3v4M16 3v4"/>'
    '<path d="M9 15.5l2 2 4-4"/>',
    "models": '<rect x="6" y="6" width="12" height="12" rx="2"/><rect x="9.5" y="9.5" width="5" height="5" rx="1"/>'
    '<path d="M9.5 2v4M14.5 2v4M9.5 18v4M14.5 18v4M2 9.5h4M2 14.5h4M18 9.5h4M18 14.5h4"/>',
    "settings": '<path d="M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1"/><circle cx="15" cy="6" r="2"/>'
    '<circle cx="9" cy="12" r="2"/><circle cx="17" cy="18" r="2"/>',
    "recognize": '<path d="M3 8V5a2 2 0 0 1 2-2h3M16 3h3a2 2 0 0 1 2 2v3M21 16v3a2 2 0 0 1-2 2h-3'
    'M8 21H5a2 2 0 0 1-2-2v-3"/>'
    '<circle cx="12" cy="10" r="3"/><path d="M7 17.5c1.2-2 3-3 5-3s3.8 1 5 3"/>',
    "play": '<path d="M7 4.5v15l12-7.5z" fill="C"/>',
    "stop": '<rect x="6" y="6" width="12" height="12" rx="2" fill="C"/>',
    "save": '<path d="M5 12.5l4.5 4.5L19 7.5"/>',
    "folder": '<path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/>',
    "image": '<rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="8.5" cy="9.5" r="1.5"/>'
    '<path d="M21 15.5l-5-5L6.5 20"/>',
    "film": '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M7.5 4v16M16.5 4v16M3 9h4.5M3 15h4.5'
    'M16.5 9H21M16.5 15H21"/>',
    "link": '<circle cx="12" cy="12" r="9"/><path d="M3 12h18"/><ellipse cx="12" cy="12" rx="4" ry="9"/>',
    "edit": '<path d="M4 20h4L19 9l-4-4L4 16z"/><path d="M13.5 6.5l4 4"/>',
    "trash": '<path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v5M14 11v5"/>',
    "download": '<path d="M12 4v11M7 10l5 5 5-5M5 20h14"/>',
    "chevron-down": '<path d="M6 9l6 6 6-6"/>',
    "chevron-up": '<path d="M6 15l6-6 6 6"/>',
    "refresh": '<path d="M20 11a8 8 0 1 0-2.3 5.7"/><path d="M20 4v7h-7"/>',
    "review": '<circle cx="9" cy="8" r="4"/><path d="M2 21c0-4 3-7 7-7 1.4 0 2.7.4 3.8 1"/>'
    '<circle cx="17.5" cy="16.5" r="3"/><path d="M19.7 18.7L22 21"/>',
}


def line_icon(body: str, colour: str) -> str:
    body = body.replace('fill="C"', f'fill="{colour}"')
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24" fill="none" '
        f'stroke="{colour}" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">'
        f"{body}</svg>\n"
    )


APP_ICON = """<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 64 64">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#3b82f6"/><stop offset="1" stop-color="#1d4ed8"/>
    </linearGradient>
  </defs>
  <rect x="2" y="2" width="60" height="60" rx="14" fill="url(#bg)"/>
  <g fill="none" stroke="#ffffff" stroke-width="3.2" stroke-linecap="round" stroke-linejoin="round">
    <path d="M13 22v-5a4 4 0 0 1 4-4h5M42 13h5a4 4 0 0 1 4 4v5M51 42v5a4 4 0 0 1-4 4h-5M22 51h-5a4 4 0 0 1-4-4v-5"/>
    <circle cx="32" cy="28" r="7"/>
    <path d="M21 45c2.5-5 6.5-7.5 11-7.5s8.5 2.5 11 7.5"/>
  </g>
  <circle cx="48" cy="48" r="9" fill="#22c55e" stroke="#ffffff" stroke-width="2.5"/>
  <path d="M44 48l3 3 5-5.5" fill="none" stroke="#ffffff" stroke-width="2.6" stroke-linecap="round"
        stroke-linejoin="round"/>
</svg>
"""


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    for name, body in SHAPES.items():
        (ICONS / f"{name}.svg").write_text(line_icon(body, DARK), encoding="utf-8")
        (ICONS / f"{name}-light.svg").write_text(line_icon(body, LIGHT), encoding="utf-8")
    (ICONS / "rollcall.svg").write_text(APP_ICON, encoding="utf-8")
    print(f"wrote {2 * len(SHAPES) + 1} icons to {ICONS}")


if __name__ == "__main__":
    main()
