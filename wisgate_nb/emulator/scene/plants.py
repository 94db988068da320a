"""Plants: the main colour is the leaves or the flower; trunks and stems stay brown and green."""

from __future__ import annotations

from .pen import WHITE, Pen

TRUNK, STEM, LEAF = (115, 75, 40), (60, 140, 50), (60, 150, 60)


def tree(p: Pen) -> None:
    p.rect(0.42, 0.55, 0.58, 1.0, TRUNK)
    for box in ((0.1, 0.25, 0.55, 0.7), (0.45, 0.25, 0.9, 0.7), (0.2, 0.0, 0.8, 0.5)):
        p.oval(*box)
    p.texture(0.42, 0.6, 0.58, 1.0, (80, 50, 25), 3)


def pine(p: Pen) -> None:
    p.rect(0.44, 0.82, 0.56, 1.0, TRUNK)
    for top, bottom, half in ((0.0, 0.4, 0.25), (0.2, 0.62, 0.35), (0.4, 0.86, 0.45)):
        p.poly([(0.5 - half, bottom), (0.5, top), (0.5 + half, bottom)])


def palm(p: Pen) -> None:
    p.line([(0.45, 1.0), (0.5, 0.6), (0.6, 0.2)], TRUNK, 0.07)
    for dx, dy in ((-0.45, 0.2), (-0.3, -0.15), (0.1, -0.2), (0.38, 0.0), (0.35, 0.3), (-0.2, 0.35)):
        p.poly([(0.6, 0.2), (0.6 + dx, 0.2 + dy), (0.6 + dx * 0.5, 0.2 + dy * 0.5 + 0.06)])
    p.oval(0.54, 0.2, 0.62, 0.28, TRUNK)


def _bloom(p: Pen, reach: float, petal: float, centre: tuple[int, int, int], leaf: tuple[float, ...]) -> None:
    """A stem, a leaf and eight petals around a centre at (0.5, 0.3)."""
    p.line([(0.5, 1.0), (0.5, 0.4)], STEM, 0.05)
    p.oval(*leaf, LEAF)
    d = reach * 0.7
    for dx, dy in ((0, -reach), (reach, 0), (0, reach), (-reach, 0), (d, -d), (-d, d), (d, d), (-d, -d)):
        p.oval(0.5 - petal + dx, 0.3 - petal + dy, 0.5 + petal + dx, 0.3 + petal + dy)
    c = petal * 0.8 if reach < 0.18 else petal * 1.15
    p.oval(0.5 - c, 0.3 - c, 0.5 + c, 0.3 + c, centre)


def flower(p: Pen) -> None:
    _bloom(p, 0.15, 0.1, (250, 210, 60), (0.5, 0.62, 0.75, 0.74))


def sunflower(p: Pen) -> None:
    _bloom(p, 0.2, 0.12, (100, 60, 20), (0.15, 0.55, 0.5, 0.7))


def cactus(p: Pen) -> None:
    p.rect(0.38, 0.05, 0.62, 1.0, radius=0.1)
    p.rect(0.12, 0.35, 0.3, 0.7, radius=0.08)
    p.rect(0.12, 0.6, 0.4, 0.7)
    p.rect(0.7, 0.2, 0.88, 0.55, radius=0.08)
    p.rect(0.6, 0.45, 0.88, 0.55)
    p.texture(0.38, 0.05, 0.62, 1.0, "dark", 6)


def mushroom(p: Pen) -> None:
    p.rect(0.38, 0.45, 0.62, 1.0, (240, 230, 210), radius=0.08)
    p.dome(0.05, 0.05, 0.95, 0.5)
    for x, y in ((0.25, 0.3), (0.5, 0.15), (0.7, 0.32)):
        p.oval(x - 0.06, y - 0.05, x + 0.06, y + 0.05, WHITE)


def bush(p: Pen) -> None:
    for box in ((0.0, 0.35, 0.45, 1.0), (0.3, 0.15, 0.75, 0.9), (0.55, 0.35, 1.0, 1.0)):
        p.oval(*box)
    for x, y in ((0.3, 0.5), (0.6, 0.4), (0.75, 0.7)):
        p.oval(x - 0.04, y - 0.04, x + 0.04, y + 0.04, (220, 40, 60))
