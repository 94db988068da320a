"""Review (``store_images = true``): a thumbnail of every image a student received, for ``/admin/images``.

Thumbnails (at most ``THUMB_PX`` on a side, JPEG) are files ``<request id>-<index>.jpg`` in a folder
beside gateway.toml (``wisgate_review/``, mode 0700; each file 0600). Who, what and when come from the
request's record. Keeping a thumbnail happens after the answer has reached the student, and a failure
(an undecodable image, a full disk) is logged, never the request's failure.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from . import db
from .files import write_private
from .quotas import iso

__all__ = ["FOLDER", "Review", "THUMB_PX"]

logger = logging.getLogger("wisgate_nb.gateway")
FOLDER = "wisgate_review"
THUMB_PX = 256
SHOWN = 200  # the page shows this many images, newest first
_MAX_PIXELS = 64_000_000  # a larger picture is not decoded (a decompression bomb)
_NAME = re.compile(r"^(gw_[0-9a-f]{24})-(\d{1,3})\.jpg$")
_POLICY_CODES = ("moderation_blocked", "content_policy_violation")


def thumbnail(data: bytes) -> bytes:
    """A JPEG of at most THUMB_PX on a side (transparency over white); ValueError if it is not an image."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > _MAX_PIXELS:
                raise ValueError(f"{im.width}x{im.height} is too large to decode")
            im.thumbnail((THUMB_PX, THUMB_PX))
            rgba = im.convert("RGBA")
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not an image: {exc}") from None
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, "JPEG", quality=82)
    return out.getvalue()


class Review:
    """The thumbnails folder of one gateway."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def keep(self, rid: str, images: list[str | None]) -> int:
        """Store a thumbnail of each base64 image of request ``rid``; how many were kept. Never raises."""
        kept = 0
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            for index, b64 in enumerate(images):
                if not isinstance(b64, str):  # a URL answer: nothing to keep
                    continue
                try:
                    small = thumbnail(base64.b64decode(b64, validate=False))
                except (ValueError, binascii.Error) as exc:
                    logger.warning("review: image %d of %s not kept: %s", index, rid, str(exc)[:200])
                    continue
                write_private(self.folder / f"{rid}-{index}.jpg", small)
                kept += 1
        except Exception as exc:  # a full disk, a folder that cannot be made: the student has their image
            logger.warning("review: the thumbnails of %s were not kept: %s", rid, exc)
        return kept

    def path(self, name: str) -> Path | None:
        """The file of a thumbnail named on the page (nothing else: no path leaves the folder)."""
        if not _NAME.match(name):
            return None
        found = self.folder / name
        return found if found.is_file() else None

    def entries(self, engine: Engine, limit: int = SHOWN) -> list[dict[str, Any]]:
        """The kept thumbnails with their student, prompt and time, newest first."""
        try:
            names = [e.name for e in os.scandir(self.folder) if _NAME.match(e.name)]
        except FileNotFoundError:
            return []
        by_rid: dict[str, list[str]] = {}
        for name in names:
            by_rid.setdefault(_NAME.match(name).group(1), []).append(name)  # type: ignore[union-attr]
        r = db.requests.c
        rows = []
        rids = list(by_rid)
        with engine.connect() as conn:
            for start in range(0, len(rids), 500):
                rows += conn.execute(select(r.id, r.student, r.started_at, r.prompt, r.model, r.size)
                                     .where(r.id.in_(rids[start:start + 500]))).all()
        rows.sort(key=lambda row: row.started_at, reverse=True)
        out = []
        for row in rows:
            for name in sorted(by_rid[row.id], key=lambda n: int(_NAME.match(n).group(2))):  # type: ignore[union-attr]
                out.append({"file": name, "student": row.student, "started_at": iso(row.started_at),
                            "prompt": row.prompt, "model": row.model, "size": row.size})
                if len(out) >= limit:
                    return out
        return out


def moderation_refusals(engine: Engine, limit: int = SHOWN) -> list[dict[str, Any]]:
    """The requests the upstream refused for moderation, newest first."""
    r = db.requests.c
    with engine.connect() as conn:
        rows = conn.execute(select(r.student, r.started_at, r.prompt, r.error)
                            .where(r.error_code.in_(_POLICY_CODES)).order_by(r.started_at.desc()).limit(limit)).all()
    return [{**row._asdict(), "started_at": iso(row.started_at)} for row in rows]
