"""One Image widget per thumbnail, shown wherever it is needed.

A widget model can have many views: the gallery, the history table and a comparison all show the
same ``Image`` model, so a thumbnail's bytes are in the widget state once, however often it is
shown. Sizes come from the container (``tile``), never from the shared Image's own layout. Its alt text
(the Image's ``tooltip``, which ipywidgets puts on the <img> as its title) names the prompt, the image's
number and its settings (what a comparison tells apart by): the same words wherever it is shown.
"""

from __future__ import annotations

import threading

import ipywidgets as widgets
import traitlets

from ..output import html
from ..records.views import thumbnail


class Thumb(widgets.Image):
    """An Image whose ``tooltip`` is its alt text. ipywidgets' view puts a tooltip on the <img> as its title only
    when the model has a ``description``, which an Image lacks (its view fails without one): here it has one."""

    description = traitlets.Unicode("").tag(sync=True)


def new_image() -> widgets.Image:
    """An empty, hidden Image that fits the width of its tile (call on the main thread)."""
    layout = widgets.Layout(max_width="100%", height="auto", object_fit="contain", display="none")
    return Thumb(value=b"", format="jpeg", layout=layout)


def alt(record, index: int) -> str:
    """The alt text of image ``index`` of a record: its prompt, its number, and its size, quality and any other
    option it asked for (what a comparison tells results apart by)."""
    asked = [f"{k.replace('_', ' ')} {v}" for k, v in record.params.items()
             if k not in ("size", "n", "quality", "stream", "partial_images") and v is not None]
    settings = [record.size or "", f"quality {record.quality}" if record.quality else "", *asked]
    return html.alt_text(record.prompt, index + 1, max(len(record.paths), record.images),
                         ", ".join(b for b in settings if b))


def fill(image: widgets.Image, data: bytes, fmt: str, alt_text: str) -> None:
    """Show a picture in an Image (safe from the engine thread: trait assignments only)."""
    if image.format != fmt:
        image.format = fmt
    image.tooltip = alt_text
    image.value = data
    image.layout.display = None  # an empty Image would show a broken-image icon, so it stays hidden until now


def tile(image: widgets.Widget, width: str) -> widgets.Box:
    """A box of a fixed width around a (shared) Image."""
    return widgets.Box([image], layout=widgets.Layout(width=width, min_width=width, overflow="hidden"))


class ThumbStore:
    """Record id -> the Image widgets of its thumbnails, created once."""

    def __init__(self):
        self._lock = threading.Lock()
        self._images: dict[str, tuple[widgets.Image, ...]] = {}

    def register(self, record_id: str, images) -> None:
        """Remember Images that already show a record's thumbnails (the gallery's)."""
        with self._lock:
            self._images[record_id] = tuple(images)

    def known(self, record_id: str) -> tuple[widgets.Image, ...] | None:
        with self._lock:
            return self._images.get(record_id)

    def images(self, history, record) -> tuple[widgets.Image, ...]:
        """The Images of a record, made from its thumbnail files if needed (main thread)."""
        found = self.known(record.id)
        if found is not None:
            return found
        made = []
        for index in range(len(record.paths)):
            found = thumbnail(history, record, index)
            if found is not None:
                image = new_image()
                fill(image, found[0], found[1].split("/")[1], alt(record, index))
                made.append(image)
        self.register(record.id, made)
        return tuple(made)
