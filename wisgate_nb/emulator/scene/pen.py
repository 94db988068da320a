"""The pen a noun draws with: shapes in the subject's own box, in coordinates from 0 to 1.

A drawing function says *what* (an oval body, a triangle ear); the pen decides *how* from the
picture's detail level: flat fills (low), outlines (medium), outlines, highlights and texture (high).
Tones name colours relative to the subject's colour: "main", "dark", "light", or an RGB triple.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import ImageDraw

Colour = tuple[int, int, int]
Tone = str | Colour
LOW, MEDIUM, HIGH = 0, 1, 2
BLACK, WHITE = (25, 25, 30), (248, 248, 248)


def scaled(colour: Colour, factor: float) -> Colour:
    return tuple(max(0, min(255, round(c * factor))) for c in colour)  # type: ignore[return-value]


def mixed(a: Colour, b: Colour, t: float) -> Colour:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


class Pen:
    """Draws into ``box`` (x0, y0, x1, y1 in pixels) of ``draw``; ``flip`` mirrors the drawing (its pose)."""

    def __init__(self, draw: ImageDraw.ImageDraw, box: Sequence[float], colour: Colour, *, detail: int = MEDIUM,
                 flip: bool = False, light: float = 1.0) -> None:
        self.draw, self.box, self.colour = draw, tuple(box), colour
        self.detail, self.flip, self.light = detail, flip, light
        self.width = max(1, round(min(box[2] - box[0], box[3] - box[1]) * 0.025)) if detail else 0

    def xy(self, x: float, y: float) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return x0 + (1 - x if self.flip else x) * (x1 - x0), y0 + y * (y1 - y0)

    def tone(self, tone: Tone) -> Colour:
        if tone == "main":
            rgb = self.colour
        elif tone == "dark":
            rgb = scaled(self.colour, 0.62)
        elif tone == "light":
            rgb = mixed(self.colour, WHITE, 0.4)
        else:
            rgb = tone  # type: ignore[assignment]
        return scaled(rgb, self.light)

    def _outline(self, tone: Tone) -> Colour | None:
        return scaled(self.tone(tone), 0.55) if self.detail else None

    def _box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        (ax, ay), (bx, by) = self.xy(x0, y0), self.xy(x1, y1)
        return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)

    def oval(self, x0: float, y0: float, x1: float, y1: float, tone: Tone = "main") -> None:
        self.draw.ellipse(self._box(x0, y0, x1, y1), fill=self.tone(tone), outline=self._outline(tone),
                          width=self.width)
        if self.detail == HIGH and (x1 - x0) > 0.12:  # a highlight up and to the left
            w, h = x1 - x0, y1 - y0
            self.draw.ellipse(self._box(x0 + w * 0.18, y0 + h * 0.14, x0 + w * 0.5, y0 + h * 0.42),
                              fill=mixed(self.tone(tone), WHITE, 0.3))

    def rect(self, x0: float, y0: float, x1: float, y1: float, tone: Tone = "main", radius: float = 0.0) -> None:
        box = self._box(x0, y0, x1, y1)
        r = radius * min(self.box[2] - self.box[0], self.box[3] - self.box[1])
        self.draw.rounded_rectangle(box, radius=r, fill=self.tone(tone), outline=self._outline(tone),
                                    width=self.width)
        if self.detail == HIGH and (x1 - x0) > 0.12:  # the shaded side
            sx0, sy0, sx1, sy1 = self._box(x0 + (x1 - x0) * 0.75, y0, x1, y1)
            if sx1 - self.width > sx0 and sy1 - self.width > sy0 + self.width:
                self.draw.rectangle((sx0, sy0 + self.width, sx1 - self.width, sy1 - self.width),
                                    fill=scaled(self.tone(tone), 0.8))

    def poly(self, points: Sequence[tuple[float, float]], tone: Tone = "main") -> None:
        self.draw.polygon([self.xy(x, y) for x, y in points], fill=self.tone(tone), outline=self._outline(tone),
                          width=self.width)

    def dome(self, x0: float, y0: float, x1: float, y1: float, tone: Tone = "main") -> None:
        """The upper half of an oval whose flat side is at ``y1`` (a shell, an igloo, a hill)."""
        box = self._box(x0, y0, x1, y1 + (y1 - y0))
        self.draw.chord(box, 180, 360, fill=self.tone(tone), outline=self._outline(tone), width=self.width)

    def ring(self, x0: float, y0: float, x1: float, y1: float, tone: Tone = "dark", width: float = 0.04) -> None:
        """An oval's outline only (a wheel, a hoop)."""
        px = max(1, round(width * min(self.box[2] - self.box[0], self.box[3] - self.box[1])))
        self.draw.ellipse(self._box(x0, y0, x1, y1), outline=self.tone(tone), width=px)

    def line(self, points: Sequence[tuple[float, float]], tone: Tone = "dark", width: float = 0.04) -> None:
        px = max(1, round(width * min(self.box[2] - self.box[0], self.box[3] - self.box[1])))
        self.draw.line([self.xy(x, y) for x, y in points], fill=self.tone(tone), width=px, joint="curve")

    def eye(self, x: float, y: float, r: float = 0.04) -> None:
        self.draw.ellipse(self._box(x - r, y - r, x + r, y + r), fill=scaled(BLACK, self.light))
        if self.detail == HIGH:
            self.draw.ellipse(self._box(x - r * 0.2, y - r * 0.6, x + r * 0.4, y), fill=WHITE)

    def texture(self, x0: float, y0: float, x1: float, y1: float, tone: Tone = "dark", rows: int = 3) -> None:
        """Stripes (fur, planks, bricks) across a part, only at high detail."""
        if self.detail < HIGH:
            return
        for k in range(1, rows + 1):
            y = y0 + (y1 - y0) * k / (rows + 1)
            self.line([(x0 + 0.02, y), (x1 - 0.02, y)], tone, 0.012)
