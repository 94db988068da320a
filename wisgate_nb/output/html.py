"""Notebook HTML: results, grids, comparison tables, captions, error cards and short texts — built and
escaped here only.

Everything user-supplied (prompts, server messages, tags, ids) is HTML-escaped in this module and
nowhere else; other modules pass plain text. Outputs are static HTML with embedded thumbnails, so
they survive reopening without a kernel, and one image costs tens of kilobytes in a saved notebook.

Colours come from JupyterLab's theme variables (light, dark, Notebook 7). Where a page has none of
them (nbviewer, GitHub, VS Code) they fall back to the host's own text colour, mixed with a hue: the
text reads in any theme, at 4.5:1 or better.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from .thumbnails import THUMB_PX

# -- colours ------------------------------------------------------------------------------------------
FG = "var(--jp-content-font-color1, currentColor)"


def _hue(variable: str, fallback: str) -> str:
    return f"color-mix(in srgb, var({variable}, {fallback}) 55%, {FG})"


_ERROR_HUE = "var(--jp-error-color1, #d32f2f)"
_WARN_HUE = "var(--jp-warn-color0, #e65100)"
COLOURS = {
    "muted": f"color-mix(in srgb, {FG} 72%, transparent)",
    "error": _hue("--jp-error-color1", "#d32f2f"),
    "ok": _hue("--jp-success-color1", "#388e3c"),
    "warn": _hue("--jp-warn-color0", "#e65100"),
}
BORDER = "var(--jp-border-color2, rgba(128, 128, 128, 0.4))"
# A record's status has one tone everywhere: gallery, history table, comparisons, the panel.
STATUS_TONES = {"ok": "ok", "error": "error", "cancelled": "warn", "running": "muted"}

_FAMILY = "font-family:var(--jp-ui-font-family, sans-serif)"
_FONT = f"{_FAMILY};font-size:12px"
_CELL = "text-align:left;vertical-align:top;padding:4px 8px"  # JupyterLab right-aligns table cells
_TEXT_EM = 20  # a table's text cell wraps at this width (an error message would widen the table past the page)
_NOTE = f"color:{COLOURS['muted']};{_FAMILY};font-size:11px;margin:4px 0 6px 0"
GAP = 8
# Under every image: a transparent one (background="transparent") shows on a checkerboard of grey over the page.
CHECKER = "background:repeating-conic-gradient(rgba(128, 128, 128, 0.35) 0 25%, transparent 0 50%) 0 0 / 16px 16px"


def _card(tone: str) -> str:
    hue = _WARN_HUE if tone == "warn" else _ERROR_HUE
    return (f"border:1px solid color-mix(in srgb, {hue} 55%, transparent);"
            f"background:color-mix(in srgb, {hue} 12%, transparent);border-radius:4px;padding:8px;"
            "white-space:pre-wrap;word-break:break-word")


# -- results: images side by side with one caption under all of them -------------------------------------

@dataclass(frozen=True)
class Tile:
    """One image: an embedded thumbnail and an optional link to the full-size file."""

    src: str
    href: str | None = None
    alt: str = ""
    size: tuple[int, int] | None = None  # the embedded image's pixels: it is shown at a known size


@dataclass(frozen=True)
class Result:
    """One request's images (or its error in their place) and the caption that belongs to all of them."""

    images: Sequence[Tile] = ()
    caption: Sequence[str] = ()
    label: str | None = None  # a heading above (the prompt or the settings that differ)
    error: str | None = None
    tone: str = "error"  # of the error: "error", or "warn" for cancelled


def columns_for(count: int) -> int:
    """Images per row: 1, 2, 3, then 2 x 2, then rows of 3."""
    return {1: 1, 2: 2, 4: 2}.get(count, 3)


def display_px(count: int) -> int:
    """The width one of ``count`` images of a result is shown at (the README says the same)."""
    return THUMB_PX if count == 1 else 360 if count in (2, 4) else 256


def result_html(result: Result, px: int) -> str:
    """A figure: the label, the images in rows (or the error), and the caption under them all."""
    cols = columns_for(max(1, len(result.images)))
    width = cols * px + (cols - 1) * GAP
    head = (f'<div style="font-weight:bold;margin:0 0 4px 0;word-break:break-word">{escape(result.label)}</div>'
            if result.label else "")
    if result.error is not None:
        body = f'<div style="{_card(result.tone)}">{escape(result.error)}</div>'
    else:
        body = "".join(_image(tile, px) for tile in result.images)
        body = f'<div style="display:flex;flex-wrap:wrap;gap:{GAP}px">{body}</div>'
    lines = [line for line in result.caption if line]
    caption = "".join(f'<div style="{"" if i == 0 else "color:" + COLOURS["muted"]}">{escape(line)}</div>'
                      for i, line in enumerate(lines))
    return (f'<figure class="wisgate-result" style="margin:0;max-width:{width}px;min-width:120px">{head}{body}'
            f'<figcaption style="margin-top:4px;word-break:break-word">{caption}</figcaption></figure>')


