"""Buildings: the main colour is the walls; roofs, doors and windows keep their own colours."""

from __future__ import annotations

from .pen import BLACK, WHITE, Pen

ROOF, WOOD, GLASS, STONE = (150, 50, 40), (110, 70, 40), (250, 220, 120), (150, 150, 155)


def _windows(p: Pen, cols: int, rows: int, box: tuple[float, float, float, float], size: float = 0.5) -> None:
    x0, y0, x1, y1 = box
    cw, rh = (x1 - x0) / cols, (y1 - y0) / rows
    for i in range(cols):
        for j in range(rows):
            cx, cy = x0 + cw * (i + 0.5), y0 + rh * (j + 0.5)
            p.rect(cx - cw * size / 2, cy - rh * size / 2, cx + cw * size / 2, cy + rh * size / 2, GLASS)


def house(p: Pen) -> None:
    p.rect(0.68, 0.08, 0.8, 0.35, ROOF)
    p.rect(0.12, 0.45, 0.88, 1.0)
    p.poly([(0.0, 0.48), (0.5, 0.05), (1.0, 0.48)], ROOF)
    p.rect(0.42, 0.68, 0.58, 1.0, WOOD)
    _windows(p, 2, 1, (0.14, 0.55, 0.86, 0.8), 0.4)
    p.texture(0.12, 0.45, 0.88, 1.0, "dark", 4)


def barn(p: Pen) -> None:
    p.rect(0.08, 0.4, 0.92, 1.0)
    p.poly([(0.02, 0.42), (0.2, 0.12), (0.8, 0.12), (0.98, 0.42)], (90, 90, 95))
    p.rect(0.35, 0.58, 0.65, 1.0, WHITE)
    p.line([(0.35, 0.58), (0.65, 1.0)], "main", 0.03)
    p.line([(0.65, 0.58), (0.35, 1.0)], "main", 0.03)


def castle(p: Pen) -> None:
    p.rect(0.15, 0.35, 0.85, 1.0)
    for x0 in (0.03, 0.75):
        p.rect(x0, 0.16, x0 + 0.22, 1.0)
        p.poly([(x0 - 0.03, 0.16), (x0 + 0.11, 0.02), (x0 + 0.25, 0.16)], ROOF)
    for x in (0.22, 0.38, 0.54, 0.7):
        p.rect(x, 0.27, x + 0.08, 0.36)
    p.rect(0.4, 0.65, 0.6, 1.0, WOOD, radius=0.08)
    p.texture(0.15, 0.35, 0.85, 1.0, "dark", 5)


def tower(p: Pen) -> None:
    p.rect(0.3, 0.2, 0.7, 1.0)
    for x in (0.26, 0.42, 0.58):
        p.rect(x, 0.12, x + 0.16, 0.22)
    _windows(p, 1, 4, (0.3, 0.3, 0.7, 0.9), 0.35)


def lighthouse(p: Pen) -> None:
    p.poly([(0.3, 1.0), (0.38, 0.25), (0.62, 0.25), (0.7, 1.0)])
    for y in (0.4, 0.6, 0.8):
        p.poly([(0.38 - (y - 0.25) * 0.1, y), (0.62 + (y - 0.25) * 0.1, y),
                (0.63 + (y - 0.15) * 0.1, y + 0.1), (0.37 - (y - 0.15) * 0.1, y + 0.1)], WHITE)
    p.rect(0.36, 0.12, 0.64, 0.25, GLASS)
    p.poly([(0.32, 0.13), (0.5, 0.0), (0.68, 0.13)], BLACK)


def church(p: Pen) -> None:
    p.rect(0.05, 0.5, 0.7, 1.0)
    p.poly([(0.0, 0.52), (0.38, 0.3), (0.75, 0.52)], ROOF)
    p.rect(0.62, 0.25, 0.9, 1.0)
    p.poly([(0.6, 0.26), (0.76, 0.0), (0.92, 0.26)], ROOF)
    p.rect(0.72, 0.45, 0.8, 0.6, GLASS, radius=0.04)
    p.rect(0.3, 0.72, 0.45, 1.0, WOOD, radius=0.06)


def tent(p: Pen) -> None:
    p.poly([(0.0, 1.0), (0.5, 0.1), (1.0, 1.0)])
    p.poly([(0.4, 1.0), (0.5, 0.5), (0.6, 1.0)], BLACK)
    p.line([(0.5, 0.1), (0.5, 0.0)], WOOD, 0.03)


def skyscraper(p: Pen) -> None:
    p.rect(0.2, 0.06, 0.8, 1.0)
    p.line([(0.5, 0.06), (0.5, 0.0)], (160, 160, 170), 0.02)
    _windows(p, 4, 12, (0.22, 0.1, 0.78, 0.98), 0.55)


def bridge(p: Pen) -> None:
    p.rect(0.0, 0.45, 1.0, 0.58)
    p.line([(0.0, 0.45), (0.25, 0.15), (0.5, 0.45), (0.75, 0.15), (1.0, 0.45)], "dark", 0.04)
    for x in (0.1, 0.25, 0.4, 0.6, 0.75, 0.9):
        p.line([(x, 0.45), (x, 0.25 if x in (0.25, 0.75) else 0.38)], "dark", 0.015)
    for x in (0.22, 0.72):
        p.rect(x, 0.55, x + 0.06, 1.0, "dark")


def windmill(p: Pen) -> None:
    p.poly([(0.32, 1.0), (0.4, 0.35), (0.6, 0.35), (0.68, 1.0)])
    p.poly([(0.36, 0.37), (0.5, 0.2), (0.64, 0.37)], ROOF)
    cx, cy = 0.5, 0.43
    for dx, dy in ((0.42, -0.28), (-0.42, 0.28), (0.28, 0.42), (-0.28, -0.42)):
        p.poly([(cx, cy), (cx + dx, cy + dy), (cx + dx * 0.8 + dy * 0.15, cy + dy * 0.8 - dx * 0.15)], WHITE)
    p.rect(0.44, 0.75, 0.56, 1.0, WOOD)


def pyramid(p: Pen) -> None:
    p.poly([(0.0, 1.0), (0.5, 0.1), (1.0, 1.0)])
    p.poly([(0.5, 0.1), (1.0, 1.0), (0.62, 1.0)], "dark")
    p.texture(0.2, 0.4, 0.8, 1.0, "dark", 5)


def igloo(p: Pen) -> None:
    p.dome(0.0, 0.3, 1.0, 1.0)
    p.dome(0.36, 0.62, 0.64, 1.0, BLACK)
    p.texture(0.1, 0.4, 0.9, 1.0, "dark", 3)
