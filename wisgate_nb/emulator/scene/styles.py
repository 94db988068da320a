"""Style words change how the finished picture is rendered; each is one function of the image."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageChops, ImageFilter, ImageOps

_BOOST = [min(255, v * 4) for v in range(256)]
_QUARTER = [v // 4 for v in range(256)]
_BLOTCHES = [205 + (k * 7919 + (k * k) % 61) % 51 for k in range(144)]  # a fixed, irregular 12x12 wash


def watercolor(img: Image.Image) -> Image.Image:
    """Soft washes of fewer colours, blotched like pigment on warm paper (worked small, then enlarged)."""
    small = ImageOps.posterize(img.reduce(2).filter(ImageFilter.SMOOTH_MORE), 4)
    small = Image.blend(small, Image.new("RGB", small.size, (250, 246, 236)), 0.15)
    blotches = Image.frombytes("L", (12, 12), bytes(_BLOTCHES)).resize(small.size, Image.BICUBIC)
    small = ImageChops.multiply(small, Image.merge("RGB", (blotches,) * 3))
    return small.resize(img.size, Image.BILINEAR)


def pixel_art(img: Image.Image) -> Image.Image:
    cells = max(1, min(img.size) // 48)
    small = img.resize((max(1, img.width // cells), max(1, img.height // cells)), Image.NEAREST)
    small = small.quantize(16, method=Image.Quantize.MEDIANCUT).convert("RGB")
    return small.resize(img.size, Image.NEAREST)


def neon(img: Image.Image) -> Image.Image:
    """Magenta lines with a cyan glow where the picture has edges, on the darkened picture."""
    edges = img.convert("L").filter(ImageFilter.FIND_EDGES).point(_BOOST)
    glow = edges.filter(ImageFilter.BoxBlur(max(1, min(img.size) // 200)))
    light = Image.merge("RGB", (edges, glow, ImageChops.lighter(edges, glow)))
    return ImageChops.add(img.point(_QUARTER * 3), light)


def black_and_white(img: Image.Image) -> Image.Image:
    return ImageOps.autocontrast(img.convert("L")).convert("RGB")


def sketch(img: Image.Image) -> Image.Image:
    """Dark pencil lines where the picture has edges, on warm paper."""
    edges = img.convert("L").filter(ImageFilter.FIND_EDGES).point(_BOOST)
    lines = ImageOps.invert(edges.filter(ImageFilter.BoxBlur(max(1, min(img.size) // 400))).point(_BOOST))
    return Image.merge("RGB", [lines.point([round(v * 0.85 + paper * 0.15) for v in range(256)])
                               for paper in (245, 242, 232)])


STYLES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "watercolor": watercolor, "pixel art": pixel_art, "neon": neon, "black and white": black_and_white,
    "sketch": sketch,
}  # fmt: skip


def apply(img: Image.Image, names: tuple[str, ...]) -> Image.Image:
    for name in names:
        img = STYLES[name](img)
    return img
