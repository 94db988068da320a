"""Sky, light, ground and weather: everything in a scene that is not a subject.

Each takes the picture's detail level (0 low: flat colours; 1 medium: gradients and outlines; 2 high:
clouds, stars, waves, grass, windows) and a seeded ``random.Random`` so that it is the same every time.
"""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw, ImageOps

from .pen import Colour, mixed, scaled

# (top of the sky, horizon) for each time; None: an ordinary bright day.
SKIES: dict[str | None, tuple[Colour, Colour]] = {
    None: ((80, 150, 230), (185, 215, 240)), "dawn": ((70, 80, 150), (250, 175, 140)),
    "morning": ((110, 170, 235), (205, 228, 245)), "noon": ((35, 115, 230), (150, 200, 250)),
    "afternoon": ((70, 140, 220), (235, 215, 170)), "dusk": ((60, 40, 110), (250, 120, 60)),
    "night": ((6, 8, 28), (25, 35, 75)),
}  # fmt: skip
LIGHT = {None: 1.0, "dawn": 0.85, "morning": 1.0, "noon": 1.05, "afternoon": 0.97, "dusk": 0.72, "night": 0.4}
_WEATHER_SKY = {"rain": ((120, 125, 135), 0.55), "storm": ((50, 52, 62), 0.7), "snow": ((205, 210, 220), 0.5),
                "fog": ((200, 200, 205), 0.3)}
_WEATHER_LIGHT = {"rain": 0.85, "storm": 0.7, "snow": 0.95, "fog": 0.95}
GROUNDS: dict[str | None, Colour] = {
    None: (190, 180, 160), "snow": (236, 241, 250), "sea": (35, 90, 150), "beach": (232, 208, 150),
    "forest": (80, 150, 60), "city": (95, 95, 102), "mountain": (115, 135, 90),
}  # fmt: skip


def light(time: str | None, weather: str | None) -> float:
    return LIGHT.get(time, 1.0) * _WEATHER_LIGHT.get(weather or "", 1.0)


def sky(size: tuple[int, int], horizon: int, time: str | None, weather: str | None, detail: int,
        shift: float) -> Image.Image:
    """The whole picture filled with the sky of ``time`` (the ground is painted over its lower part)."""
    top, low = SKIES.get(time, SKIES[None])
    if weather in _WEATHER_SKY:
        grey, amount = _WEATHER_SKY[weather]
        grey = scaled(grey, LIGHT.get(time, 1.0))  # clouds at night are dark too
        top, low = mixed(top, grey, amount), mixed(low, grey, amount)
    top, low = scaled(top, 1 + shift), scaled(low, 1 - shift)
    if detail == 0:
        return Image.new("RGB", size, mixed(top, low, 0.5))
    ramp = Image.linear_gradient("L").resize((1, max(1, horizon)), Image.BILINEAR)
    ramp = ramp.resize((size[0], max(1, horizon)), Image.NEAREST)
    img = Image.new("RGB", size, low)
    img.paste(ImageOps.colorize(ramp, top, low), (0, 0))
    return img


def sky_things(draw: ImageDraw.ImageDraw, size: tuple[int, int], horizon: int, time: str | None,
               weather: str | None, detail: int, rng: random.Random, *, skip_sun: bool) -> None:
    """The sun, the moon and stars, clouds: what tells the time at a glance."""
    w, _ = size
    r = max(3, int(min(size) * 0.06))
    if time == "night":
        for _ in range((12, 40, 90)[detail] if weather is None else 0):
            x, y, s = rng.uniform(0, w), rng.uniform(0, horizon * 0.9), max(1, r // rng.choice((12, 16, 24)))
            draw.ellipse((x - s, y - s, x + s, y + s), fill=(240, 240, 220))
        if not skip_sun and weather is None:
            x, y = rng.uniform(0.15, 0.85) * w, horizon * 0.25
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(240, 240, 215))
    elif not skip_sun and weather is None:
        height = {"dawn": 0.85, "dusk": 0.8, "morning": 0.45, "afternoon": 0.4}.get(time or "", 0.18)
        x, y = rng.uniform(0.15, 0.85) * w, horizon * height
        colour = (250, 140, 50) if time in ("dawn", "dusk") else (255, 230, 120)
        big = r * (1.6 if time in ("dawn", "dusk") else 1)
        draw.ellipse((x - big, y - big, x + big, y + big), fill=colour)
    if detail == 2 and time != "night":
        cloud = (250, 250, 252) if weather is None else (150, 152, 160)
        cloud = mixed(cloud, SKIES[time][1], 0.45) if time in ("dawn", "dusk") else cloud
        for _ in range(3 if weather is None else 7):
            x, y, s = rng.uniform(0, w), rng.uniform(0.05, 0.5) * horizon, r * rng.uniform(0.8, 1.5)
            for dx, dy, k in ((-1.2, 0.2, 0.8), (0, 0, 1.1), (1.2, 0.25, 0.8)):
                draw.ellipse((x + dx * s - k * s, y + dy * s - k * s * 0.7, x + dx * s + k * s, y + dy * s + k * s * 0.7),
                             fill=cloud)


