"""The images of an edit: loaded from paths, bytes, PIL images, results or a mask painter, checked before sending.

What the edits API takes, checked here so that nothing is sent (or recorded as sent) otherwise: 1 to 16
PNG, JPEG or WebP images of less than 50 MB each; a mask that is a PNG with an alpha channel, of less
than 4 MB and of the first image's size. A mask painter (``wisgate_nb.mask_painter``) is a mask.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..options import check_edit_images
from ..records import Generation

Upload = tuple[str, bytes, str]  # (filename, bytes, MIME type)
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_MASK_BYTES = 4 * 1024 * 1024


def load_image(image: Any, default_name: str = "image.png", what: str = "the image") -> Upload:
    """Accept a path, bytes, a PIL image or a Generation (its first image); at most 50 MB."""
    from ..http.images import load_image_input  # Pillow loads with the first edit, not with the package

    if isinstance(image, Generation):
        image = image.first_image
    if is_painter(image):
        raise ConfigurationError(f"{what} is a mask painter: pass it as the mask (mask=painter), and the image "
                                 "it paints on as the image")
    if isinstance(image, (str, os.PathLike)) and not str(image).lower().startswith(("http:", "https:")):
        try:
            _check_bytes(os.path.getsize(Path(image).expanduser()), Path(image).name, MAX_IMAGE_BYTES)
        except OSError:
            pass  # a missing or unreadable file: load_image_input says which
    upload = load_image_input(image, default_name=default_name)
    _check_bytes(len(upload[1]), upload[0] if what == "the image" else what, MAX_IMAGE_BYTES)
    return upload


def is_painter(obj: Any) -> bool:
    """A mask painter (widgets/painter.py) says so; core does not import the widgets."""
    return getattr(type(obj), "_wisgate_mask_painter", False) is True


def painted_mask(painter: Any):
    """The painter's mask (a PIL image), or a clear error when nothing is painted yet."""
    mask = painter.mask
    if mask is None or mask.getchannel("A").getextrema()[0] == 255:  # no stroke, or every stroke erased
        raise ConfigurationError("the mask painter has nothing painted: paint the area to change first "
                                 "(or add a stroke from Python: painter.add_rect(...))")
    return mask


def load_edit_inputs(images: Sequence | None, mask: Any) -> tuple[tuple[Upload, ...], Upload | None]:
    """(images, mask) ready to upload; ConfigurationError for a missing, unreadable or mismatched input."""
    images = list(images or ())
    check_edit_images(len(images), has_mask=mask is not None)
    loaded = tuple(load_image(img, what=_which(i, len(images))) for i, img in enumerate(images))
    if mask is None:
        return loaded, None
    if is_painter(mask):
        mask = painted_mask(mask)
    mask_file = load_image(mask, default_name="mask.png", what="the mask")
    _check_bytes(len(mask_file[1]), "the mask", MAX_MASK_BYTES)
    check_mask(loaded[0], mask_file)
    return loaded, mask_file


def check_mask(image: Upload, mask: Upload) -> None:
    """A mask must be a PNG of the first image's size with an alpha channel (transparent = the area to edit)."""
    from PIL import Image

    with Image.open(io.BytesIO(image[1])) as im, Image.open(io.BytesIO(mask[1])) as mk:
        if im.size != mk.size:
            raise ConfigurationError(
                f"the mask is {mk.size[0]}x{mk.size[1]} but the image is {im.size[0]}x{im.size[1]}: "
                "a mask must have the same size as the image (a mask painter: make it for this image)"
            )
        if mk.format != "PNG":
            raise ConfigurationError(f"the mask must be a PNG with transparent areas to edit, got {mk.format}")
        if "A" not in mk.getbands() and "transparency" not in mk.info:
            raise ConfigurationError(f"the mask has no alpha channel ({mk.mode}): the server would ignore it. Make "
                                     "it RGBA, transparent where the image may change (or use a mask painter)")


def _check_bytes(size: int, name: str, limit: int) -> None:
    if size > limit:
        raise ConfigurationError(f"{name} is {size / 1024 / 1024:.1f} MB: the edits API takes at most "
                                 f"{limit // (1024 * 1024)} MB per {'mask' if limit == MAX_MASK_BYTES else 'image'}")


def _which(index: int, count: int) -> str:
    return "the image" if count == 1 else f"image {index + 1} of {count}"
