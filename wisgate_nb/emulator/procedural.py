"""The procedural drawing: the picture of a prompt whose words the scene composer does not know.

It depends only on (prompt, size, index, seed). The palette comes from the prompt (colour words such
as "red" or "teal" set the hue), each word becomes one shape whose kind, colour and scale depend on
the word (prompts that share words share shapes) and whose position depends on the image index (so
the n images of one request are variations of each other). ``marks`` labels every demo picture.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import random
import re

from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = ["grain", "marks", "render"]

_STOPWORDS = frozenset({
    "a", "an", "and", "the", "of", "on", "in", "with", "at", "to", "for", "by", "from", "is", "are", "be",
    "as", "its", "it", "this", "that",
})  # fmt: skip
_COLOUR_HUES = {
    "red": 0.0, "crimson": 0.97, "pink": 0.92, "orange": 0.07, "amber": 0.1, "gold": 0.12,
    "golden": 0.12, "yellow": 0.15, "lime": 0.25, "green": 0.33, "forest": 0.36, "teal": 0.48,
    "cyan": 0.5, "turquoise": 0.47, "blue": 0.61, "navy": 0.64, "ocean": 0.57, "sky": 0.55,
    "indigo": 0.7, "purple": 0.78, "violet": 0.8, "magenta": 0.85, "neon": 0.86, "sunset": 0.04,
}  # fmt: skip
_SHAPE_WORDS = {
    "ellipse": {"sun", "moon", "circle", "ball", "planet", "bubble", "bubbles", "eye", "orb", "dot", "cat"},
    "rect": {"city", "building", "buildings", "skyline", "house", "box", "tower", "window", "square", "robot"},
    "triangle": {"mountain", "mountains", "tree", "trees", "triangle", "pyramid", "forest", "rocket"},
    "wave": {"sea", "ocean", "river", "water", "wave", "waves", "rain", "wind", "road", "street"},
}  # fmt: skip
_KINDS = ("ellipse", "rect", "triangle", "wave")


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass")).digest()


def _rng(*parts: object) -> random.Random:
    return random.Random(_digest(*parts))


def _words(prompt: str) -> list[str]:
    seen: dict[str, None] = {}
    for word in re.findall(r"\w+", prompt.lower()):
        if word not in _STOPWORDS and len(word) > 1:
            seen.setdefault(word)
    return list(seen)[:14] or [prompt.strip().lower() or "?"]


def _rgb(hue: float, light: float, sat: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, light, sat)
    return round(r * 255), round(g * 255), round(b * 255)


def _base_hue(prompt: str, words: list[str], seed: int) -> float:
    for word in words:
        if word in _COLOUR_HUES:
            return _COLOUR_HUES[word]
    return _rng("hue", prompt.strip().lower(), seed).random()


def _background(size: tuple[int, int], hue: float, rng: random.Random) -> Image.Image:
    """A two-colour linear gradient at an angle chosen by ``rng``."""
    ramp = Image.linear_gradient("L").rotate(rng.uniform(0, 360), Image.BILINEAR)
    ramp = ramp.crop((38, 38, 218, 218)).resize(size, Image.BILINEAR)  # the inner square has no corners
    dark = _rgb(hue + rng.uniform(-0.06, 0.06), rng.uniform(0.12, 0.3), rng.uniform(0.45, 0.8))
    light = _rgb(hue + rng.choice((0.06, 0.12, -0.1, 0.5)), rng.uniform(0.55, 0.75), rng.uniform(0.5, 0.9))
    return ImageOps.colorize(ramp, dark, light)


def _draw_shape(
    draw: ImageDraw.ImageDraw,
    word: str,
    hue: float,
    size: tuple[int, int],
    pos: random.Random,
    seed: int,
    own_hue: float | None = None,
) -> None:
    look = _rng("shape", word, seed)  # kind, colour and scale follow the word; position follows the image
    kind = next((k for k, vocab in _SHAPE_WORDS.items() if word in vocab), look.choice(_KINDS))
    shade = hue + look.choice((0.0, 0.08, 1 / 3, 0.5, 2 / 3)) if own_hue is None else own_hue
    colour = _rgb(shade, look.uniform(0.4, 0.7) if own_hue is None else 0.5, look.uniform(0.5, 1.0))
    fill = (*colour, look.randrange(130, 220))
    w, h = size
    r = max(2, int(min(w, h) * look.uniform(0.07, 0.3)))
    x, y = int(pos.uniform(0.05, 0.95) * w), int(pos.uniform(0.08, 0.9) * h)
    if kind == "ellipse":
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    elif kind == "rect":
        draw.rounded_rectangle((x - r // 2, y - r, x + r // 2, h), radius=max(1, r // 8), fill=fill)
    elif kind == "triangle":
        draw.polygon([(x - r, y + r), (x + r, y + r), (x + pos.randint(-r // 2, r // 2), y - r)], fill=fill)
    else:
        amp, step = max(1, r // 4), max(4, w // 24)
        points = [(px, y + (amp if (px // step) % 2 else -amp)) for px in range(0, w + step, step)]
        draw.line(points, fill=fill, width=max(2, r // 5), joint="curve")


@functools.lru_cache(maxsize=16)
def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=px)
    except (ImportError, OSError, TypeError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _label(draw: ImageDraw.ImageDraw, text: str, xy: tuple[int, int], font, anchor: str) -> None:
    if not isinstance(font, ImageFont.FreeTypeFont):
        text = text.encode("latin-1", "replace").decode("latin-1")
    box = draw.textbbox(xy, text, font=font, anchor=anchor)
    pad = max(2, (box[3] - box[1]) // 4)
    draw.rectangle((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad), fill=(0, 0, 0, 140))
    draw.text(xy, text, font=font, fill=(255, 255, 255, 235), anchor=anchor)


def marks(draw: ImageDraw.ImageDraw, size: tuple[int, int], prompt: str) -> None:
    """The prompt's first words bottom-left and "DEMO" top-right."""
    w, h = size
    font = _font(max(8, min(w, h) // 28))
    margin = max(2, min(w, h) // 40)
    _label(draw, "DEMO", (w - margin, margin), font, "ra")
    caption = " ".join(prompt.split())
    limit = w - 2 * margin - 8
    if draw.textlength(caption, font=font) > limit:
        while caption and draw.textlength(caption + "…", font=font) > limit:
            caption = caption[: max(0, min(len(caption) - 1, int(len(caption) * 0.9)))]
        caption = caption.rstrip() + "…" if caption else ""
    if caption:
        _label(draw, caption, (margin, h - margin), font, "ld")


def grain(img: Image.Image, *parts: object) -> Image.Image:
    """A seeded, incompressible texture blended in (the ``noise`` setting, for benchmarks)."""
    noise = Image.frombytes("RGB", img.size, _rng("noise", *parts).randbytes(img.size[0] * img.size[1] * 3))
    return Image.blend(img, noise.convert(img.mode), 0.35)


def render(prompt: str, size: tuple[int, int], *, index: int = 0, seed: int = 0, transparent: bool = False,
           noise: bool = False) -> Image.Image:
    """The procedural picture, RGBA, without the marks."""
    words = _words(prompt)
    hue = _base_hue(prompt, words, seed)
    layout = _rng("layout", prompt, index, seed)
    if transparent:
        img = Image.new("RGBA", size, (0, 0, 0, 0))
    else:
        img = _background(size, hue, layout).convert("RGBA")
        if noise:
            img = grain(img, prompt, index, seed)
    shapes = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    colour_word: str | None = None
    for word in words:
        if word in _COLOUR_HUES and colour_word is None:  # "red sun": the sun is red
            colour_word = word
            continue
        own = None if colour_word is None else _COLOUR_HUES[colour_word]
        _draw_shape(draw, word, hue, size, layout, seed, own)
        colour_word = None
    img = Image.alpha_composite(img, shapes)
    return img
