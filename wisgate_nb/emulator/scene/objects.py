"""Things: sky things (sun, moon, star, cloud, rainbow, kite) and objects on the ground."""

from __future__ import annotations

import math

from .pen import BLACK, WHITE, Pen

WOOD, METAL = (130, 85, 45), (170, 170, 180)


def sun(p: Pen) -> None:
    for k in range(12):
        a = k * math.pi / 6
        p.line([(0.5 + 0.34 * math.cos(a), 0.5 + 0.34 * math.sin(a)),
                (0.5 + 0.5 * math.cos(a), 0.5 + 0.5 * math.sin(a))], "main", 0.05)
    p.oval(0.18, 0.18, 0.82, 0.82)


def moon(p: Pen) -> None:
    p.oval(0.1, 0.1, 0.9, 0.9)
    for x, y, r in ((0.35, 0.4, 0.08), (0.6, 0.62, 0.1), (0.62, 0.3, 0.05)):
        p.oval(x - r, y - r, x + r, y + r, "dark")


def star(p: Pen) -> None:
    points = [(0.5 + (0.5 if k % 2 == 0 else 0.2) * math.sin(k * math.pi / 5),
               0.52 - (0.5 if k % 2 == 0 else 0.2) * math.cos(k * math.pi / 5)) for k in range(10)]
    p.poly(points)


def cloud(p: Pen) -> None:
    for box in ((0.0, 0.4, 0.4, 0.95), (0.2, 0.1, 0.65, 0.85), (0.5, 0.25, 0.9, 0.9), (0.7, 0.5, 1.0, 0.95)):
        p.oval(*box)
    p.rect(0.2, 0.6, 0.85, 0.95)


def rainbow(p: Pen) -> None:
    bands = ((230, 40, 40), (245, 140, 30), (245, 220, 40), (60, 170, 60), (40, 90, 220), (120, 50, 170))
    for k, colour in enumerate(bands):
        d = k * 0.07
        p.draw.arc(p._box(d, d, 1 - d, 2 - d), 180, 360, fill=p.tone(colour),
                   width=max(1, round((p.box[3] - p.box[1]) * 0.08)))


def kite(p: Pen) -> None:
    p.line([(0.5, 0.75), (0.4, 0.85), (0.55, 0.92), (0.35, 1.0)], BLACK, 0.01)
    p.poly([(0.5, 0.0), (0.85, 0.3), (0.5, 0.75), (0.15, 0.3)])
    p.poly([(0.5, 0.0), (0.85, 0.3), (0.5, 0.3)], "dark")
    p.poly([(0.15, 0.3), (0.5, 0.75), (0.5, 0.3)], "dark")


def umbrella(p: Pen) -> None:
    p.line([(0.5, 0.3), (0.5, 0.9), (0.6, 1.0), (0.68, 0.92)], BLACK, 0.04)
    p.dome(0.0, 0.05, 1.0, 0.45)
    for x in (0.25, 0.5, 0.75):
        p.line([(0.5, 0.05), (x, 0.45)], "dark", 0.015)


def chair(p: Pen) -> None:
    p.rect(0.2, 0.0, 0.3, 1.0)
    p.rect(0.2, 0.0, 0.8, 0.12)
    p.rect(0.2, 0.5, 0.85, 0.6)
    p.rect(0.75, 0.5, 0.85, 1.0)


def table(p: Pen) -> None:
    p.rect(0.0, 0.3, 1.0, 0.42)
    for x in (0.06, 0.84):
        p.rect(x, 0.4, x + 0.1, 1.0, "dark")


def lamp(p: Pen) -> None:
    p.rect(0.3, 0.92, 0.7, 1.0, BLACK)
    p.line([(0.5, 0.95), (0.5, 0.35)], METAL, 0.04)
    p.poly([(0.25, 0.4), (0.35, 0.0), (0.65, 0.0), (0.75, 0.4)])
    p.oval(0.42, 0.36, 0.58, 0.48, (255, 240, 170))


def ball(p: Pen) -> None:
    p.oval(0.0, 0.0, 1.0, 1.0)
    p.line([(0.02, 0.5), (0.98, 0.5)], WHITE, 0.06)
    p.line([(0.5, 0.02), (0.5, 0.98)], WHITE, 0.06)


