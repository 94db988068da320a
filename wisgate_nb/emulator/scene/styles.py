"""Style words change how the finished picture is rendered; each is one function of the image."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageChops, ImageFilter, ImageOps

_BOOST = [min(255, v * 4) for v in range(256)]
_QUARTER = [v // 4 for v in range(256)] * 3


def watercolor(img: Image.Image) -> Image.Image:
    soft = img.reduce(3).filter(ImageFilter.SMOOTH_MORE).resize(img.size, Image.BILINEAR)
    soft = ImageOps.posterize(soft, 4)
    return Image.blend(soft, Image.new("RGB", img.size, (250, 246, 236)), 0.15)


def pixel_art(img: Image.Image) -> Image.Image:
    cells = max(1, min(img.size) // 48)
    small = img.resize((max(1, img.width // cells), max(1, img.height // cells)), Image.NEAREST)
    small = small.quantize(16, method=Image.Quantize.MEDIANCUT).convert("RGB")
    return small.resize(img.size, Image.NEAREST)


def neon(img: Image.Image) -> Image.Image:
    """Glowing outlines on a dark picture."""
    edges = img.convert("L").filter(ImageFilter.FIND_EDGES).point(_BOOST)
    glow = ImageOps.colorize(edges.filter(ImageFilter.BoxBlur(max(1, min(img.size) // 200))), "black", (40, 230, 255))
    lines = ImageOps.colorize(edges, "black", (255, 70, 230))
    return ImageChops.add(ImageChops.add(img.point(_QUARTER), glow), lines)


def black_and_white(img: Image.Image) -> Image.Image:
    return ImageOps.autocontrast(img.convert("L")).convert("RGB")


def sketch(img: Image.Image) -> Image.Image:
    """Dark pencil lines where the picture has edges, on paper."""
    edges = img.convert("L").filter(ImageFilter.FIND_EDGES).point(_BOOST)
    lines = ImageOps.invert(edges.filter(ImageFilter.BoxBlur(max(1, min(img.size) // 400))).point(_BOOST))
    return Image.blend(lines.convert("RGB"), Image.new("RGB", img.size, (245, 242, 232)), 0.15)


STYLES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "watercolor": watercolor, "pixel art": pixel_art, "neon": neon, "black and white": black_and_white,
    "sketch": sketch,
}  # fmt: skip


def apply(img: Image.Image, names: tuple[str, ...]) -> Image.Image:
    for name in names:
        img = STYLES[name](img)
    return img
