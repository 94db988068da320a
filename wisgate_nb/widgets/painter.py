"""MaskPainter: paint the area of an image to change, in the notebook; ``painter.mask`` is the edits API's mask.

An anywidget (painter.js, a plain ES module, and painter.css): the browser gets a preview of moderate
size and sends each stroke in the image's own pixel coordinates. The strokes live in a synced trait, so
Python holds the whole state and draws the mask at full resolution itself; strokes can be added from
Python too (``add_rect``, ``add_circle``, ``add_stroke``), for tutorials and tests that run without a browser.

A stroke is ``{"kind": "line" | "rect" | "ellipse", "erase": bool, "size": brush diameter in image
pixels, "points": [[x, y], ...]}`` (a rect or an ellipse: two corners of its box).

Displayed, it leaves a static copy beside it (output/static.py): the image with the painted area tinted and
"2 strokes, 3.4% painted", updated with every stroke, which a saved notebook keeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..errors import ConfigurationError
from ..output import html
from ..output.slider import load_pil, preview_uri
from ..output.static import PX, StaticCopy
from ..output.thumbnails import data_uri, thumbnail_bytes
from ..records import Generation

HERE = Path(__file__).parent
KINDS = ("line", "rect", "ellipse")


class MaskPainter(anywidget.AnyWidget):
    """Paint over an image (brush, eraser, clear, undo); ``mask`` is transparent where painted."""

    _esm = HERE / "painter.js"
    _css = HERE / "painter.css"
    _wisgate_mask_painter = True  # what core/inputs.py looks for: a painter is accepted wherever a mask is

    preview = traitlets.Unicode("").tag(sync=True)
    width = traitlets.Int(1).tag(sync=True)
    height = traitlets.Int(1).tag(sync=True)
    brush = traitlets.Int(40).tag(sync=True)
    tool = traitlets.Unicode("brush").tag(sync=True)
    strokes = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(self, image: Any, brush: int = 40, **kwargs: Any):
        if isinstance(image, Generation):
            image = image.first_image
        self.image = load_pil(image)
        if not isinstance(brush, int) or isinstance(brush, bool) or brush < 1:
            raise ConfigurationError(f"brush is a diameter in pixels (a whole number of 1 or more); got {brush!r}")
        width, height = self.image.size
        super().__init__(preview=preview_uri(self.image), width=width, height=height, brush=brush, **kwargs)
        self._copy = StaticCopy("wisgate-painter-copy", self._copy_state)
        self.observe(lambda _change: self._copy.update(), names="strokes")

    @traitlets.validate("tool")
    def _valid_tool(self, proposal):
        if proposal["value"] not in ("brush", "eraser"):
            raise traitlets.TraitError(f"tool is 'brush' or 'eraser', not {proposal['value']!r}")
        return proposal["value"]

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    # -- strokes from Python ---------------------------------------------------------------
    def add_stroke(self, points, *, brush: int | None = None, erase: bool = False) -> MaskPainter:
        """A free stroke through these (x, y) points of the image, ``brush`` pixels wide."""
        pts = [[float(x), float(y)] for x, y in points]
        if not pts:
            raise ConfigurationError("a stroke needs at least one point")
        return self._add({"kind": "line", "erase": bool(erase), "size": int(brush or self.brush), "points": pts})

    def add_rect(self, x0: float, y0: float, x1: float, y1: float, *, erase: bool = False) -> MaskPainter:
        """Paint (or erase) the rectangle with corners (x0, y0) and (x1, y1), in image pixels."""
        return self._add({"kind": "rect", "erase": bool(erase), "size": 0, "points": [[x0, y0], [x1, y1]]})

    def add_circle(self, cx: float, cy: float, r: float, *, erase: bool = False) -> MaskPainter:
        """Paint (or erase) the disc of radius ``r`` around (cx, cy), in image pixels."""
        return self._add({"kind": "ellipse", "erase": bool(erase), "size": 0,
                          "points": [[cx - r, cy - r], [cx + r, cy + r]]})

    def _add(self, stroke: dict) -> MaskPainter:
        self.strokes = [*self.strokes, stroke]
        return self

    def undo(self) -> MaskPainter:
        """Take back the last stroke."""
        self.strokes = self.strokes[:-1]
        return self

    def clear(self) -> MaskPainter:
        self.strokes = []
        return self

    # -- the mask ----------------------------------------------------------------------------
    @property
    def mask(self):
        """A PIL RGBA image of the image's size, transparent where painted; None before any stroke."""
        if not self.strokes:
            return None
        return render_mask(self.size, self.strokes)

    @property
    def painted(self) -> float:
        """The share of the image that is painted (0 to 1)."""
        return self._share(self.mask)

    def _share(self, mask) -> float:
        return 0.0 if mask is None else mask.getchannel("A").histogram()[0] / (self.width * self.height)

    def overlay(self, px: int = 384, mask=None):
        """A small PIL picture of the image with the painted area tinted, as the browser shows it (static copy)."""
        from PIL import Image

        shown = self.image.convert("RGB")
        shown.thumbnail((px, px))
        mask = mask if mask is not None else self.mask
        if mask is not None:
            alpha = mask.getchannel("A").resize(shown.size).point(lambda a: 128 if a < 128 else 0)
            shown.paste(Image.new("RGB", shown.size, (255, 40, 90)), (0, 0), alpha)
        return shown

    def _summary(self, mask) -> str:
        count = len(self.strokes)
        return f"{count} stroke{'' if count == 1 else 's'}, {self._share(mask):.1%} painted"

    def _copy_state(self) -> tuple[list[html.Tile], str]:
        """The static copy: the image with the painted area tinted, and how much is painted."""
        mask = self.mask
        summary = self._summary(mask)
        tile = html.Tile(data_uri(*thumbnail_bytes(self.overlay(PX, mask), PX)),
                         alt=f"the image to edit, the painted area tinted: {summary}")
        return [tile], (f"mask painter, {self.width}x{self.height}: {summary} (a static copy: the painter "
                        "itself needs its kernel)")

    def _ipython_display_(self) -> None:
        """The live painter, then its static copy (kept in a saved notebook; hidden while the painter is live)."""
        self._copy.display_beside(self)

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:  # (data, metadata); the text a front end without the widget shows stays true
            bundle[0]["text/plain"] = f"<MaskPainter {self.width}x{self.height}: its painted area is in its static copy>"
        return bundle

    def __repr__(self) -> str:
        return f"<MaskPainter {self.width}x{self.height}: {self._summary(self.mask)}>"


