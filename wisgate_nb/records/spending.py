"""What a session has used: images, tokens and estimated cost. Plain arithmetic, no pandas.

The budget checks (``max_images``, ``max_cost``) run on every request, so they must stay cheap: the
history keeps running ``Sums`` (per model, succeeded or not, reused or not), added to as records
arrive, and a total is read from them in time that does not grow with the history.
"""

from __future__ import annotations

from collections.abc import Iterable

USAGE_KEYS = ("model", "profile", "tags", "day", "status", "source", "size", "quality", "session", "template")


def price_of(prices: dict | None, model: str) -> dict | None:
    """A model's entry in a price table (``per_image`` and/or ``per_1k_tokens``), or the ``*`` entry."""
    return (prices.get(model) or prices.get("*")) if prices else None


class Sums:
    """Running sums behind ``totals()``: requests, images and tokens by (model, succeeded, reused)."""

    def __init__(self) -> None:
        self._by: dict[tuple[str, bool, bool], list[int]] = {}

    def add(self, model: str, ok: bool, reused: bool, images: int, tokens: int, count: int = 1) -> None:
        """Add ``count`` requests with these images and tokens in all (one record, or a group of them)."""
        sums = self._by.setdefault((model, bool(ok), bool(reused)), [0, 0, 0])
        sums[0] += count
        sums[1] += images
        sums[2] += tokens

    def add_record(self, record) -> None:
        self.add(record.model, record.status == "ok", record.reused, record.images or 0, record.total_tokens or 0)

    def totals(self, prices: dict | None = None) -> dict:
        """Requests, successes, images, reused images, tokens and (with prices) estimated cost."""
        out = {"requests": 0, "ok": 0, "images": 0, "reused_images": 0, "total_tokens": 0}
        cost = 0.0
        for (model, ok, reused), (count, images, tokens) in self._by.items():
            out["requests"] += count
            out["ok"] += count if ok else 0
            out["reused_images" if reused else "images"] += images
            out["total_tokens"] += 0 if reused else tokens
            entry = price_of(prices, model) if ok and not reused else None
            if entry:
                cost += float(entry.get("per_image", 0.0)) * images + float(entry.get("per_1k_tokens", 0.0)) * tokens / 1000
        out["cost"] = round(cost, 6) if prices else None
        return out


def totals(records: Iterable, prices: dict | None = None) -> dict:
    """The totals of some records (a History keeps its own running ``Sums``)."""
    sums = Sums()
    for record in records:
        sums.add_record(record)
    return sums.totals(prices)
