"""Deterministic pictures (Pillow only): generations, edits, partial images, bad images.

A prompt whose words the scene composer knows (``scene/``: "a red fox in the snow at night") is
drawn as that scene. Any other prompt gets the procedural drawing below, which depends only on
(prompt, size, index, seed): the palette comes from the prompt (colour words such as "red" or
"teal" set the hue), each word becomes one shape whose kind, colour and scale depend on the word
and whose position depends on the image index (so the n images of one request are variations).
"""

from __future__ import annotations

import io
import json
from xml.sax.saxutils import escape as xml_escape

from PIL import Image, ImageDraw, ImageOps
from PIL.PngImagePlugin import PngInfo

from . import procedural, scene
from .bomb import bomb_png
from .params import ApiError

__all__ = ["NOT_AN_IMAGE", "SCENE_KEY", "bomb_png", "coarse", "edit", "encode", "read_image", "render"]

SCENE_KEY = "demo_scene"  # what a scene drew: in img.info, then in the file (a PNG text chunk, XMP)
NOT_AN_IMAGE = b"This is the demo server's stand-in for image bytes, and it is not an image.\n" * 8
_OPEN_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
_MAX_INPUT_PIXELS = 64 * 1024 * 1024


def _plan(prompt: str, size: tuple[int, int], quality: str, index: int, seed: int,
          area: tuple[int, int, int, int] | None = None) -> scene.Scene | None:
    """The scene the prompt's words describe, or None when it names nothing the composer knows."""
    planned = scene.plan(prompt, size, quality=quality, index=index, seed=seed, area=area)
    return planned if planned.reading.known else None


def render(
    prompt: str,
    size: tuple[int, int],
    *,
    quality: str = "medium",
    index: int = 0,
    seed: int = 0,
    transparent: bool = False,
    noise: bool = False,
    mark: bool = True,
    area: tuple[int, int, int, int] | None = None,
) -> Image.Image:
    """The picture for (prompt, size, quality, index, seed): RGB, or RGBA with a transparent background.

    ``area`` (an edit's mask) is where the scene's subjects go.
    """
    planned = _plan(prompt, size, quality, index, seed, area)
    if planned is None:
        img = procedural.render(prompt, size, index=index, seed=seed, transparent=transparent, noise=noise)
    else:
        img = scene.paint(planned, transparent=transparent)
        if noise and not transparent:
            img = procedural.grain(img, prompt, index, seed)
    img = img if transparent or img.mode == "RGB" else img.convert("RGB")
    if mark:
        layer = Image.new("RGBA", size, (0, 0, 0, 0))
        procedural.marks(ImageDraw.Draw(layer), size, prompt)
        if transparent:
            img = Image.alpha_composite(img, layer)
        else:  # blended in place through the labels' alpha: no conversion of the whole picture
            img.paste(layer, (0, 0), layer)
    img.info[SCENE_KEY] = planned.record(transparent=transparent) if planned else scene.fallback_record()
    return img


def _merged(images: list[Image.Image]) -> Image.Image:
    """The edit's base: the first input, several inputs averaged."""
    base = images[0].convert("RGBA")
    for i, other in enumerate(images[1:], start=2):
        base = Image.blend(base, other.convert("RGBA").resize(base.size, Image.BILINEAR), 1 / i)
    return base


def _chosen(mask: Image.Image | None) -> Image.Image | None:
    """Where the edit paints: the mask's transparent area, as an L image (255: paint)."""
    return None if mask is None else mask.convert("RGBA").getchannel("A").point(lambda a: 255 - a)


def edit(
    images: list[Image.Image],
    mask: Image.Image | None,
    prompt: str,
    *,
    quality: str = "medium",
    size: tuple[int, int] | None = None,
    index: int = 0,
    seed: int = 0,
    noise: bool = False,
    mark: bool = True,
) -> Image.Image:
    """Paint the prompt's picture into the mask's transparent area, or restyle the whole image.

    Outside the mask the first input is kept pixel for pixel; several inputs are averaged first.
    The prompt's subjects are placed inside the mask. The result has the first input's size unless
    ``size`` is given.
    """
    base = _merged(images)
    chosen = _chosen(mask)
    area = None if chosen is None else chosen.getbbox()
    drawn = render(prompt, base.size, quality=quality, index=index, seed=seed, noise=noise, mark=mark, area=area)
    art = drawn.convert("RGBA")
    if chosen is not None:
        out = Image.composite(art, base, chosen)
    else:
        styled = ImageOps.posterize(base.convert("RGB"), 3).convert("RGBA")
        styled.putalpha(base.getchannel("A"))
        out = Image.blend(styled, art, 0.45)
        out.putalpha(base.getchannel("A"))
    if size is not None and size != out.size:
        out = out.resize(size, Image.LANCZOS)
    out.info[SCENE_KEY] = _scaled(drawn.info[SCENE_KEY], base.size, out.size)
    return out