def ground(draw: ImageDraw.ImageDraw, size: tuple[int, int], horizon: int, kind: str | None, detail: int,
           rng: random.Random, lit: float) -> None:
    """The ground below ``horizon``, and what rises behind it (mountains, a skyline, a tree line)."""
    w, h = size
    base = scaled(GROUNDS.get(kind, GROUNDS[None]), lit)
    if kind == "mountain":
        for k in range(4):
            peak_x, peak_h = (k + rng.uniform(0.1, 0.9)) * w / 3.5, horizon * rng.uniform(0.35, 0.6)
            half = w * rng.uniform(0.22, 0.32)
            rock = scaled((105, 110, 135) if k % 2 else (125, 128, 150), lit)
            draw.polygon([(peak_x - half, horizon), (peak_x, horizon - peak_h), (peak_x + half, horizon)], fill=rock)
            if detail:
                cap = peak_h * 0.25
                draw.polygon([(peak_x - half * cap / peak_h, horizon - peak_h + cap), (peak_x, horizon - peak_h),
                              (peak_x + half * cap / peak_h, horizon - peak_h + cap)], fill=scaled((245, 245, 250), lit))
    elif kind == "city":
        x = 0.0
        while x < w:
            bw, bh = w * rng.uniform(0.05, 0.1), horizon * rng.uniform(0.15, 0.45)
            draw.rectangle((x, horizon - bh, x + bw, horizon), fill=scaled((70, 78, 100), lit))
            if detail == 2 or (detail and lit < 0.5):
                glow = (250, 220, 120) if lit < 0.5 else scaled((170, 190, 210), lit)
                step = max(4, int(bw / 4))
                for wx in range(int(x + step / 2), int(x + bw - step / 2), step):
                    for wy in range(int(horizon - bh + step / 2), int(horizon - step), step):
                        if rng.random() < 0.6:
                            draw.rectangle((wx, wy, wx + step // 3, wy + step // 3), fill=glow)
            x += bw + w * rng.uniform(0.0, 0.02)
    elif kind == "forest":
        step = w / 14
        for k in range(15):
            x, th = k * step + rng.uniform(-step / 3, step / 3), horizon * rng.uniform(0.12, 0.22)
            draw.polygon([(x - step * 0.6, horizon + 1), (x, horizon - th), (x + step * 0.6, horizon + 1)],
                         fill=scaled((35, 95, 45), lit))
    draw.rectangle((0, horizon, w, h), fill=base)
    if kind == "beach":
        draw.rectangle((0, horizon, w, horizon + (h - horizon) * 0.15), fill=scaled(GROUNDS["sea"], lit))
    if kind == "city":
        lane = horizon + (h - horizon) * 0.55
        for x in range(0, w, max(8, w // 10)):
            draw.rectangle((x, lane, x + w // 20, lane + max(2, h // 120)), fill=scaled((235, 235, 235), lit))
    if detail == 2:
        _texture(draw, size, horizon, kind, rng, base)


def _texture(draw: ImageDraw.ImageDraw, size: tuple[int, int], horizon: int, kind: str | None,
             rng: random.Random, base: Colour) -> None:
    w, h = size
    light_, dark = mixed(base, (255, 255, 255), 0.3), scaled(base, 0.8)
    for _ in range(160):
        x, y = rng.uniform(0, w), rng.uniform(horizon, h)
        s = max(2, (y - horizon) / (h - horizon + 1) * min(w, h) * 0.03)
        if kind == "sea":
            draw.arc((x - s * 2, y - s, x + s * 2, y + s), 200, 340, fill=light_, width=max(1, int(s / 4)))
        elif kind == "forest":
            draw.line((x, y, x + s * 0.3, y - s * 1.5), fill=dark, width=max(1, int(s / 5)))
        else:
            draw.ellipse((x - s / 3, y - s / 6, x + s / 3, y + s / 6), fill=dark if kind != "snow" else light_)


def weather(img: Image.Image, kind: str | None, detail: int, rng: random.Random) -> Image.Image:
    """Falling snow or rain, a storm's lightning, fog over everything."""
    if kind is None:
        return img
    if kind == "fog":
        return Image.blend(img, Image.new(img.mode, img.size, (205, 205, 210)), 0.5)
    w, h = img.size
    draw = ImageDraw.Draw(img)
    count = (60, 140, 260)[detail]
    s = max(1, int(min(w, h) * 0.006))
    for _ in range(count):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        if kind == "snow":
            draw.ellipse((x - s, y - s, x + s, y + s), fill=(250, 250, 255))
        else:
            draw.line((x, y, x - s * 3, y + s * 10), fill=(170, 180, 200), width=max(1, s // 2))
    if kind == "storm":
        x, y, points = rng.uniform(0.2, 0.8) * w, 0.0, []
        while y < h * 0.55:
            points.append((x, y))
            x, y = x + rng.uniform(-1, 1) * w * 0.05, y + h * 0.07
        draw.line(points, fill=(255, 250, 190), width=max(2, int(min(w, h) * 0.008)))
    return img


def hue_shift(colour: Colour, amount: float) -> Colour:
    """``colour`` with its hue turned by ``amount`` of a full turn (the palette shift between images)."""
    r, g, b = (c / 255 for c in colour)
    mx, mn = max(r, g, b), min(r, g, b)
    if mx - mn < 0.05:
        return colour
    angle = amount * 2 * math.pi
    cos, sin = math.cos(angle), math.sin(angle)
    m = [[cos + (1 - cos) / 3, (1 - cos) / 3 - math.sqrt(1 / 3) * sin, (1 - cos) / 3 + math.sqrt(1 / 3) * sin],
         [(1 - cos) / 3 + math.sqrt(1 / 3) * sin, cos + (1 - cos) / 3, (1 - cos) / 3 - math.sqrt(1 / 3) * sin],
         [(1 - cos) / 3 - math.sqrt(1 / 3) * sin, (1 - cos) / 3 + math.sqrt(1 / 3) * sin, cos + (1 - cos) / 3]]
    return tuple(max(0, min(255, round(255 * (row[0] * r + row[1] * g + row[2] * b)))) for row in m)  # type: ignore
