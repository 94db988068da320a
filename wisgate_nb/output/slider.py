"""CompareSlider: two images one over the other with a draggable divider (also moved with the arrow keys).

An anywidget (slider.js, a plain ES module, and slider.css). The browser gets both images at a moderate
size; ``position`` (0-100, synced) says where the divider is, so Python can read and set it. It lives in
the output layer because ``History.compare`` offers it for two results, as well as the front doors.
Displayed, it leaves a static copy beside it (static.py): the two images side by side with their labels,
which a saved notebook keeps.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..errors import ConfigurationError
from . import html
from .static import PX, StaticCopy
from .thumbnails import data_uri, thumbnail_bytes

HERE = Path(__file__).parent
PREVIEW_PX = 768  # what the browser gets of an image: big enough to look at closely, small enough to send
MAX_HEIGHT_PX = 600  # shown at most this tall: a cell's output box (marimo's is 610 px) holds all of it, unscrolled


def load_pil(image: Any, what: str = "the image"):
    """A loaded PIL image from a PIL image, a path or bytes (a ConfigurationError that says why otherwise)."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    elif isinstance(image, (str, Path)):
        what = str(image)
        try:
            data = Path(image).expanduser().read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read image file {image}: {exc.strerror or exc}") from None
    else:
        raise ConfigurationError(f"{what} must be a result, a PIL image, a file path or bytes; got "
                                 f"{type(image).__name__}")
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Exception as exc:
        raise ConfigurationError(f"{what} cannot be decoded ({type(exc).__name__})") from None
    return im


def preview_uri(image, px: int = PREVIEW_PX) -> str:
    """A data URI of the image at most ``px`` on its long side (JPEG, or WebP where it is transparent)."""
    return data_uri(*thumbnail_bytes(image, px))


class CompareSlider(anywidget.AnyWidget):
    """Image ``a`` left of the divider, image ``b`` right of it; drag the divider or use the arrow keys."""

    _esm = HERE / "slider.js"
    _css = HERE / "slider.css"

    a = traitlets.Unicode("").tag(sync=True)
    b = traitlets.Unicode("").tag(sync=True)
    label_a = traitlets.Unicode("A").tag(sync=True)
    label_b = traitlets.Unicode("B").tag(sync=True)
    position = traitlets.Float(50.0).tag(sync=True)
    width_px = traitlets.Int(PREVIEW_PX).tag(sync=True)

    def __init__(self, a: Any, b: Any, *, labels: tuple[str, str] = ("A", "B"), position: float = 50.0,
                 px: int = PREVIEW_PX, **kwargs: Any):
        first, second = load_pil(a, "the first image"), load_pil(b, "the second image")
        if isinstance(labels, str) or len(labels) != 2:
            raise ConfigurationError("labels are two texts, one per image, like labels=('before', 'after')")
        long_side = min(px, max(first.size))  # never shown wider than the preview
        long_side = min(long_side, round(MAX_HEIGHT_PX * max(first.size) / first.size[1]))  # nor taller than this
        super().__init__(a=preview_uri(first, px), b=preview_uri(second, px), label_a=str(labels[0]),
                         label_b=str(labels[1]), position=position,
                         width_px=round(long_side * first.size[0] / max(first.size)), **kwargs)
        self._pictures = (data_uri(*thumbnail_bytes(first, PX)), data_uri(*thumbnail_bytes(second, PX)))
        self._copy = StaticCopy("wisgate-slider-copy", self._copy_state)
        self.observe(lambda _change: self._copy.update(), names=["label_a", "label_b"])

    def _copy_state(self) -> tuple[list[html.Tile], str]:
        """The static copy: both images side by side, each with its label as alt text."""
        tiles = [html.Tile(src, alt=label) for src, label in zip(self._pictures, (self.label_a, self.label_b))]
        return tiles, (f"compare slider: {self.label_a} | {self.label_b} (a static copy, side by side: the slider "
                       "itself needs its kernel)")

    def _ipython_display_(self) -> None:
        """The live slider, then its static copy (kept in a saved notebook; hidden while the slider is live)."""
        self._copy.display_beside(self)

    @traitlets.validate("position")
    def _clamp(self, proposal) -> float:
        value = float(proposal["value"])
        if value != value:  # NaN
            raise traitlets.TraitError("position is a number from 0 to 100")
        return min(100.0, max(0.0, value))

    def __repr__(self) -> str:
        return f"<CompareSlider {self.label_a!r} | {self.label_b!r} at {self.position:.0f}%>"
