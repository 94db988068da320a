"""One Image widget per thumbnail, shown wherever it is needed.

A widget model can have many views: the gallery, the history table and a comparison all show the
same ``Image`` model, so a thumbnail's bytes are in the widget state once, however often it is
shown. Sizes come from the container (``tile``), never from the shared Image's own layout.
"""

from __future__ import annotations

import threading

import ipywidgets as widgets

from ..records.views import thumbnail


def new_image() -> widgets.Image:
    """An empty, hidden Image that fits the width of its tile (call on the main thread)."""
    layout = widgets.Layout(max_width="100%", height="auto", object_fit="contain", display="none")
    return widgets.Image(value=b"", format="jpeg", layout=layout)


def fill(image: widgets.Image, data: bytes, fmt: str) -> None:
    """Show a picture in an Image (safe from the engine thread: trait assignments only)."""
    if image.format != fmt:
        image.format = fmt
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
                fill(image, found[0], found[1].split("/")[1])
                made.append(image)
        self.register(record.id, made)
        return tuple(made)
