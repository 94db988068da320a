"""pandas views of the history (pandas is imported here, on first use, never at package import)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from ..errors import ConfigurationError
from .usage import USAGE_KEYS, usage_row

COLUMNS = (
    "id", "started_at", "prompt", "model", "size", "n", "quality", "status", "latency_s", "images",
    "paths", "request_id", "error", "total_tokens", "tags",
    "endpoint", "error_type", "rating", "note", "source", "demo", "reused", "profile", "group",
    "template", "template_version", "revised_prompt", "attempts", "session", "params",
    "attempt_statuses", "request_id_header", "stream_fallback",
)


def records_frame(records: Sequence, history) -> pd.DataFrame:
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
            "attempt_statuses": r.attempt_statuses, "request_id_header": r.request_id_header,
            "stream_fallback": r.stream_fallback,
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


def images_frame(records: Sequence, history) -> pd.DataFrame:
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


def usage_frame(records: Sequence, by: str | Iterable[str], prices: dict | None) -> pd.DataFrame:
    keys = [by] if isinstance(by, str) else list(by)
    bad = [k for k in keys if k not in USAGE_KEYS]
    if bad:
        raise ConfigurationError(f"usage(by=...) takes {', '.join(sorted(USAGE_KEYS))}, not {', '.join(bad)}")
    rows = []
    for r in records:
        base = usage_row(r, prices)
        for tag in (r.tags or ("",)) if "tags" in keys else ("",):
            rows.append({**base, "tags": tag})
    columns = [*keys, "requests", "images", "reused", "total_tokens", "cost"]
    frame = pd.DataFrame.from_records(rows, columns=[*USAGE_KEYS, "requests", "images", "reused", "total_tokens",
                                                     "cost"])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    grouped = frame.groupby(keys, dropna=False, sort=True)
    result = grouped[["requests", "images", "reused", "total_tokens"]].sum()
    result["cost"] = grouped["cost"].sum(min_count=1) if prices else float("nan")
    return result.reset_index()