def _image(tile: Tile, px: int) -> str:
    """An image in a box of px x px (never enlarged), at a width the browser knows before it decodes it."""
    if tile.size and min(tile.size) > 0:
        scale = min(1.0, px / max(tile.size))
        size = f"width:{max(1, round(tile.size[0] * scale))}px;height:auto;max-width:100%"
    else:
        size = f"width:{px}px;height:auto;max-width:100%"
    img = (f'<img src="{tile.src}" alt="{escape(tile.alt)}" style="display:block;box-sizing:border-box;{size};'
           f'border:1px solid {BORDER};border-radius:4px;{CHECKER}"/>')
    return f'<a href="{escape(tile.href)}" target="_blank" style="display:block">{img}</a>' if tile.href else img


def _frame(body: str, title: str | None, note: str | None, cls: str = "") -> str:
    head = f'<div style="font-weight:bold;font-size:13px;margin:4px 0">{escape(title)}</div>' if title else ""
    foot = f'<div style="{_NOTE}">{escape(note)}</div>' if note else ""
    klass = escape(f"wisgate-nb {cls}".strip())
    return f'<div class="{klass}" style="{_FONT}">{head}{body}{foot}</div>'


def grid_html(results: Sequence[Result], *, title: str | None = None, note: str | None = None,
              px: int = THUMB_PX) -> str:
    """Results side by side in the order given, wrapping onto new rows on narrow screens."""
    cells = "".join(result_html(r, px) for r in results)
    gap = GAP * 3 if len(results) > 1 else GAP
    return _frame(f'<div class="wisgate-columns" style="display:flex;flex-wrap:wrap;gap:{gap}px '
                  f'{gap}px;align-items:flex-start">{cells}</div>', title, note)


def matrix_html(columns: Sequence[str], rows: Sequence[tuple[str, Sequence[Result | None]]], *,
                title: str | None = None, note: str | None = None, px: int = 256, corner: str = "") -> str:
    """A table with a labelled column per value of one thing and a labelled row per value of another;
    ``corner`` heads the row labels (what they name), so that no header cell is empty."""
    th = "".join(f'<th scope="col" style="{_CELL};max-width:{px * 2}px;word-break:break-word">{escape(c)}</th>'
                 for c in (corner or "settings", *columns))
    body = []
    for label, cells in rows:
        tds = "".join(f'<td style="{_CELL}">{result_html(r, px) if r is not None else ""}</td>' for r in cells)
        body.append(f'<tr style="background:transparent"><th scope="row" style="{_CELL};max-width:200px;'
                    f'word-break:break-word">{escape(label)}</th>{tds}</tr>')
    table = (f'<div style="overflow-x:auto"><table class="wisgate-matrix" style="border-collapse:collapse">'
             f'<tr style="background:transparent">{th}</tr>{"".join(body)}</table></div>')
    return _frame(table, title, note)


def copy_html(cls: str, tiles: Sequence[Tile], text: str, px: int) -> str:
    """The static copy of a live tool (output/static.py): its pictures side by side, then what they show."""
    return _frame(f'<div style="display:flex;flex-wrap:wrap;gap:{GAP}px">{"".join(_image(t, px) for t in tiles)}</div>',
                  None, text, cls)


def error_card_html(title: str, message: str, *, tone: str = "error") -> str:
    return (f'<div class="wisgate-nb" style="{_FONT};{_card(tone)};max-width:{THUMB_PX * 2}px">'
            f'<b style="color:{COLOURS[tone]}">{escape(title)}</b>\n{escape(message)}</div>')


def status_html(text: str) -> str:
    return f'<div class="wisgate-nb" style="{_NOTE}">{escape(text)}</div>'


