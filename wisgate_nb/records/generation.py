"""Generation: the result of one request, as users hold it; renders itself in a notebook.

A fresh result keeps in memory what the request made: the files' bytes, the images the client decoded and
the thumbnails drawn for the history. ``.images`` and the display use those; the files on disk are for the
history, read only by a result loaded from it (reuse, ``History``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..output import html
from ..output.thumbnails import THUMB_PX, data_uri, image_size, mime_of, thumbnail_bytes
from .record import Record

DEMO_NOTE = "demo image: drawn by the embedded demo server (no key, no network)"
STREAM_FALLBACK_NOTE = "this endpoint did not stream; showing the final image"


@dataclass(frozen=True)
class Generation:
    """Images from one request plus what produced them."""

    record: Record
    paths: tuple[Path, ...]
    thumbs: tuple[Path, ...] = ()
    data: tuple[bytes, ...] = field(default=(), repr=False)
    full: bool = False  # embed the originals instead of thumbnails when displayed
    # the images the client decoded (None where it cannot be handed over as is), and the thumbnails drawn
    # for the history as (bytes, MIME type): a fresh result's display and .images need no file, no decode
    decoded: tuple = field(default=(), repr=False, compare=False)
    thumbnails: tuple[tuple[bytes, str], ...] = field(default=(), repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def prompt(self) -> str:
        return self.record.prompt

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def params(self) -> dict:
        return dict(self.record.params)

    @property
    def latency_s(self) -> float | None:
        return self.record.latency_s

    @property
    def request_id(self) -> str | None:
        return self.record.request_id

    @property
    def usage(self) -> dict | None:
        return self.record.usage

    @property
    def revised_prompts(self) -> tuple[str | None, ...]:
        return self.record.revised_prompts

    @property
    def reused(self) -> bool:
        return self.record.reused

    @property
    def first_image(self) -> Path | bytes:
        """The first image as an input takes it: its bytes in memory, else its file (an edit, the painter, the slider)."""
        return self.data[0] if self.data else self.paths[0]

    @cached_property
    def images(self) -> list:
        """The images as PIL images: those the client decoded, else decoded on first access.

        They are yours to change: the display shows the thumbnails, and the files stay as written.
        """
        from PIL import Image

        images = []
        for i in range(len(self.data) or len(self.paths)):
            im = self.decoded[i] if i < len(self.decoded) else None
            if im is None:
                im = Image.open(io.BytesIO(self.data[i] if i < len(self.data) else self.paths[i].read_bytes()))
                im.load()
            images.append(im)
        return images

    @property
    def image(self):
        """The first image (PIL)."""
        return self.images[0]

    def thumbnail(self, index: int, px: int = THUMB_PX) -> tuple[bytes, str] | None:
        """(bytes, MIME type) of image ``index``'s thumbnail: the one drawn for it, else made from the image."""
        if px == THUMB_PX and index < len(self.thumbnails):
            return self.thumbnails[index]
        if px == THUMB_PX and index < len(self.thumbs) and self.thumbs[index].exists():
            return self.thumbs[index].read_bytes(), mime_of(self.thumbs[index])
        if index < len(self.data):
            return thumbnail_bytes(self.data[index], px)
        if index < len(self.paths) and self.paths[index].exists():
            return thumbnail_bytes(self.paths[index].read_bytes(), px)
        return None

    def _tiles(self) -> list[html.Tile]:
        tiles = []
        for i, path in enumerate(self.paths):
            if self.full:
                shown, mime = self.data[i] if i < len(self.data) else path.read_bytes(), mime_of(path)
            else:
                shown, mime = self.thumbnail(i) or thumbnail_bytes(path.read_bytes(), THUMB_PX)  # no file: says so
            tiles.append(html.Tile(data_uri(shown, mime), href=html.link_for(path), size=image_size(shown),
                                   alt=html.alt_text(self.prompt, i + 1, len(self.paths))))
        return tiles

    def _repr_html_(self) -> str:
        return self.html()

    @property
    def notice(self) -> str | None:
        """What to tell the user besides the images (a stream that fell back), or None."""
        if not self.record.stream_fallback:
            return None
        return STREAM_FALLBACK_NOTE + ("s" if len(self.paths) > 1 else "")

    def html(self) -> str:
        """The images side by side (512 px for one, 360 px each for two or four, else 256 px), one caption."""
        note = "; ".join(n for n in (DEMO_NOTE if self.record.demo else None, self.notice) if n) or None
        result = html.Result(self._tiles(), html.record_caption(self.record))
        return html.grid_html([result], note=note, px=html.display_px(len(self.paths)))

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = {"text/html": self.html(), "text/plain": repr(self)}
        return data, {"text/html": {"wisgate_nb": self.metadata()}}

    def metadata(self) -> dict[str, Any]:
        """The output's metadata: the facts its files carry (provenance.py), never the key."""
        from .provenance import facts

        r = self.record
        found = facts(r.to_json())
        found.pop("index")
        return {**found, "params": r.params, "latency_s": r.latency_s, "paths": [p.name for p in self.paths],
                "demo": r.demo, "reused": r.reused}

    def __repr__(self) -> str:
        latency = f", {self.latency_s:.2f} s" if self.latency_s is not None else ""
        return f"<Generation {self.id}: {len(self.paths)} image(s) of {self.record.size} for {self.prompt[:60]!r}{latency}>"
