"""The images of an edit: loaded from paths, bytes, PIL images or results, and checked before sending."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError
from ..history import Generation
from ..options import check_edit_images

Upload = tuple[str, bytes, str]  # (filename, bytes, MIME type)


def load_image(image: Any, default_name: str = "image.png") -> Upload:
    """Accept a path, bytes, a PIL image or a Generation (its first image)."""
    from ..http.images import load_image_input  # Pillow loads with the first edit, not with the package

    if isinstance(image, Generation):
        image = image.paths[0] if image.paths else image.data[0]
    return load_image_input(image, default_name=default_name)


def load_edit_inputs(images: Sequence | None, mask: Any) -> tuple[tuple[Upload, ...], Upload | None]:
    """(images, mask) ready to upload; ConfigurationError for a missing, unreadable or mismatched input."""
    images = list(images or ())
    check_edit_images(len(images), has_mask=mask is not None)
    loaded = tuple(load_image(img) for img in images)
    mask_file = load_image(mask, default_name="mask.png") if mask is not None else None
    if mask_file is not None:
        check_mask(loaded[0], mask_file)
    return loaded, mask_file


def check_mask(image: Upload, mask: Upload) -> None:
    """A mask must be a PNG of the first image's size (its transparent pixels are the area to edit)."""
    from PIL import Image

    with Image.open(io.BytesIO(image[1])) as im, Image.open(io.BytesIO(mask[1])) as mk:
        if im.size != mk.size:
            raise ConfigurationError(
                f"the mask is {mk.size[0]}x{mk.size[1]} but the image is {im.size[0]}x{im.size[1]}: "
                "a mask must have the same size as the image"
            )
        if mk.format != "PNG":
            raise ConfigurationError(f"the mask must be a PNG with transparent areas to edit, got {mk.format}")
