"""Image bytes in and out: checking what the server sent, preparing what the user uploads.

Every image is fully decoded with Pillow under a pixel cap before anyone sees it, so a broken
image or a decompression bomb becomes a wisgate_nb error, never a Pillow exception or warning.
Only PNG, JPEG, WebP and GIF data reach Pillow, each opened as the format its magic bytes name.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .. import errors

DEFAULT_MAX_PIXELS = 50_000_000
_UPLOAD_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_UPLOAD_EXT = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
# Formats named in a refusal (never decoded): what a server or a user is likely to send instead
_OTHER_FORMATS = ((b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"%!PS", "EPS"),
                  (b"\xc5\xd0\xd3\xc6", "EPS"), (b"8BPS", "PSD"), (b"\x00\x00\x01\x00", "ICO"))


@dataclass(frozen=True)
class ImageBlob:
    """One image exactly as the server sent it, checked to decode."""

    data: bytes = field(repr=False)
    format: str
    width: int
    height: int
    revised_prompt: str | None = None
    # The pixels the check decoded, so the thumbnail does not decode the file a second time.
    decoded: Image.Image | None = field(default=None, repr=False, compare=False)

    def to_pil(self) -> Image.Image:
        return Image.open(io.BytesIO(self.data))


ImageInput = str | os.PathLike | bytes | Image.Image


def decode_image(data: bytes, *, max_pixels: int, revised_prompt: str | None = None) -> ImageBlob:
    """Check that ``data`` is an image Pillow decodes, with at most ``max_pixels`` pixels."""
    fmt, width, height, decoded = _inspect_image(data, max_pixels, errors.ResponseFormatError, "the image",
                                                 keep=True)
    revised = revised_prompt if isinstance(revised_prompt, str) else None
    return ImageBlob(bytes(data), fmt, width, height, revised, decoded)


def _inspect_image(data: bytes, max_pixels: int, error: type[Exception], what: str, keep: bool = False,
                   tail: str = "only PNG, JPEG, WebP and GIF data is decoded"):
    """(format, width, height) after a full decode; ``error`` for anything that is not a sane image."""
    if Image.MAX_IMAGE_PIXELS:  # never above Pillow's own limit, where Pillow would only warn
        max_pixels = min(max_pixels, int(Image.MAX_IMAGE_PIXELS))
    too_big = f"{what} has too many pixels (more than {max_pixels:,}): refused as a decompression bomb"
    kind = image_kind(data)
    if kind is None:  # an EPS must never reach Pillow (and Ghostscript), nor a TIFF a .png file
        name = next((n for magic, n in _OTHER_FORMATS if data.startswith(magic)), None)
        if name is not None:
            raise error(f"{what} is {name}: {tail}")
        raise error(f"{what} cannot be decoded: it is not PNG, JPEG, WebP or GIF data (it starts with {bytes(data[:8])!r})")
    declared = peek_size(data)
    if declared is not None and declared[0] * declared[1] > max_pixels:
        # Refused before Pillow sees it: Pillow would warn (between 1x and 2x its own limit), and a
        # warnings filter to silence it is process-wide and not thread-safe (images decode in threads).
        raise error(f"{too_big}: {declared[0]}x{declared[1]}")
    try:
        # in memory: nothing to close, and the pixels stay usable; only the format its first bytes name
        im = Image.open(io.BytesIO(data), formats=[kind])
        width, height = im.size
        if width * height > max_pixels:
            raise error(f"{too_big}: {width}x{height}")
        fmt = (im.format or "unknown").lower()
        im.load()
    except error:
        raise
    except Image.DecompressionBombError as exc:
        raise error(too_big) from exc
    except Image.UnidentifiedImageError as exc:  # its own message names a BytesIO object at 0x...
        raise error(f"{what} cannot be decoded: it is not in an image format Pillow reads") from exc
    except Exception as exc:
        raise error(f"{what} cannot be decoded ({type(exc).__name__}: {str(exc)[:200]})") from exc
    return (fmt, width, height, im) if keep else (fmt, width, height)


def image_kind(data: bytes) -> str | None:
    """The Pillow format its magic bytes name, of the four accepted (PNG, JPEG, WebP, GIF); None otherwise."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    return None


def peek_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a well-formed PNG, GIF, WebP or JPEG header, without decoding; None if not found."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and zlib.crc32(data[12:29]) == int.from_bytes(
            data[29:33], "big"):
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) > 13:
        table = 3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0  # the global colour table, if any
        if data[13 + table: 14 + table] in (b",", b"!", b";"):  # then an image, an extension or the end
            return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        chunk = data[12:16]
        if chunk == b"VP8X":
            return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
        if chunk == b"VP8L" and len(data) >= 25:
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8 " and len(data) >= 30:
            return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
        return None
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame segment
            return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def b64decode(text: str) -> bytes:
    if text.startswith("data:"):  # some compatible servers send a data URL
        text = text.partition(",")[2]
    try:
        try:  # the usual case, without copying megabytes to strip whitespace that is not there
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            return base64.b64decode("".join(text.split()), validate=True)  # base64 wrapped in lines
    except (binascii.Error, ValueError) as exc:
        raise errors.ResponseFormatError("an image's base64 data is truncated or corrupted") from exc


def load_image_input(image: ImageInput, *, default_name: str = "image.png") -> tuple[str, bytes, str]:
    """(filename, bytes, MIME type) of an image to upload: a path, bytes, a PIL image or an ImageBlob."""
    name: str | None = None
    if isinstance(image, Image.Image):
        name, data = _pil_to_png(image, default_name)
    elif isinstance(image, ImageBlob):
        data = image.data
    elif isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    elif isinstance(image, (str, os.PathLike)):
        name, data = _read_image_file(image)
    else:
        raise errors.ConfigurationError(
            f"an image must be a file path, bytes or a PIL image; got {type(image).__name__}")
    fmt, _, _ = _inspect_image(data, DEFAULT_MAX_PIXELS, errors.ConfigurationError, name or "the image",
                               tail="send PNG, JPEG or WEBP (a PIL image is converted to PNG)")
    if fmt not in _UPLOAD_MIME:
        raise errors.ConfigurationError(f"{name or 'the image'} is {fmt.upper()}: send PNG, JPEG or WEBP "
                                        "(a PIL image is converted to PNG)")
    return name or Path(default_name).stem + _UPLOAD_EXT[fmt], data, _UPLOAD_MIME[fmt]


def _read_image_file(path: str | os.PathLike) -> tuple[str, bytes]:
    text = os.fsdecode(os.fspath(path))
    if re.match(r"(?i)https?://", text):
        raise errors.ConfigurationError("image URLs are not accepted: download the file and pass its path")
    file = Path(text).expanduser()
    try:
        return file.name, file.read_bytes()
    except FileNotFoundError as exc:
        raise errors.ConfigurationError(f"image file not found: {file}") from exc
    except OSError as exc:
        raise errors.ConfigurationError(f"cannot read image file {file}: {exc.strerror or exc}") from exc


def _pil_to_png(image: Image.Image, default_name: str) -> tuple[str, bytes]:
    buffer = io.BytesIO()
    try:
        image.save(buffer, format="PNG")
    except (OSError, ValueError, KeyError):  # modes PNG cannot hold (CMYK, ...)
        buffer = io.BytesIO()
        image.convert("RGBA").save(buffer, format="PNG")
    stem = Path(getattr(image, "filename", "") or default_name).stem or "image"
    return f"{stem}.png", buffer.getvalue()
