"""``demo_scene``: what the demo server drew, as it sent it inside the image file, checked.

The demo server writes the record into the file it sends (a PNG text chunk ``demo_scene``, or the
XMP field ``wisgate_nb:demo_scene`` of a JPEG or WebP); the history's stamp keeps it in the image's
provenance. Only the documented shape is kept, and only plain words: whatever else a server
puts there (a key it echoes, markup, megabytes) is left out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import imagemeta

KEY = "demo_scene"
_NAME = re.compile(r"[a-z][a-z ]{0,31}")
_MAX_SUBJECTS, _MAX_WORDS, _MAX_CHARS = 10, 60, 20_000


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and _NAME.fullmatch(value) else None


def _names(value: Any, limit: int) -> list[str]:
    return [v for v in value if _name(v)][:limit] if isinstance(value, list) else []


def _box(value: Any) -> list[int] | None:
    ok = isinstance(value, list) and len(value) == 4 and all(
        isinstance(v, int) and not isinstance(v, bool) and abs(v) < 1_000_000 for v in value)
    return list(value) if ok else None


def clean(value: Any) -> dict | None:
    """The record in its documented shape, or None if ``value`` is not one."""
    if not isinstance(value, dict):
        return None
    subjects = []
    for item in value.get("subjects") if isinstance(value.get("subjects"), list) else []:
        if isinstance(item, dict) and _name(item.get("noun")) and _box(item.get("box")):
            subjects.append({"noun": item["noun"], "colour": _name(item.get("colour")), "box": _box(item["box"])})
    return {"time": _name(value.get("time")), "weather": _name(value.get("weather")),
            "ground": _name(value.get("ground")), "style": _names(value.get("style"), 10),
            "subjects": subjects[:_MAX_SUBJECTS], "words": _names(value.get("words"), _MAX_WORDS),
            "fallback": value.get("fallback") is True}


def served(data: bytes) -> dict | None:
    """The ``demo_scene`` a server wrote into image bytes, checked; None when there is none."""
    kind = imagemeta.kind_of(data)
    text: str | None = None
    if kind == "png":
        text = imagemeta.png_read_text(data, []).get(KEY)
    elif kind in ("jpeg", "webp"):
        packet = imagemeta.jpeg_read_xmp(data) if kind == "jpeg" else imagemeta.webp_read_xmp(data)
        text = imagemeta.xmp_fields(packet).get(KEY) if packet else None
    if not text or len(text) > _MAX_CHARS:
        return None
    try:
        return clean(json.loads(text))
    except ValueError:
        return None
