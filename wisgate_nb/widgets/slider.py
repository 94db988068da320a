"""CompareSlider: two images one over the other with a draggable divider (also moved with the arrow keys).

An anywidget (slider.js, a plain ES module, and slider.css). The browser gets both images at a moderate
size; ``position`` (0-100, synced) says where the divider is, so Python can read and set it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..errors import ConfigurationError
from .painter import PREVIEW_PX, load_pil, preview_uri

HERE = Path(__file__).parent


def default_label(image: Any, fallback: str) -> str:
    from ..history import Generation

    if isinstance(image, Generation):
        prompt = image.prompt if len(image.prompt) <= 40 else image.prompt[:39] + "…"
        return f"{fallback}: {prompt}"
    if isinstance(image, (str, Path)):
        return f"{fallback}: {Path(image).name}"
    return fallback


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

    def __init__(self, a: Any, b: Any, *, labels: tuple[str, str] | None = None, position: float = 50.0,
                 px: int = PREVIEW_PX, **kwargs: Any):
        first, second = load_pil(a), load_pil(b)
        if labels is None:
            labels = (default_label(a, "A"), default_label(b, "B"))
        if len(labels) != 2:
            raise ConfigurationError(f"labels are two texts, one per image; got {len(labels)}")
        width = min(px, max(first.size))  # the shown width: never wider than the preview
        width = round(width * first.size[0] / max(first.size))
        super().__init__(a=preview_uri(first, px), b=preview_uri(second, px), label_a=str(labels[0]),
                         label_b=str(labels[1]), position=position, width_px=width, **kwargs)

    @traitlets.validate("position")
    def _clamp(self, proposal) -> float:
        value = float(proposal["value"])
        if value != value:  # NaN
            raise traitlets.TraitError("position is a number from 0 to 100")
        return min(100.0, max(0.0, value))

    def __repr__(self) -> str:
        return f"<CompareSlider {self.label_a!r} | {self.label_b!r} at {self.position:.0f}%>"
