"""Reading a prompt: which words name the time, the weather, the ground, the style and the subjects.

Each table maps a word the prompt may use to the one name the scene records ("sunset" -> "dusk").
A colour word colours the next subject named after it ("a red fox"); words no table knows are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .nouns import NOUNS

MAX_SUBJECTS = 3

TIMES = {
    "dawn": "dawn", "sunrise": "dawn", "daybreak": "dawn", "morning": "morning", "noon": "noon",
    "midday": "noon", "day": "noon", "daytime": "noon", "afternoon": "afternoon", "dusk": "dusk",
    "sunset": "dusk", "evening": "dusk", "twilight": "dusk", "night": "night", "midnight": "night",
    "nighttime": "night", "starry": "night",
}  # fmt: skip
WEATHERS = {
    "snow": "snow", "snowy": "snow", "snowing": "snow", "snowfall": "snow", "blizzard": "snow",
    "rain": "rain", "rainy": "rain", "raining": "rain", "drizzle": "rain", "fog": "fog", "foggy": "fog",
    "mist": "fog", "misty": "fog", "haze": "fog", "storm": "storm", "stormy": "storm", "thunder": "storm",
    "thunderstorm": "storm", "lightning": "storm",
}  # fmt: skip
GROUNDS = {
    "snow": "snow", "snowy": "snow", "ice": "snow",
    "sea": "sea", "ocean": "sea", "lake": "sea", "water": "sea", "river": "sea", "waves": "sea", "harbor": "sea",
    "harbour": "sea", "pond": "sea",
    "beach": "beach", "sand": "beach", "desert": "beach", "dunes": "beach", "shore": "beach", "coast": "beach",
    "island": "beach",
    "forest": "forest", "woods": "forest", "grass": "forest", "meadow": "forest", "field": "forest",
    "park": "forest", "garden": "forest", "jungle": "forest", "farm": "forest",
    "city": "city", "street": "city", "town": "city", "road": "city", "skyline": "city", "village": "city",
    "downtown": "city",
    "mountain": "mountain", "mountains": "mountain", "hills": "mountain", "cliff": "mountain", "valley": "mountain",
}  # fmt: skip
STYLES = {
    "watercolor": "watercolor", "watercolour": "watercolor", "pixel": "pixel art", "pixelated": "pixel art",
    "8bit": "pixel art", "neon": "neon", "cyberpunk": "neon", "monochrome": "black and white",
    "grayscale": "black and white", "greyscale": "black and white", "noir": "black and white",
    "sketch": "sketch", "pencil": "sketch", "drawing": "sketch", "charcoal": "sketch",
}  # fmt: skip
COLOURS = {
    "red": (214, 40, 40), "crimson": (170, 20, 50), "orange": (240, 130, 30), "amber": (245, 170, 20),
    "yellow": (245, 215, 40), "gold": (220, 175, 40), "golden": (220, 175, 40), "lime": (150, 220, 50),
    "green": (50, 160, 60), "teal": (20, 140, 140), "cyan": (40, 200, 220), "turquoise": (60, 210, 200),
    "blue": (40, 80, 220), "navy": (25, 35, 110), "indigo": (75, 40, 160), "purple": (130, 50, 170),
    "violet": (150, 90, 210), "magenta": (210, 40, 170), "pink": (245, 140, 180), "brown": (125, 80, 45),
    "black": (30, 30, 34), "white": (245, 245, 245), "grey": (135, 135, 140), "gray": (135, 135, 140),
    "silver": (190, 195, 205),
}  # fmt: skip
ALIASES = {  # other words for a noun of the vocabulary
    "kitten": "cat", "puppy": "dog", "hare": "rabbit", "bunny": "rabbit", "pony": "horse", "lamb": "sheep",
    "calf": "cow", "automobile": "car", "taxi": "car", "bike": "bicycle", "airplane": "plane",
    "aeroplane": "plane", "spaceship": "rocket", "lantern": "lamp", "sailboat": "boat", "cottage": "house",
    "cabin": "house", "hut": "house", "man": "person", "woman": "person", "child": "person", "girl": "person",
    "boy": "person", "teacher": "person", "student": "person", "rose": "flower", "tulip": "flower",
    "mug": "cup", "teacup": "cup", "oak": "tree", "fir": "pine", "men": "person",
    "women": "person", "children": "person", "people": "person",
}  # fmt: skip
_PAIRS = {("pixel", "art"): "pixel art", ("black", "white"): "black and white", ("line", "art"): "sketch"}


@dataclass(frozen=True)
class Reading:
    """What a prompt asks the scene for; ``words`` are the prompt's words that were used."""

    time: str | None
    weather: str | None
    ground: str | None
    style: tuple[str, ...]
    subjects: tuple[tuple[str, str | None], ...]  # (noun, colour word or None)
    words: tuple[str, ...]

    @property
    def known(self) -> bool:
        return bool(self.time or self.weather or self.ground or self.style or self.subjects)


def singular(word: str) -> str | None:
    """The vocabulary's noun for ``word`` ("foxes" -> "fox", "puppies" -> "puppy"), or None."""
    for candidate in (word, word[:-1] if word.endswith("s") else "", word[:-2] if word.endswith("es") else "",
                      word[:-3] + "y" if word.endswith("ies") else ""):
        candidate = ALIASES.get(candidate, candidate)
        if candidate in NOUNS:
            return candidate
    return None


def read(prompt: str) -> Reading:
    """The scene a prompt describes; the first word of each kind wins, at most three subjects."""
    tokens = re.findall(r"[a-z0-9]+", prompt.lower())
    time = weather = ground = None
    style: list[str] = []
    subjects: list[tuple[str, str | None]] = []
    used: list[str] = []
    colour: str | None = None
    skip = 0
    for i, word in enumerate(tokens):
        if skip:
            skip -= 1
            continue
        for span in (2, 3):  # "pixel art", "black and white"
            words = tuple(tokens[i:i + span])
            joined = len(words) == span and (span == 2 or words[1] == "and")
            pair = _PAIRS.get(words[:1] + words[-1:]) if joined else None
            if pair:
                break
        if pair:
            if pair not in style:
                style.append(pair)
            used.extend(words)
            skip = len(words) - 1
            continue
        noun = singular(word)
        hit = False
        if word in COLOURS and noun is None:
            colour = word
        if word in TIMES and time is None:
            time, hit = TIMES[word], True
        if word in WEATHERS and weather is None:
            weather, hit = WEATHERS[word], True
        if word in GROUNDS and ground is None:
            ground, hit = GROUNDS[word], True
        if word in STYLES and STYLES[word] not in style:
            style.append(STYLES[word])
            hit = True
        if noun is not None and word not in GROUNDS and len(subjects) < MAX_SUBJECTS:
            subjects.append((noun, colour))
            if colour:
                used.append(colour)
            colour, hit = None, True
        if hit and word not in used:
            used.append(word)
    if weather == "snow" and ground is None:
        ground = "snow"
    return Reading(time, weather, ground, tuple(style), tuple(subjects), tuple(dict.fromkeys(used)))
