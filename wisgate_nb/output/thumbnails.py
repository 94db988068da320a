"""Thumbnails: the small images a notebook embeds, and data URIs for them. Pillow only, no I/O of its own.

A thumbnail is encoded to a byte budget, not to a fixed quality: an ordinary picture stays at quality 80,
a detailed one (photographic grain, pure noise) steps down in quality and then in size until it fits, so
every image costs under 100 KB in a saved notebook (base64 adds a third to MAX_BYTES).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

THUMB_PX = 512
JPEG_QUALITY = 80
MAX_BYTES = 72_000  # raw bytes of one thumbnail: 96 KB once base64-encoded in a notebook
# (quality, how many times over budget at quality 80 a detailed picture may be and still fit at that quality)
_FITS_AT = ((70, 1.2), (60, 1.4), (50, 1.65), (40, 1.95))  # measured on pure noise, the worst case
LOWEST_QUALITY = _FITS_AT[-1][0]


def thumbnail_bytes(data, px: int = THUMB_PX, max_bytes: int = MAX_BYTES, *,
                    mime: str | None = None) -> tuple[bytes, str]:
    """A small JPEG (or WebP when the image has transparency) of an image (bytes or PIL): (bytes, mime).

    At most ``max_bytes``: quality 80 when that fits, else lower qualities, then smaller sizes. ``mime``:
    the type already chosen (``thumbnail_mime`` of the full image, which named the file), else chosen here.
    """
    from PIL import Image

    if isinstance(data, Image.Image):
        im = _small(data, px)
    else:
        with Image.open(io.BytesIO(data)) as source:
            source.draft("RGB", (px, px))  # lets JPEG decode at a reduced scale: much faster
            im = _small(source, px)
    mime = mime or thumbnail_mime(im)
    mode, fmt = ("RGBA", "WEBP") if mime == "image/webp" else ("RGB", "JPEG")
    im = im if im.mode == mode else im.convert(mode)
    while True:
        out = _encode(im, fmt, JPEG_QUALITY, optimize=False)  # most pictures fit at once: one quick encode
        over = len(out) / max_bytes
        # Start at the quality that should fit, so that a noisy picture costs two encodes, not five.
        for quality in ([q for q, fits in _FITS_AT if fits >= over] or [LOWEST_QUALITY]) if over > 1 else ():
            out = _encode(im, fmt, quality)
            if len(out) <= max_bytes:
                break
        if len(out) <= max_bytes:
            return out, mime
        if max(im.size) <= 64:
            return out, mime  # a budget this small gets what it can
        # the bytes of a detailed picture go with its area: shrink to about the budget, and check again
        scale = min(0.9, max(0.5, 0.95 * (max_bytes / len(out)) ** 0.5))
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                       Image.Resampling.BILINEAR)


def _small(source, px: int):
    """A new image of ``source`` at most ``px`` on its long side: a box reduce by the whole factor (no copy of
    the full-size pixels), then bilinear for the rest, as ``thumbnail(reducing_gap=1.0)`` does."""
    from PIL import Image

    target = _fit(source.size, px)
    factor = min(source.width // target[0], source.height // target[1])
    if source.mode in ("P", "1", "I;16", "I;16B", "I;16L"):  # modes reduce() does not take
        source = source.convert("RGBA" if "transparency" in source.info else "RGB")
    im = source.reduce(factor) if factor >= 2 else source.copy()
    return im if im.size == target else im.resize(target, Image.Resampling.BILINEAR)


def _fit(size: tuple[int, int], px: int) -> tuple[int, int]:
    """The size within px x px that keeps the aspect (rounded like Pillow's thumbnail)."""
    width, height = size
    if max(width, height) <= px:
        return width, height
    if width >= height:
        return px, max(1, round(height * px / width))
    return max(1, round(width * px / height)), px


def _encode(im, fmt: str, quality: int, optimize: bool = True) -> bytes:
    """JPEG (optimised Huffman tables when the bytes are tight: 10 % smaller, twice the time) or WebP."""
    out = io.BytesIO()
    if fmt == "JPEG":
        # comment=b"": Pillow would carry a source JPEG's comment over; a thumbnail keeps only the pixels
        im.save(out, "JPEG", quality=quality, optimize=optimize, comment=b"")
    else:
        im.save(out, "WEBP", quality=quality, alpha_quality=quality)
    return out.getvalue()


def thumbnail_mime(image) -> str:
    """The thumbnail's type for a PIL image: WebP where it has transparency, else JPEG."""
    return "image/webp" if image.mode in ("RGBA", "LA", "P") and _has_alpha(image) else "image/jpeg"


def thumbnail_suffix(mime: str) -> str:
    """The file suffix of a thumbnail of this MIME type."""
    return ".webp" if mime == "image/webp" else ".jpg"


def _has_alpha(im) -> bool:
    if im.mode == "P":
        return "transparency" in im.info
    return im.getchannel("A").getextrema()[0] < 255


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an encoded image, read from its header; None if it cannot be read."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:  # not an image Pillow knows: the browser may still show it
        return None


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def mime_of(path: str | Path) -> str:
    """The image MIME type of a file, by its suffix."""
    return {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif"}.get(
        Path(path).suffix.lower(), "image/png")
