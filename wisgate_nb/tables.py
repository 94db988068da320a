"""pandas views of the history (pandas is imported here, on first use, never at package import)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from .history import History, Record

COLUMNS = (
    "id", "started_at", "prompt", "model", "size", "n", "quality", "status", "latency_s", "images",
    "paths", "request_id", "error", "total_tokens", "tags",
    "endpoint", "error_type", "rating", "note", "source", "demo", "reused", "profile", "group",
    "template", "template_version", "revised_prompt", "attempts", "session", "params",
)


def records_frame(records: Sequence[Record], history: History) -> pd.DataFrame:
    rows = []
    for r in records:
        template = r.template or {}
        rows.append({
            "id": r.id, "started_at": r.started_at, "prompt": r.prompt, "model": r.model, "size": r.size,
            "n": r.n, "quality": r.quality, "status": r.status, "latency_s": r.latency_s, "images": r.images,
            "paths": tuple(str(p) for p in history.full_paths(r)), "request_id": r.request_id,
            "error": r.error, "total_tokens": r.total_tokens, "tags": r.tags, "endpoint": r.endpoint,
            "error_type": r.error_type, "rating": r.rating, "note": r.note, "source": r.source,
            "demo": r.demo, "reused": r.reused, "profile": r.profile, "group": r.group,
            "template": template.get("name"), "template_version": template.get("version"),
            "revised_prompt": next((p for p in r.revised_prompts if p), None), "attempts": r.attempts,
            "session": r.session, "params": r.params,
        })
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True, format="ISO8601")
    frame["n"] = frame["n"].astype("int64")
    frame["images"] = frame["images"].astype("int64")
    frame["attempts"] = frame["attempts"].astype("int64")
    frame["latency_s"] = frame["latency_s"].astype("float64")
    for column in ("total_tokens", "rating", "template_version"):
        frame[column] = frame[column].astype("Int64")
    frame["demo"] = frame["demo"].astype(bool)
    frame["reused"] = frame["reused"].astype(bool)
    return frame


def images_frame(records: Sequence[Record], history: History) -> pd.DataFrame:
    rows = []
    for r in records:
        for index, path in enumerate(history.full_paths(r)):
            rows.append({
                "id": r.id, "index": index, "path": str(path), "prompt": r.prompt, "model": r.model,
                "size": r.size, "quality": r.quality, "status": r.status, "rating": r.rating, "tags": r.tags,
                "revised_prompt": r.revised_prompts[index] if index < len(r.revised_prompts) else None,
            })
    columns = ["id", "index", "path", "prompt", "model", "size", "quality", "status", "rating", "tags",
               "revised_prompt"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame["index"] = frame["index"].astype("int64")
    return frame


def record_cost(record: Record, prices: dict | None) -> float | None:
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


def _spent_images(record: Record) -> int:
    return 0 if record.reused else record.images


def totals(records: Sequence[Record], prices: dict | None = None) -> dict:
    costs = [record_cost(r, prices) for r in records]
    known = [c for c in costs if c is not None]
    return {
        "requests": len(records),
        "ok": sum(r.status == "ok" for r in records),
        "images": sum(_spent_images(r) for r in records),
        "reused_images": sum(r.images for r in records if r.reused),
        "total_tokens": sum((r.total_tokens or 0) for r in records if not r.reused),
        "cost": round(sum(known), 6) if prices else None,
    }


def usage_frame(records: Sequence[Record], by: str | Iterable[str], prices: dict | None) -> pd.DataFrame:
    keys = [by] if isinstance(by, str) else list(by)
    allowed = {"model", "profile", "tags", "day", "status", "source", "size", "quality", "session", "template"}
    bad = [k for k in keys if k not in allowed]
    if bad:
        from .errors import ConfigurationError

        raise ConfigurationError(f"usage(by=...) takes {', '.join(sorted(allowed))}, not {', '.join(bad)}")
    rows = []
    for r in records:
        base = {
            "model": r.model, "profile": r.profile or "", "status": r.status, "source": r.source,
            "size": r.size or "", "quality": r.quality or "", "session": r.session,
            "day": r.started_at[:10], "template": (r.template or {}).get("name") or "",
            "requests": 1, "images": _spent_images(r), "reused": int(r.reused),
            "total_tokens": 0 if r.reused else (r.total_tokens or 0),
            "cost": record_cost(r, prices),
        }
        for tag in (r.tags or ("",)) if "tags" in keys else ("",):
            rows.append({**base, "tags": tag})
    columns = [*keys, "requests", "images", "reused", "total_tokens", "cost"]
    frame = pd.DataFrame.from_records(rows, columns=[*allowed, "requests", "images", "reused", "total_tokens",
                                                     "cost"])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    grouped = frame.groupby(keys, dropna=False, sort=True)
    result = grouped[["requests", "images", "reused", "total_tokens"]].sum()
    result["cost"] = grouped["cost"].sum(min_count=1) if prices else float("nan")
    return result.reset_index()
