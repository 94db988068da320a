"""Vehicles, facing right: the main colour is the body; wheels, glass and sails keep theirs."""

from __future__ import annotations

from .pen import BLACK, WHITE, Pen

GLASS, TYRE, METAL = (170, 210, 235), (35, 35, 40), (170, 170, 180)


def _wheels(p: Pen, xs: tuple[float, ...], r: float = 0.12, y: float = 0.82) -> None:
    for x in xs:
        p.oval(x - r, y - r * 1.4, x + r, y + r * 1.4, TYRE)
        p.oval(x - r / 2, y - r * 0.7, x + r / 2, y + r * 0.7, METAL)


def car(p: Pen) -> None:
    p.poly([(0.22, 0.5), (0.35, 0.18), (0.7, 0.18), (0.82, 0.5)])
    p.poly([(0.33, 0.48), (0.4, 0.26), (0.5, 0.26), (0.5, 0.48)], GLASS)
    p.poly([(0.54, 0.48), (0.54, 0.26), (0.66, 0.26), (0.74, 0.48)], GLASS)
    p.rect(0.0, 0.45, 1.0, 0.8, radius=0.12)
    p.rect(0.92, 0.52, 1.0, 0.6, (250, 230, 150))
    _wheels(p, (0.22, 0.78))


def bus(p: Pen) -> None:
    p.rect(0.0, 0.1, 1.0, 0.82, radius=0.08)
    for x in (0.06, 0.26, 0.46, 0.66):
        p.rect(x, 0.2, x + 0.16, 0.45, GLASS)
    p.rect(0.86, 0.2, 0.98, 0.7, GLASS)
    p.rect(0.0, 0.55, 0.84, 0.6, WHITE)
    _wheels(p, (0.2, 0.8), 0.1, 0.84)


def truck(p: Pen) -> None:
    p.rect(0.0, 0.1, 0.66, 0.76, WHITE)
    p.rect(0.68, 0.3, 1.0, 0.76, radius=0.08)
    p.rect(0.8, 0.36, 0.95, 0.52, GLASS)
    _wheels(p, (0.16, 0.4, 0.84), 0.1)


def bicycle(p: Pen) -> None:
    for x in (0.22, 0.78):
        p.ring(x - 0.21, 0.42, x + 0.21, 0.98, TYRE, 0.05)
    p.line([(0.22, 0.7), (0.45, 0.7), (0.7, 0.4), (0.38, 0.4), (0.22, 0.7)], "main", 0.05)
    p.line([(0.45, 0.7), (0.36, 0.3)], "main", 0.05)
    p.line([(0.78, 0.7), (0.68, 0.25), (0.78, 0.22)], "main", 0.05)
    p.rect(0.3, 0.26, 0.44, 0.31, BLACK)


def boat(p: Pen) -> None:
    p.line([(0.5, 0.72), (0.5, 0.02)], (110, 70, 40), 0.03)
    p.poly([(0.52, 0.05), (0.52, 0.65), (0.9, 0.65)], WHITE)
    p.poly([(0.48, 0.12), (0.48, 0.65), (0.18, 0.65)], (235, 235, 225))
    p.poly([(0.0, 0.7), (1.0, 0.7), (0.82, 1.0), (0.15, 1.0)])


def ship(p: Pen) -> None:
    p.rect(0.25, 0.3, 0.75, 0.6, WHITE)
    for x in (0.35, 0.55):
        p.rect(x, 0.05, x + 0.1, 0.32, "main")
        p.rect(x, 0.05, x + 0.1, 0.12, BLACK)
    for x in (0.3, 0.42, 0.54, 0.66):
        p.oval(x, 0.4, x + 0.05, 0.47, GLASS)
    p.poly([(0.0, 0.58), (1.0, 0.58), (0.88, 1.0), (0.08, 1.0)])
    p.rect(0.05, 0.58, 0.95, 0.66, WHITE)


def train(p: Pen) -> None:
    p.rect(0.0, 0.3, 0.62, 0.82, radius=0.04)
    p.rect(0.08, 0.4, 0.25, 0.58, GLASS)
    p.rect(0.34, 0.4, 0.52, 0.58, GLASS)
    p.rect(0.64, 0.45, 1.0, 0.82)
    p.rect(0.72, 0.18, 0.84, 0.46, BLACK)
    p.oval(0.7, 0.02, 0.9, 0.16, (220, 220, 220))
    p.poly([(0.95, 0.82), (1.0, 0.95), (0.9, 0.95)], "dark")
    _wheels(p, (0.12, 0.45, 0.74, 0.9), 0.07, 0.88)


def plane(p: Pen) -> None:
    p.poly([(0.35, 0.5), (0.6, 0.5), (0.4, 0.95), (0.3, 0.95)], "dark")
    p.poly([(0.0, 0.2), (0.1, 0.2), (0.2, 0.45), (0.05, 0.45)], "dark")
    p.rect(0.02, 0.38, 1.0, 0.6, radius=0.1)
    p.poly([(0.4, 0.5), (0.62, 0.5), (0.45, 0.05), (0.35, 0.05)])
    for x in (0.3, 0.42, 0.54, 0.66, 0.78):
        p.oval(x, 0.43, x + 0.05, 0.5, GLASS)


def rocket(p: Pen) -> None:
    p.poly([(0.42, 0.85), (0.5, 1.0), (0.58, 0.85)], (250, 170, 40))
    p.poly([(0.3, 0.65), (0.2, 0.9), (0.38, 0.85)], "dark")
    p.poly([(0.7, 0.65), (0.8, 0.9), (0.62, 0.85)], "dark")
    p.rect(0.35, 0.28, 0.65, 0.88, WHITE, radius=0.08)
    p.poly([(0.35, 0.3), (0.5, 0.0), (0.65, 0.3)])
    p.oval(0.42, 0.4, 0.58, 0.54, GLASS)


def balloon(p: Pen) -> None:
    p.line([(0.32, 0.6), (0.42, 0.82)], BLACK, 0.01)
    p.line([(0.68, 0.6), (0.58, 0.82)], BLACK, 0.01)
    p.oval(0.15, 0.0, 0.85, 0.68)
    p.oval(0.38, 0.02, 0.62, 0.66, "light")
    p.rect(0.4, 0.8, 0.6, 0.98, (150, 100, 50))


def tractor(p: Pen) -> None:
    p.rect(0.1, 0.4, 0.75, 0.72, radius=0.04)
    p.rect(0.1, 0.08, 0.42, 0.44, GLASS)
    p.rect(0.06, 0.04, 0.46, 0.1)
    p.rect(0.62, 0.18, 0.67, 0.42, BLACK)
    p.oval(0.0, 0.42, 0.44, 1.0, TYRE)
    p.oval(0.12, 0.58, 0.32, 0.84, METAL)
    p.oval(0.7, 0.66, 0.96, 1.0, TYRE)
