"""Draw the demo server's whole vocabulary on one contact sheet: docs/demo-vocabulary.png.

    python tools/demo_vocabulary.py [--out FILE] [--cell PX]

Every noun (as "a NOUN" draws it), then what the time, weather, ground and style words do, each
picture labelled with its words. Look at it after adding a noun: each must be recognisable at a glance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wisgate_nb.emulator import draw  # noqa: E402
from wisgate_nb.emulator.scene import NOUNS  # noqa: E402
from wisgate_nb.emulator.scene.words import GROUNDS, STYLES, TIMES, WEATHERS  # noqa: E402

COLUMNS = 10
ROWS = {  # what the words other than nouns do, each with one subject to show it on
    "time": [f"a house at {t}" for t in dict.fromkeys(TIMES.values())],
    "weather": [f"a tree in the {w}" for w in dict.fromkeys(WEATHERS.values())] + ["a red fox and a blue car"],
    "ground": [f"a dog on the {g}" for g in dict.fromkeys(GROUNDS.values())],
    "style": [f"{s} of a lighthouse at dusk" for s in dict.fromkeys(STYLES.values())] + ["zzq blorp (fallback)"],
}


def cell(prompt: str, px: int, label: str) -> Image.Image:
    picture = draw.render(prompt.replace(" (fallback)", ""), (px, px), quality="high", mark=False)
    out = Image.new("RGB", (px, px + px // 7), "white")
    out.paste(picture, (0, 0))
    font = ImageFont.load_default(size=max(10, px // 11))
    ImageDraw.Draw(out).text((px // 2, px + px // 14), label, fill="black", font=font, anchor="mm")
    return out


def sheet(px: int) -> Image.Image:
    cells = [cell(f"a {noun}", px, noun) for noun in NOUNS]
    lines = [cells[i:i + COLUMNS] for i in range(0, len(cells), COLUMNS)]
    for prompts in ROWS.values():
        lines.append([cell(p, px, p.replace("of a lighthouse at dusk", "").replace("a house at ", "")
                           .replace("a tree in the ", "").replace("a dog on the ", "")) for p in prompts])
    w, h = px + 6, px + px // 7 + 6
    out = Image.new("RGB", (COLUMNS * w + 6, len(lines) * h + 6), (235, 235, 235))
    for r, line in enumerate(lines):
        for c, im in enumerate(line):
            out.paste(im, (6 + c * w, 6 + r * h))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "demo-vocabulary.png")
    parser.add_argument("--cell", type=int, default=128, help="the side of one picture, in pixels")
    args = parser.parse_args(argv)
    img = sheet(args.cell).quantize(colors=256, dither=Image.Dither.NONE)
    img.save(args.out, optimize=True)
    print(f"{args.out}: {len(NOUNS)} nouns, {img.width}x{img.height}, {args.out.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
