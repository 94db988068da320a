"""The history's notebook views: a record's tiles, the recent-history table, the contact sheet.

The store supplies the thumbnails (it owns the files); ``output.html`` builds and escapes the markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..output import html
from ..output.thumbnails import THUMB_PX, data_uri, image_size, mime_of, thumbnail_bytes


def thumbnail(history, record, index: int, px: int = THUMB_PX) -> tuple[bytes, str] | None:
    """(bytes, MIME type) of image ``index`` of a record at ``px``: its thumbnail file, or made from the image."""
    thumbs = history.thumb_paths(record)
    full = history.full_paths(record)
    thumb = thumbs[index] if index < len(thumbs) and thumbs[index].exists() else None
    if thumb is not None and px >= THUMB_PX:
        return thumb.read_bytes(), mime_of(thumb)
    if thumb is not None:  # a smaller view embeds a smaller image: notebooks stay small
        return thumbnail_bytes(thumb.read_bytes(), px)
    if index < len(full) and full[index].exists():
        return thumbnail_bytes(full[index].read_bytes(), px)
    return None


def record_result(history, record, px: int = THUMB_PX, caption: Sequence[str] | None = None,
                  label: str | None = None, settings: str = "") -> html.Result:
    """One history record as a result: every image it has (or its error), with one caption.

    ``settings``: what tells it from the results beside it, for its images' alt text."""
    caption = list(caption) if caption is not None else html.record_caption(record)
    if record.status != "ok":
        return html.Result((), caption, label, error=f"{record.status}: {record.error or record.status}",
                           tone=html.STATUS_TONES.get(record.status, "error"))
    tiles, missing = [], []
    paths = history.full_paths(record)
    for i, path in enumerate(paths):
        found = thumbnail(history, record, i, px)
        if found is None:
            missing.append(path.name)
        else:
            tiles.append(html.Tile(data_uri(*found), href=html.link_for(path), size=image_size(found[0]),
                                   alt=html.alt_text(record.prompt, i + 1, len(paths), settings)))
    if missing:
        caption.append(f"image file missing: {', '.join(missing)}")
    if not tiles:
        return html.Result((), caption, label, error=f"image file missing: {', '.join(missing) or 'no image'}")
    return html.Result(tuple(tiles), caption, label)


def history_table(history, records, *, total: int | None = None, px: int = 128, prices: dict | None = None) -> str:
    """The recent history as a table of thumbnails with the main columns."""
    head = ("id", "started", "prompt", "size", "quality", "status", "latency", "images")
    rows, tones = [], []
    for r in records:
        tiles = record_result(history, r, px, caption=()).images[:4]
        status = r.status if r.status == "ok" else f"{r.status}: {r.error or ''}"
        cells = (r.id, r.started_at[:19].replace("T", " "), html.short(r.prompt, 120), r.size or "",
                 r.quality or "", html.short(status, 120), f"{r.latency_s:.1f} s" if r.latency_s else "",
                 str(r.images))
        rows.append((cells, tiles))
        tones.append(html.STATUS_TONES.get(r.status))
    note = f"showing the last {len(records)} of {total} records · " if total and total > len(records) else ""
    used = history.totals(prices)
    note += f"used so far: {used['requests']} requests, {used['images']} images, {used['total_tokens']} tokens"
    if used["cost"] is not None:
        note += f", estimated cost {used['cost']:.2f}"
    return html.table_html(head, rows, tones=tones, note=note, px=px)


def contact_sheet(history, records, *, title: str) -> str:
    """A standalone HTML page with every image's thumbnail embedded and its caption."""
    results = [record_result(history, record, 256) for record in records]
    return html.page_html(title, html.grid_html(results, title=title, note=f"{len(records)} requests", px=256))
