"""What a later image of a request leaves out: like a real model, the demo sometimes misses a detail.

Image 0 of a request is always faithful. Each later image leaves out at most one detail the words
asked for, decided from (prompt, size, index, seed) alone, with a chance that grows with how much the
prompt asks (``chance``): none for one detail ("a fox"), 10 % for two ("a red fox"), 20 % for three
("a red fox in the snow"), 30 % for four, at most 35 %. The details that can be missed: the time, the
weather (with a ground of the same word: "in the snow"), the ground, a subject's colour word, and a
subject when there are several (the only subject is always drawn). What is missed is taken out of the
reading and out of its words, so the picture, its ``demo_scene`` and the demo judge agree.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace

from .words import COLOURS, GROUNDS, STYLES, TIMES, WEATHERS, Reading, singular

PER_DETAIL, MOST = 0.10, 0.35
Detail = tuple[str, int]  # ("time" | "weather" | "ground" | "colour" | "subject", subject index or 0)


def details(reading: Reading) -> list[Detail]:
    """What the words ask for, one entry per detail (the subjects, their colours, time, weather, ground)."""
    asked: list[Detail] = [("subject", i) for i in range(len(reading.subjects))]
    asked += [("colour", i) for i, (_, word) in enumerate(reading.subjects) if word]
    asked += [(kind, 0) for kind in ("time", "weather") if getattr(reading, kind)]
    if reading.ground and reading.ground != reading.weather:
        asked.append(("ground", 0))
    return asked


def chance(reading: Reading) -> float:
    """The probability that an image after the first misses one of the prompt's details."""
    return max(0.0, min(MOST, round(PER_DETAIL * (len(details(reading)) - 1), 2)))


def missed(reading: Reading, prompt: str, size: tuple[int, int], index: int, seed: int) -> Detail | None:
    """The detail image ``index`` leaves out, or None: deterministic, and never for image 0."""
    key = hashlib.sha256(repr(("miss", prompt, size, index, seed)).encode()).digest()
    rng = random.Random(key)
    if index == 0 or rng.random() >= chance(reading):
        return None
    choices = [d for d in details(reading) if d[0] != "subject" or len(reading.subjects) > 1]
    return rng.choice(choices) if choices else None


def without(reading: Reading, detail: Detail | None) -> Reading:
    """The reading with ``detail`` left out, and the words that named only it."""
    if detail is None:
        return reading
    kind, i = detail
    subjects = list(reading.subjects)
    if kind == "subject":
        del subjects[i]
    elif kind == "colour":
        subjects[i] = (subjects[i][0], None)
    fields = {"subjects": tuple(subjects)}
    if kind in ("time", "weather", "ground"):
        fields[kind] = None
    if kind == "weather" and reading.ground == reading.weather:  # "in the snow": neither falls nor lies
        fields["ground"] = None
    left = replace(reading, **fields)
    words = tuple(w for w in reading.words if _says(w, left) or not _says(w, reading))
    return replace(left, words=words)


def _says(word: str, reading: Reading) -> bool:
    """Whether ``word`` names something of ``reading``."""
    noun = singular(word)
    return bool(TIMES.get(word, 0) == reading.time or WEATHERS.get(word, 0) == reading.weather
                or GROUNDS.get(word, 0) == reading.ground or STYLES.get(word) in reading.style
                or (noun and any(noun == n for n, _ in reading.subjects))
                or (word in COLOURS and any(word == c for _, c in reading.subjects)))
