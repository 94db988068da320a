"""What a session has used: images, tokens and estimated cost. Plain arithmetic, no pandas.

The budget checks (``max_images``, ``max_cost``) run on every request, so they must stay cheap.
"""

from __future__ import annotations

from collections.abc import Sequence

USAGE_KEYS = ("model", "profile", "tags", "day", "status", "source", "size", "quality", "session", "template")


def record_cost(record, prices: dict | None) -> float | None:
    """Estimated cost of one record from a price table, or None without one.

    A model's entry may give ``per_image`` and/or ``per_1k_tokens``; reused results cost nothing.
    """
    if not prices or record.reused or record.status != "ok":
        return 0.0 if prices else None
    entry = prices.get(record.model) or prices.get("*")
    if not entry:
        return None
    cost = float(entry.get("per_image", 0.0)) * record.images
    if record.total_tokens:
        cost += float(entry.get("per_1k_tokens", 0.0)) * record.total_tokens / 1000
    return cost


def spent_images(record) -> int:
    """Images that cost something (a result reused from the history costs nothing)."""
    return 0 if record.reused else record.images


def totals(records: Sequence, prices: dict | None = None) -> dict:
    """Requests, successes, images, reused images, tokens and (with prices) estimated cost."""
    costs = [record_cost(r, prices) for r in records]
    known = [c for c in costs if c is not None]
    return {
        "requests": len(records),
        "ok": sum(r.status == "ok" for r in records),
        "images": sum(spent_images(r) for r in records),
        "reused_images": sum(r.images for r in records if r.reused),
        "total_tokens": sum((r.total_tokens or 0) for r in records if not r.reused),
        "cost": round(sum(known), 6) if prices else None,
    }


def usage_row(record, prices: dict | None) -> dict:
    """The values one record adds to a usage table, by every key it can be grouped by."""
    return {
        "model": record.model, "profile": record.profile or "", "status": record.status, "source": record.source,
        "size": record.size or "", "quality": record.quality or "", "session": record.session,
        "day": record.started_at[:10], "template": (record.template or {}).get("name") or "",
        "requests": 1, "images": spent_images(record), "reused": int(record.reused),
        "total_tokens": 0 if record.reused else (record.total_tokens or 0), "cost": record_cost(record, prices),
    }
