"""The demo server's scene composer: pictures that follow the prompt's words.

    words.py      reading a prompt: time, weather, ground, style, subjects and their colours
    nouns.py      the vocabulary: one line per noun, drawn by animals/buildings/vehicles/plants/objects.py
    pen.py        the pen the nouns draw with (flat, outlined or shaded by the detail level)
    backdrop.py   sky, light, ground and weather
    styles.py     watercolor, pixel art, neon, black and white, sketch
    misses.py     what an image after the first leaves out, like a real model sometimes does
    compose.py    plan (what goes where) and paint
"""

from __future__ import annotations

from .compose import Scene, fallback_record, paint, plan
from .nouns import NOUNS

__all__ = ["NOUNS", "Scene", "fallback_record", "paint", "plan"]
