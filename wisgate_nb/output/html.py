"""Notebook HTML: tiles, grids, captions, error cards and short texts — built and escaped here only.

Everything user-supplied (prompts, server messages, tags, ids) is HTML-escaped in this module and
nowhere else; other modules pass plain text. Outputs are static HTML with embedded thumbnails, so
they survive reopening without a kernel, and one image costs tens of kilobytes in a saved notebook.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from .thumbnails import THUMB_PX


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




def table_html(head: Sequence[str], rows: Sequence[tuple[Sequence[str], Sequence[str]]], *, note: str | None = None,
               px: int = 128) -> str:
    """A table of text cells, each row ending with thumbnails: rows are (cells, image sources)."""
    ths = "".join(f'<th style="text-align:left;padding:3px 6px">{escape(h)}</th>' for h in (*head, ""))
    body = []
    for cells, srcs in rows:
        tds = "".join(f'<td style="padding:3px 6px;vertical-align:top">{escape(c)}</td>' for c in cells)
        imgs = "".join(f'<img src="{escape(src)}" style="max-height:{px}px;margin-right:3px"/>' for src in srcs)
        body.append(f"<tr>{tds}<td>{imgs}</td></tr>")
    foot = f'<div style="{_NOTE}">{escape(note)}</div>' if note else ""
    return (f'<div class="wisgate-nb" style="font-family:sans-serif;font-size:12px"><table>'
            f'<tr>{ths}</tr>{"".join(body)}</table>{foot}</div>')


def page_html(title: str, body: str) -> str:
    """A standalone HTML page around already-built output (a contact sheet)."""
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title></head><body>{body}</body></html>")


# -- short texts (the panel's and the doctor's HTML, escaped here like everything else) ----------------

_TONES = {
    "b": "font-weight:bold", "muted": "color:#666", "faint": "color:#999", "error": "color:#a00000",
    "ok": "color:#2a6e2a", "warn": "color:#8a6d00", "code": "font-family:monospace",
}
Piece = str | tuple[str, str]  # plain text, or (text, tone) with a tone of _TONES


def text_html(*lines: Piece | Sequence[Piece], tone: str | None = None, size: int = 12,
              cls: str | None = None) -> str:
    """Lines of text (each a piece or a list of pieces) in one small block, escaped."""
    rendered = []
    for line in lines:
        pieces = [line] if isinstance(line, (str, tuple)) else list(line)
        rendered.append("".join(_piece(p) for p in pieces))
    style = f"font-family:sans-serif;font-size:{size}px" + (f";{_TONES[tone]}" if tone else "")
    klass = f' class="{escape(cls)}"' if cls else ""
    return f'<div{klass} style="{style}">{"<br>".join(rendered)}</div>'


def _piece(piece: Piece) -> str:
    if isinstance(piece, tuple):
        text, tone = piece
        tag = "code" if tone == "code" else "span"
        return f'<{tag} style="{_TONES[tone]}">{escape(text)}</{tag}>'
    return escape(piece)


def pre_html(text: str) -> str:
    """Preformatted text (a dry run's request)."""
    return f'<pre class="wisgate-nb">{escape(text)}</pre>'


def key_value_html(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of labels and findings (the doctor's report)."""
    body = "".join(f'<tr><td style="padding:2px 8px;font-weight:bold">{escape(k)}</td>'
                   f'<td style="padding:2px 8px">{escape(v)}</td></tr>' for k, v in rows)
    return f'<table class="wisgate-nb" style="font-family:sans-serif;font-size:12px">{body}</table>'


# -- captions and links -------------------------------------------------------------------------------

def record_caption(record) -> list[str]:
    """The caption lines of a history record: prompt, settings, rating, tags, revised prompt."""
    bits = [record.size or "", record.quality or "", f"{record.latency_s:.1f} s" if record.latency_s else ""]
    if record.reused:
        bits.append("reused")
    if record.profile:
        bits.append(f"profile {record.profile}")
    lines = [short(record.prompt, 160), " · ".join(b for b in bits if b)]
    if record.rating:
        lines.append("★" * record.rating)
    if record.tags:
        lines.append("tags: " + ", ".join(record.tags))
    revised = next((p for p in record.revised_prompts if p), None)
    if revised:
        lines.append("revised: " + short(revised, 160))
    return lines


def link_for(path: Path) -> str:
    """A link to a full-resolution file: relative to the working directory when possible."""
    try:
        return Path(os.path.relpath(path)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_uri()


def short(text: str, limit: int) -> str:
    """Text on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