def _scaled(record: dict, drawn: tuple[int, int], size: tuple[int, int]) -> dict:
    """The record of a picture drawn at ``drawn`` and resized to ``size``: boxes in the final pixels."""
    sx, sy = size[0] / drawn[0], size[1] / drawn[1]
    subjects = [{**s, "box": [round(s["box"][0] * sx), round(s["box"][1] * sy), round(s["box"][2] * sx),
                              round(s["box"][3] * sy)]} for s in record["subjects"]]
    return {**record, "subjects": subjects}


def _xmp(name: str, value: str) -> bytes:
    body = f"<wisgate_nb:{name}>{xml_escape(value)}</wisgate_nb:{name}>"
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            f'xmlns:wisgate_nb="urn:wisgate_nb:provenance:1">{body}</rdf:Description></rdf:RDF></x:xmpmeta>'
            '<?xpacket end="w"?>').encode()


def coarse(img: Image.Image, index: int, total: int) -> Image.Image:
    """Partial image ``index`` of ``total``: a blurred version, finer for each later index."""
    factor = (32, 16, 8)[3 - total + index] if 0 < total <= 3 else 8
    small = img.reduce(max(1, min(factor, img.width // 2 or 1, img.height // 2 or 1)))
    return small.resize(img.size, Image.BILINEAR)


def encode(
    img: Image.Image, output_format: str, compression: int = 100, *, transparent: bool = False
) -> bytes:
    """Encode for the wire; alpha survives only for a transparent background in png/webp.

    What a scene drew (``img.info["demo_scene"]``) goes into the file: a PNG text chunk, or XMP.
    """
    drawn = img.info.get(SCENE_KEY)
    text = None if drawn is None else json.dumps(drawn, separators=(",", ":"))
    if img.mode != "RGB" and (output_format == "jpeg" or not transparent):
        if "A" in img.getbands() and img.getchannel("A").getextrema()[0] < 255:  # flatten onto white
            img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
        img = img.convert("RGB")
    buf = io.BytesIO()
    if output_format == "png":
        info = None
        if text is not None:
            info = PngInfo()
            info.add_text(SCENE_KEY, text)
        img.save(buf, "PNG", compress_level=3, pnginfo=info)
    elif output_format == "jpeg":
        img.save(buf, "JPEG", quality=max(1, min(95, compression)), xmp=_xmp(SCENE_KEY, text) if text else b"")
    else:
        img.save(buf, "WEBP", quality=compression, method=2, xmp=_xmp(SCENE_KEY, text) if text else b"")
    return buf.getvalue()


def _bad_image(param: str, message: str) -> ApiError:
    return ApiError(400, message, type="image_generation_user_error", param=param, code="invalid_image_file")


def read_image(data: bytes, *, param: str, formats: tuple[str, ...] = ("png", "jpeg", "webp")) -> Image.Image:
    """Open an uploaded image, or raise the API's 400 for an unreadable or unsupported one."""
    try:
        img = Image.open(io.BytesIO(data))
        fmt = _OPEN_FORMATS.get(img.format or "")
        if fmt is None or fmt not in formats:
            got = f"image/{img.format.lower()}" if img.format else "application/octet-stream"
            allowed = ", ".join(f"'image/{f}'" for f in formats)
            raise _bad_image(param, f"Invalid input image - format must be in [{allowed}], got {got}.")
        if img.width * img.height > _MAX_INPUT_PIXELS:
            raise _bad_image(param, f"Invalid input image - {img.width}x{img.height} is too large.")
        img.load()
    except ApiError:
        raise
    except Exception as exc:  # anything Pillow raises on hostile or broken bytes
        raise _bad_image(
            param,
            f"Invalid image file or mode for '{param}', please check your image file ({type(exc).__name__}).",
        ) from exc
    return img