def table_html(head: Sequence[str], rows: Sequence[tuple[Sequence[str], Sequence[Tile]]], *,
               tones: Sequence[str | None] = (), note: str | None = None, px: int = 128) -> str:
    """A table of text cells, each row ending with thumbnails under the heading "images": rows are (cells, tiles).

    ``tones`` gives each row's status tone (the column headed "status" takes its colour).
    """
    ths = "".join(f'<th scope="col" style="{_CELL};border-bottom:1px solid {BORDER}">{escape(h)}</th>'
                  for h in (*head, "images"))
    status_at = list(head).index("status") if "status" in head else -1
    body = []
    for index, (cells, tiles) in enumerate(rows):
        tone = tones[index] if index < len(tones) else None
        tds = "".join(f'<td style="{_CELL}{_colour(tone) if i == status_at else ""}"><div style="max-width:{_TEXT_EM}em">'
                      f'{escape(c)}</div></td>' for i, c in enumerate(cells))  # long texts wrap, not the page
        imgs = "".join(f'<img src="{escape(t.src)}" alt="{escape(t.alt)}" style="max-height:{px}px;margin-right:3px;'
                       f'{CHECKER}"/>' for t in tiles)
        body.append(f'<tr style="background:transparent">{tds}<td style="{_CELL};white-space:nowrap">{imgs}</td></tr>')
    return _frame(f'<div style="overflow-x:auto"><table style="border-collapse:collapse">'  # scrolls if too wide
                  f'<tr style="background:transparent">{ths}</tr>{"".join(body)}</table></div>', None, note)


def _colour(tone: str | None) -> str:
    return f";color:{COLOURS[tone]}" if tone in COLOURS else ""


def page_html(title: str, body: str) -> str:
    """A standalone HTML page around already-built output (a contact sheet)."""
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title></head><body>{body}</body></html>")


# -- short texts (the panel's and the doctor's HTML, escaped here like everything else) ----------------

_TONES = {
    "b": "font-weight:bold", "muted": f"color:{COLOURS['muted']}", "faint": f"color:{COLOURS['muted']}",
    "error": f"color:{COLOURS['error']}", "ok": f"color:{COLOURS['ok']}", "warn": f"color:{COLOURS['warn']}",
    "code": "font-family:var(--jp-code-font-family, monospace)",
}
Piece = str | tuple[str, str]  # plain text, or (text, tone) with a tone of _TONES


def text_html(*lines: Piece | Sequence[Piece], tone: str | None = None, size: int = 12,
              cls: str | None = None) -> str:
    """Lines of text (each a piece or a list of pieces) in one small block, escaped; line breaks are kept."""
    rendered = []
    for line in lines:
        pieces = [line] if isinstance(line, (str, tuple)) else list(line)
        rendered.append("".join(_piece(p) for p in pieces))
    style = f"{_FAMILY};font-size:{size}px" + (f";{_TONES[tone]}" if tone else "")
    klass = f' class="{escape(cls)}"' if cls else ""
    return f'<div{klass} style="{style}">{"<br>".join(rendered)}</div>'


def _piece(piece: Piece) -> str:
    if isinstance(piece, tuple):
        text, tone = piece
        tag = "code" if tone == "code" else "span"
        return f'<{tag} style="{_TONES[tone]}">{_lines(text)}</{tag}>'
    return _lines(piece)


def _lines(text: str) -> str:
    return "<br>".join(escape(part) for part in str(text).split("\n"))


def pre_html(text: str) -> str:
    """Preformatted text (a dry run's request)."""
    return f'<pre class="wisgate-nb">{escape(text)}</pre>'


def key_value_html(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of labels and findings (the doctor's report), left-aligned."""
    body = "".join(f'<tr style="background:transparent"><th style="{_CELL};white-space:nowrap">{escape(k)}</th>'
                   f'<td style="{_CELL};white-space:pre-wrap">{escape(v)}</td></tr>' for k, v in rows)
    return f'<table class="wisgate-nb" style="{_FONT};border-collapse:collapse">{body}</table>'


def panel_style_html(note_class: str) -> str:
    """The live panel's own style: it hides the panel's reload note (reload.py) and puts a checkerboard under its
    thumbnails."""
    if not note_class.replace("-", "").isalnum():
        raise ValueError(f"not a CSS class of ours: {note_class!r}")
    return f"<style>.{note_class}{{display:none !important}} .wisgate-panel img.widget-image{{{CHECKER}}}</style>"


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


def alt_text(prompt: str, number: int, count: int, settings: str = "") -> str:
    """An image's alt text: its prompt, its number when there are several ("image 2 of 4") and the settings that
    tell it from the images beside it (a comparison's or a sweep's), e.g. ``a fox — image 2 of 4 (size=512x512)``."""
    words = short(prompt, 160) or "an image"
    if count > 1:
        words += f" — image {number} of {count}"
    return f"{words} ({settings})" if settings else words


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
