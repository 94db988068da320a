"""A scene from a prompt's words: the plan (what goes where, cheap and pure) and its painting.

``plan`` reads the prompt and places up to three subjects; ``paint`` draws the sky, the ground, the
subjects, the weather and the style. Both depend only on (prompt, size, quality, index, seed), so a
picture is the same every time and the images of one request differ in placement, pose and palette.
Where things go depends only on the nouns, the ground, the size and the image: changing the time,
a colour, the style or the quality changes the same picture. Like a real model, an image after the
first sometimes leaves out a detail the words asked for (``misses``); the record says what was drawn.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from . import backdrop, misses, styles
from .nouns import NOUNS
from .pen import Pen, scaled
from .words import COLOURS, TIMES, Reading, read, singular

DETAIL = {"low": 0, "medium": 1, "high": 2}
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Subject:
    noun: str
    colour_word: str | None
    colour: tuple[int, int, int]
    box: Box
    flip: bool


@dataclass(frozen=True)
class Scene:
    reading: Reading
    size: tuple[int, int]
    detail: int
    horizon: int
    subjects: tuple[Subject, ...]
    shift: float
    key: bytes

    def rng(self, part: str) -> random.Random:
        return random.Random(self.key + part.encode())

    def record(self, *, transparent: bool = False) -> dict[str, Any]:
        """What was drawn, as the image's provenance keeps it (``demo_scene``).

        On a transparent background only the subjects are drawn (in the time's light): no weather,
        ground or style, and their words are not among the words used.
        """
        r = self.reading
        words = [w for w in r.words if not transparent or w in COLOURS or w in TIMES or singular(w)]
        return {"time": r.time, "weather": None if transparent else r.weather,
                "ground": None if transparent else r.ground, "style": [] if transparent else list(r.style),
                "subjects": [{"noun": s.noun, "colour": s.colour_word, "box": list(s.box)} for s in self.subjects],
                "words": words, "fallback": not r.known}


def fallback_record() -> dict[str, Any]:
    return {"time": None, "weather": None, "ground": None, "style": [], "subjects": [], "words": [], "fallback": True}


def plan(prompt: str, size: tuple[int, int], *, quality: str = "medium", index: int = 0, seed: int = 0,
         area: Box | None = None) -> Scene:
    """Where everything goes; subjects are placed inside ``area`` (an edit's mask) when given."""
    reading = read(prompt)
    # The layout follows the nouns and the ground, not the other words: "at noon" -> "at night", "red" ->
    # "blue" or a higher quality change the light, the colour or the detail of the same picture.
    nouns = [noun for noun, _ in reading.subjects]
    key = hashlib.sha256(repr((nouns, reading.ground, size, index, seed)).encode()).digest()
    reading = misses.without(reading, misses.missed(reading, prompt, size, index, seed))  # images after the first
    rng = random.Random(key)
    w, h = size
    horizon = int(h * rng.uniform(0.55, 0.64))
    shift = rng.uniform(-0.06, 0.06) if index else 0.0
    frame = area or (0, 0, w, h)
    subjects = _place(reading, frame, horizon if area is None else None, rng, index)
    return Scene(reading, size, DETAIL.get(quality, 1), horizon, subjects, shift, key)


def _place(reading: Reading, frame: Box, horizon: int | None, rng: random.Random, index: int) -> tuple[Subject, ...]:
    """Boxes for the subjects: ground ones side by side on the ground, sky ones up in the sky."""
    fx0, fy0, fx1, fy1 = frame
    fw, fh = fx1 - fx0, fy1 - fy0
    line = horizon if horizon is not None else fy0 + fh * 0.45
    count = len(reading.subjects)
    slots = list(range(count))
    rng.shuffle(slots)  # the image index changes the order, so the images of one request differ
    placed = []
    for (noun, word), slot in zip(reading.subjects, slots):
        entry = NOUNS[noun]
        scale = rng.uniform(0.85, 1.15) * (1.6, 1.3, 1.0)[count - 1] * (1.0 if horizon is not None else 1.4)
        bh = min(entry.height * scale, 0.7) * fh
        bw = bh * entry.aspect
        limit = fw * (0.92 / count if entry.place == "ground" else 0.45)
        if bw > limit:  # narrower, never stretched
            bw, bh = limit, limit / entry.aspect
        cx = fx0 + fw * (slot + 0.5) / count + rng.uniform(-0.12, 0.12) * fw / count
        cx = min(max(cx, fx0 + bw / 2), fx1 - bw / 2)
        if entry.place == "sky":
            top = fy0 + rng.uniform(0.04, 0.5) * max(1.0, line - fy0 - bh)
            box = (cx - bw / 2, top, cx + bw / 2, top + bh)
        else:
            bottom = min(fy1 - fh * 0.03, line + (fy1 - line) * rng.uniform(0.45, 0.85))
            box = (cx - bw / 2, max(fy0, bottom - bh), cx + bw / 2, bottom)
        turn = rng.uniform(-0.05, 0.05) if index else 0.0  # drawn always: the colour words move nothing
        colour = COLOURS[word] if word else backdrop.hue_shift(entry.colour, turn)
        placed.append(Subject(noun, word, colour, tuple(round(v) for v in box), rng.random() < 0.5))  # type: ignore
    return tuple(placed)


def paint(scene: Scene, *, transparent: bool = False) -> Image.Image:
    """The scene's picture: RGB, or RGBA with only the subjects on a transparent background."""
    r, size = scene.reading, scene.size
    lit = backdrop.light(r.time, r.weather)
    if transparent:
        img = Image.new("RGBA", size, (0, 0, 0, 0))
    else:
        img = backdrop.sky(size, scene.horizon, r.time, r.weather, scene.detail, scene.shift)
    draw = ImageDraw.Draw(img)
    if not transparent:
        skip_sun = any(s.noun in ("sun", "moon") for s in scene.subjects)
        backdrop.sky_things(draw, size, scene.horizon, r.time, r.weather, scene.detail, scene.rng("sky"),
                            skip_sun=skip_sun)
        plain = min(scene.detail, 1) if set(r.style) & {"sketch", "neon"} else scene.detail  # no speckles
        backdrop.ground(draw, size, scene.horizon, r.ground, plain, scene.rng("ground"), lit)
    for s in sorted(scene.subjects, key=lambda s: s.box[3]):  # the nearer (lower) ones last
        if scene.detail == 2 and not transparent and NOUNS[s.noun].place != "sky":
            x0, _, x1, y1 = s.box
            draw.ellipse((x0, y1 - (x1 - x0) * 0.06, x1, y1 + (x1 - x0) * 0.05), fill=scaled((60, 60, 60), lit))
        shine = 1.0 if s.noun in ("sun", "moon", "star", "lamp") else max(lit, 0.55)
        NOUNS[s.noun].paint(Pen(draw, s.box, s.colour, detail=scene.detail, flip=s.flip, light=shine))
    if transparent:
        return img
    img = backdrop.weather(img, r.weather, scene.detail, scene.rng("weather"))
    return styles.apply(img, r.style)
