"""Copy the README's screenshots from test-artifacts/ (made by the browser tests) to docs/, smaller.

    pytest tests/test_browser_notebooks.py tests/test_browser_panel.py tests/test_browser_look.py
    python tools/update_screenshots.py

docs/ is tracked, so the tests never write there themselves.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
DOCS = REPO / "docs"
SCREENSHOTS = {"magic.png": "screenshot-magic.png", "panel.png": "screenshot-panel.png",
               "look-lab-dark.png": "screenshot-dark.png"}
WIDTH = 1000


def shrink(source: Path, target: Path, width: int = WIDTH) -> None:
    """At most `width` px wide, 256 dithered colours: a few tens of KB instead of hundreds."""
    with Image.open(source) as im:
        im.thumbnail((width, width * 4))
        im.convert("RGB").quantize(colors=256, dither=Image.Dither.FLOYDSTEINBERG).save(target, optimize=True)


def main() -> int:
    DOCS.mkdir(exist_ok=True)
    missing = [name for name in SCREENSHOTS if not (ARTIFACTS / name).exists()]
    for name, target in SCREENSHOTS.items():
        if name in missing:
            continue
        shrink(ARTIFACTS / name, DOCS / target)
        print(f"docs/{target}: {(DOCS / target).stat().st_size // 1000} KB")
    if missing:
        print(f"not in test-artifacts/ (run the browser tests first): {', '.join(missing)}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