def render_mask(size: tuple[int, int], strokes: list[dict]):
    """Replay the strokes at full resolution: opaque black, transparent where painted (and not erased)."""
    from PIL import Image, ImageDraw

    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    draw = ImageDraw.Draw(mask)  # no blending: a fill replaces the pixel, alpha included
    for stroke in strokes:
        try:  # the trait comes from the browser too: a malformed stroke is skipped, never an error at edit time
            kind, pts = stroke.get("kind", "line"), [(float(x), float(y)) for x, y in stroke.get("points") or ()]
            width = max(1, min(4096, int(round(float(stroke.get("size") or 1)))))
        except (TypeError, ValueError):
            continue
        if kind not in KINDS or not pts:
            continue
        fill = (0, 0, 0, 255) if stroke.get("erase") else (0, 0, 0, 0)
        if kind in ("rect", "ellipse") and len(pts) >= 2:
            (xa, ya), (xb, yb) = pts[0], pts[1]
            box = (min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))
            (draw.rectangle if kind == "rect" else draw.ellipse)(box, fill=fill)
            continue
        r = width / 2
        if len(pts) > 1:
            draw.line(pts, fill=fill, width=width)
        for x, y in pts:  # a disc at every point: round ends and joints, exactly as the browser draws them
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    return mask