def cup(p: Pen) -> None:
    p.line([(0.7, 0.3), (0.95, 0.35), (0.92, 0.62), (0.7, 0.68)], "main", 0.08)
    p.rect(0.1, 0.2, 0.75, 0.95, radius=0.08)
    p.oval(0.12, 0.14, 0.73, 0.28, (90, 55, 30))
    p.line([(0.3, 0.1), (0.35, 0.0)], (220, 220, 220), 0.02)


def book(p: Pen) -> None:
    p.poly([(0.0, 0.25), (0.5, 0.35), (0.5, 1.0), (0.0, 0.9)], WHITE)
    p.poly([(1.0, 0.25), (0.5, 0.35), (0.5, 1.0), (1.0, 0.9)], WHITE)
    p.line([(0.0, 0.92), (0.5, 1.0), (1.0, 0.92)], "main", 0.06)
    for y in (0.45, 0.55, 0.65, 0.75):
        p.line([(0.08, y), (0.42, y + 0.06)], (120, 120, 120), 0.012)
        p.line([(0.58, y + 0.06), (0.92, y)], (120, 120, 120), 0.012)


def clock(p: Pen) -> None:
    p.oval(0.0, 0.0, 1.0, 1.0)
    p.oval(0.1, 0.1, 0.9, 0.9, WHITE)
    for k in range(12):
        a = k * math.pi / 6
        p.oval(0.5 + 0.33 * math.cos(a) - 0.02, 0.5 + 0.33 * math.sin(a) - 0.02,
               0.5 + 0.33 * math.cos(a) + 0.02, 0.5 + 0.33 * math.sin(a) + 0.02, BLACK)
    p.line([(0.5, 0.5), (0.5, 0.22)], BLACK, 0.04)
    p.line([(0.5, 0.5), (0.7, 0.6)], BLACK, 0.04)


def robot(p: Pen) -> None:
    p.line([(0.5, 0.12), (0.5, 0.0)], METAL, 0.03)
    p.oval(0.45, 0.0, 0.55, 0.06, (230, 50, 50))
    p.rect(0.3, 0.1, 0.7, 0.38, radius=0.06)
    p.eye(0.42, 0.22, 0.05)
    p.eye(0.58, 0.22, 0.05)
    p.rect(0.2, 0.42, 0.8, 0.8, radius=0.05)
    p.rect(0.38, 0.5, 0.62, 0.66, METAL)
    p.rect(0.06, 0.44, 0.16, 0.75, "dark")
    p.rect(0.84, 0.44, 0.94, 0.75, "dark")
    p.rect(0.28, 0.8, 0.42, 1.0, "dark")
    p.rect(0.58, 0.8, 0.72, 1.0, "dark")


def snowman(p: Pen) -> None:
    p.oval(0.15, 0.5, 0.85, 1.0, WHITE)
    p.oval(0.25, 0.22, 0.75, 0.62, WHITE)
    p.oval(0.33, 0.02, 0.67, 0.3, WHITE)
    p.rect(0.28, 0.22, 0.72, 0.3)
    p.eye(0.44, 0.13, 0.025)
    p.eye(0.56, 0.13, 0.025)
    p.poly([(0.5, 0.16), (0.68, 0.2), (0.5, 0.21)], (240, 130, 30))
    for y in (0.4, 0.6, 0.75):
        p.eye(0.5, y, 0.025)


def heart(p: Pen) -> None:
    p.oval(0.0, 0.05, 0.55, 0.6)
    p.oval(0.45, 0.05, 1.0, 0.6)
    p.poly([(0.03, 0.42), (0.5, 0.98), (0.97, 0.42), (0.5, 0.3)])


def guitar(p: Pen) -> None:
    p.rect(0.46, 0.0, 0.54, 0.5, WOOD)
    p.oval(0.22, 0.35, 0.78, 0.7)
    p.oval(0.15, 0.55, 0.85, 1.0)
    p.oval(0.42, 0.58, 0.58, 0.72, BLACK)
    for x in (0.48, 0.52):
        p.line([(x, 0.02), (x, 0.9)], (230, 230, 230), 0.008)

