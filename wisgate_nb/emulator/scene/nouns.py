"""The vocabulary: one line per noun (its kind, usual colour, size, shape and where it goes) and its drawing.

To add a noun, write a function ``def name(p: Pen) -> None`` in the module of its kind (it draws in a
box from (0, 0) to (1, 1), facing right) and add its line here. ``height`` is a fraction of the
picture's height, ``aspect`` the box's width over its height; "sky" nouns float, the others stand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import animals as a
from . import buildings as b
from . import objects as o
from . import plants as p
from . import vehicles as v
from .pen import Colour, Pen


@dataclass(frozen=True)
class Noun:
    kind: str
    colour: Colour
    height: float
    aspect: float
    place: str
    paint: Callable[[Pen], None]


NOUNS: dict[str, Noun] = {
    "cat": Noun("animal", (235, 150, 60), 0.26, 0.85, "ground", a.cat),
    "dog": Noun("animal", (190, 135, 80), 0.26, 1.3, "ground", a.dog),
    "fox": Noun("animal", (225, 110, 35), 0.24, 1.5, "ground", a.fox),
    "rabbit": Noun("animal", (200, 190, 180), 0.22, 1.0, "ground", a.rabbit),
    "bird": Noun("animal", (70, 130, 220), 0.15, 1.4, "sky", a.bird),
    "fish": Noun("animal", (250, 150, 40), 0.16, 1.6, "ground", a.fish),
    "horse": Noun("animal", (140, 90, 50), 0.38, 1.25, "ground", a.horse),
    "cow": Noun("animal", (245, 245, 240), 0.32, 1.4, "ground", a.cow),
    "pig": Noun("animal", (245, 170, 180), 0.24, 1.4, "ground", a.pig),
    "sheep": Noun("animal", (240, 240, 235), 0.26, 1.3, "ground", a.sheep),
    "duck": Noun("animal", (250, 215, 50), 0.18, 1.1, "ground", a.duck),
    "owl": Noun("animal", (150, 105, 60), 0.24, 0.75, "ground", a.owl),
    "bear": Noun("animal", (110, 70, 40), 0.36, 1.35, "ground", a.bear),
    "elephant": Noun("animal", (150, 150, 160), 0.42, 1.3, "ground", a.elephant),
    "turtle": Noun("animal", (60, 140, 70), 0.2, 1.6, "ground", a.turtle),
    "butterfly": Noun("animal", (240, 120, 40), 0.16, 1.2, "sky", a.butterfly),
    "penguin": Noun("animal", (30, 30, 40), 0.28, 0.6, "ground", a.penguin),
    "mouse": Noun("animal", (150, 150, 155), 0.16, 1.3, "ground", a.mouse),
    "frog": Noun("animal", (80, 180, 60), 0.18, 1.2, "ground", a.frog),
    "snake": Noun("animal", (90, 160, 50), 0.2, 1.8, "ground", a.snake),
    "person": Noun("animal", (60, 110, 200), 0.4, 0.55, "ground", a.person),
    "house": Noun("building", (230, 200, 150), 0.42, 1.1, "ground", b.house),
    "barn": Noun("building", (180, 40, 35), 0.42, 1.2, "ground", b.barn),
    "castle": Noun("building", (175, 170, 160), 0.55, 1.3, "ground", b.castle),
    "tower": Noun("building", (165, 160, 150), 0.62, 0.45, "ground", b.tower),
    "lighthouse": Noun("building", (220, 40, 40), 0.6, 0.45, "ground", b.lighthouse),
    "church": Noun("building", (225, 215, 195), 0.5, 1.0, "ground", b.church),
    "tent": Noun("building", (240, 150, 40), 0.3, 1.3, "ground", b.tent),
    "skyscraper": Noun("building", (110, 130, 160), 0.72, 0.4, "ground", b.skyscraper),
    "bridge": Noun("building", (190, 60, 40), 0.34, 2.6, "ground", b.bridge),
    "windmill": Noun("building", (230, 220, 200), 0.55, 0.75, "ground", b.windmill),
    "pyramid": Noun("building", (215, 180, 110), 0.45, 1.6, "ground", b.pyramid),
    "igloo": Noun("building", (225, 235, 245), 0.26, 1.6, "ground", b.igloo),
    "car": Noun("vehicle", (200, 40, 40), 0.2, 2.0, "ground", v.car),
    "bus": Noun("vehicle", (245, 190, 30), 0.26, 2.2, "ground", v.bus),
    "truck": Noun("vehicle", (50, 100, 180), 0.26, 2.0, "ground", v.truck),
    "bicycle": Noun("vehicle", (40, 150, 90), 0.26, 1.5, "ground", v.bicycle),
    "boat": Noun("vehicle", (160, 90, 50), 0.3, 1.0, "ground", v.boat),
    "ship": Noun("vehicle", (40, 50, 80), 0.34, 1.9, "ground", v.ship),
    "train": Noun("vehicle", (40, 110, 60), 0.3, 1.9, "ground", v.train),
    "plane": Noun("vehicle", (220, 225, 235), 0.16, 2.0, "sky", v.plane),
    "rocket": Noun("vehicle", (220, 40, 40), 0.45, 0.55, "ground", v.rocket),
    "balloon": Noun("vehicle", (230, 60, 60), 0.26, 0.7, "sky", v.balloon),
    "tractor": Noun("vehicle", (60, 150, 50), 0.26, 1.4, "ground", v.tractor),
    "tree": Noun("plant", (60, 150, 60), 0.5, 0.75, "ground", p.tree),
    "pine": Noun("plant", (30, 110, 60), 0.55, 0.6, "ground", p.pine),
    "palm": Noun("plant", (50, 160, 60), 0.55, 0.8, "ground", p.palm),
    "flower": Noun("plant", (235, 80, 140), 0.2, 0.6, "ground", p.flower),
    "sunflower": Noun("plant", (250, 200, 30), 0.34, 0.6, "ground", p.sunflower),
    "cactus": Noun("plant", (60, 150, 80), 0.36, 0.8, "ground", p.cactus),
    "mushroom": Noun("plant", (210, 40, 40), 0.18, 1.0, "ground", p.mushroom),
    "bush": Noun("plant", (50, 130, 55), 0.2, 1.5, "ground", p.bush),
    "sun": Noun("object", (250, 200, 40), 0.2, 1.0, "sky", o.sun),
    "moon": Noun("object", (235, 235, 210), 0.16, 1.0, "sky", o.moon),
    "star": Noun("object", (250, 220, 60), 0.12, 1.0, "sky", o.star),
    "cloud": Noun("object", (250, 250, 252), 0.14, 1.8, "sky", o.cloud),
    "rainbow": Noun("object", (255, 255, 255), 0.3, 2.0, "sky", o.rainbow),
    "kite": Noun("object", (220, 40, 90), 0.16, 0.7, "sky", o.kite),
    "umbrella": Noun("object", (40, 90, 200), 0.26, 1.0, "ground", o.umbrella),
    "chair": Noun("object", (140, 90, 50), 0.24, 0.6, "ground", o.chair),
    "table": Noun("object", (140, 90, 50), 0.2, 1.5, "ground", o.table),
    "lamp": Noun("object", (240, 200, 120), 0.3, 0.6, "ground", o.lamp),
    "ball": Noun("object", (230, 60, 60), 0.1, 1.0, "ground", o.ball),
    "cup": Noun("object", (240, 240, 240), 0.14, 1.1, "ground", o.cup),
    "book": Noun("object", (180, 40, 50), 0.14, 1.4, "ground", o.book),
    "clock": Noun("object", (60, 60, 70), 0.18, 1.0, "ground", o.clock),
    "robot": Noun("object", (170, 175, 190), 0.36, 0.7, "ground", o.robot),
    "snowman": Noun("object", (200, 40, 40), 0.34, 0.65, "ground", o.snowman),
    "heart": Noun("object", (220, 30, 60), 0.16, 1.0, "sky", o.heart),
    "guitar": Noun("object", (200, 120, 40), 0.32, 0.45, "ground", o.guitar),
}  # fmt: skip
