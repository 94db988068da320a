"""Notebook output: thumbnails, HTML grids, captions and error cards.

Everything user-supplied (prompts, server messages, tags) is HTML-escaped here and nowhere else.
Outputs are static HTML with embedded thumbnails, so they survive reopening without a kernel,
and one 1024x1024 image costs tens of kilobytes in a saved notebook instead of megabytes.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

THUMB_PX = 512
JPEG_QUALITY = 80


def thumbnail_bytes(data, px: int = THUMB_PX) -> tuple[bytes, str]:
    """A small JPEG (or WebP when the image has transparency) of an image (bytes or PIL): (bytes, mime)."""
    from PIL import Image

    if isinstance(data, Image.Image):
        im = data.copy()
    else:
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", (px, px))  # lets JPEG decode at a reduced scale: much faster
            im = im.copy()
    # reducing_gap=1.0: a box reduce by the whole factor, then bilinear for the rest (3-4x faster than 2.0)
    im.thumbnail((px, px), Image.Resampling.BILINEAR, reducing_gap=1.0)
    out = io.BytesIO()
    if im.mode in ("RGBA", "LA", "P") and _has_alpha(im):
        im.convert("RGBA").save(out, "WEBP", quality=JPEG_QUALITY)
        return out.getvalue(), "image/webp"
    im.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), "image/jpeg"


def _has_alpha(im) -> bool:
    if im.mode == "P":
        return "transparency" in im.info
    return im.getchannel("A").getextrema()[0] < 255


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def file_thumbnail_uri(path: str | os.PathLike) -> str:
    """Data URI for a thumbnail file on disk (JPEG or WebP by extension)."""
    path = Path(path)
    mime = "image/webp" if path.suffix == ".webp" else "image/jpeg"
    return data_uri(path.read_bytes(), mime)


@dataclass(frozen=True)
class Tile:
    """One image cell: an embedded thumbnail, caption lines and an optional link to the full file."""

    src: str | None
    caption: Sequence[str] = ()
    href: str | None = None
    alt: str = ""
    error: str | None = None


_GRID = "display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start;font-family:sans-serif;font-size:12px"
_TILE = "max-width:{px}px;margin:0"
_IMG = "max-width:100%;height:auto;border:1px solid #ddd;border-radius:4px"
_CAPTION = "color:#444;margin-top:3px;word-break:break-word"
_ERROR = ("border:1px solid #e0a0a0;background:#fff4f4;color:#800;border-radius:4px;padding:8px;"
          "max-width:{px}px;white-space:pre-wrap")
_NOTE = "color:#666;font-size:11px;font-family:sans-serif;margin:2px 0 6px 0"


def tile_html(tile: Tile, px: int = THUMB_PX) -> str:
    caption = "".join(f"<div>{escape(line)}</div>" for line in tile.caption if line)
    if tile.error is not None:
        body = f'<div style="{_ERROR.format(px=px)}">{escape(tile.error)}</div>'
    elif tile.src is None:
        body = f'<div style="{_ERROR.format(px=px)};border-color:#ccc;background:#f7f7f7;color:#555">…</div>'
    else:
        img = f'<img src="{tile.src}" alt="{escape(tile.alt)}" style="{_IMG}"/>'
        body = f'<a href="{escape(tile.href)}" target="_blank">{img}</a>' if tile.href else img
    return f'<figure style="{_TILE.format(px=px)}">{body}<figcaption style="{_CAPTION}">{caption}</figcaption></figure>'


def grid_html(tiles: Sequence[Tile], *, title: str | None = None, note: str | None = None,
              px: int = THUMB_PX) -> str:
    head = f'<div style="font-weight:bold;font-family:sans-serif;margin:4px 0">{escape(title)}</div>' if title else ""
    foot = f'<div style="{_NOTE}">{escape(note)}</div>' if note else ""
    cells = "".join(tile_html(t, px) for t in tiles)
    return f'<div class="wisgate-nb">{head}<div style="{_GRID}">{cells}</div>{foot}</div>'


def rows_html(header: Sequence[str], rows: Sequence[tuple[str, Sequence[Tile]]], *, title: str | None = None,
              note: str | None = None, px: int = 256) -> str:
    """A table: a row per label (prompt), a column per header (parameter value)."""
    th = "".join(f'<th style="text-align:left;padding:4px">{escape(h)}</th>' for h in ("", *header))
    body = []
    for label, tiles in rows:
        cells = "".join(f'<td style="vertical-align:top;padding:4px">{tile_html(t, px)}</td>' for t in tiles)
        body.append(f'<tr><td style="vertical-align:top;padding:4px;max-width:220px;font-weight:bold">'
                    f"{escape(label)}</td>{cells}</tr>")
    head = f'<div style="font-weight:bold;margin:4px 0">{escape(title)}</div>' if title else ""
    foot = f'<div style="{_NOTE}">{escape(note)}</div>' if note else ""
    return (f'<div class="wisgate-nb" style="font-family:sans-serif;font-size:12px">{head}'
            f'<table style="border-collapse:collapse"><tr>{th}</tr>{"".join(body)}</table>{foot}</div>')


def error_card_html(title: str, message: str, *, px: int = THUMB_PX) -> str:
    return (f'<div class="wisgate-nb" style="{_ERROR.format(px=px * 2)}"><b>{escape(title)}</b>\n'
            f"{escape(message)}</div>")


def status_html(text: str) -> str:
    return f'<div class="wisgate-nb" style="{_NOTE}">{escape(text)}</div>'


def record_tiles(history, record, px: int = THUMB_PX, caption: Sequence[str] | None = None) -> list[Tile]:
    """Tiles for one history record, from its thumbnail files (or an error tile)."""
    caption = list(caption) if caption is not None else record_caption(record)
    if record.status != "ok":
        text = record.error or record.status
        return [Tile(None, caption, error=f"{record.status}: {text}")]
    full = history.full_paths(record)
    thumbs = history.thumb_paths(record)
    tiles = []
    for i, path in enumerate(full):
        thumb = thumbs[i] if i < len(thumbs) and thumbs[i].exists() else None
        if thumb is not None and px >= THUMB_PX:
            src = file_thumbnail_uri(thumb)
        elif thumb is not None:  # a smaller view embeds a smaller image: notebooks stay small
            src = data_uri(*thumbnail_bytes(thumb.read_bytes(), px))
        elif path.exists():
            src = data_uri(*thumbnail_bytes(path.read_bytes(), px))
        else:
            tiles.append(Tile(None, caption, error=f"image file missing: {path.name}"))
            continue
        tiles.append(Tile(src, caption if i == 0 else (), href=link_for(path), alt=record.prompt[:200]))
    return tiles


def record_caption(record) -> list[str]:
    bits = [record.size or "", record.quality or "", f"{record.latency_s:.1f} s" if record.latency_s else ""]
    if record.reused:
        bits.append("reused")
    if record.profile:
        bits.append(f"profile {record.profile}")
    lines = [_short(record.prompt, 160), " · ".join(b for b in bits if b)]
    if record.rating:
        lines.append("★" * record.rating)
    if record.tags:
        lines.append("tags: " + ", ".join(record.tags))
    revised = next((p for p in record.revised_prompts if p), None)
    if revised:
        lines.append("revised: " + _short(revised, 160))
    return lines


def link_for(path: Path) -> str:
    """A link to a full-resolution file: relative to the working directory when possible."""
    try:
        return Path(os.path.relpath(path)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_uri()


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def history_table_html(history, records, *, total: int | None = None, px: int = 128, prices: dict | None = None) -> str:
    """The recent history as a table of thumbnails with the main columns."""
    head = ("id", "started", "prompt", "size", "quality", "status", "latency", "images", "")
    rows = []
    for r in records:
        thumbs = [t for t in record_tiles(history, r, px, caption=()) if t.src][:4]
        imgs = "".join(f'<img src="{t.src}" style="max-height:{px}px;margin-right:3px"/>' for t in thumbs)
        status = r.status if r.status == "ok" else f"{r.status}: {r.error or ''}"
        cells = (r.id, r.started_at[:19].replace("T", " "), _short(r.prompt, 120), r.size or "",
                 r.quality or "", _short(status, 120), f"{r.latency_s:.1f} s" if r.latency_s else "",
                 str(r.images))
        tds = "".join(f'<td style="padding:3px 6px;vertical-align:top">{escape(c)}</td>' for c in cells)
        rows.append(f"<tr>{tds}<td>{imgs}</td></tr>")
    ths = "".join(f'<th style="text-align:left;padding:3px 6px">{h}</th>' for h in head)
    note = f"showing the last {len(records)} of {total} records · " if total and total > len(records) else ""
    used = history.totals(prices)
    note += f"used so far: {used['requests']} requests, {used['images']} images, {used['total_tokens']} tokens"
    if used["cost"] is not None:
        note += f", estimated cost {used['cost']:.2f}"
    foot = f'<div style="{_NOTE}">{escape(note)}</div>' if note else ""
    return (f'<div class="wisgate-nb" style="font-family:sans-serif;font-size:12px"><table>'
            f'<tr>{ths}</tr>{"".join(rows)}</table>{foot}</div>')


def contact_sheet_html(history, records, *, title: str) -> str:
    """A standalone HTML page with every image's thumbnail embedded and its caption."""
    tiles = []
    for record in records:
        for tile in record_tiles(history, record, 256):
            tiles.append(Tile(tile.src, tile.caption or record_caption(record), None, tile.alt, tile.error))
    body = grid_html(tiles, title=title, note=f"{len(records)} requests", px=256)
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title></head><body>{body}</body></html>")
