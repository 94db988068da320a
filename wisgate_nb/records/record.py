"""A record: one request as it ended (succeeded, failed or cancelled), and how ids and times are made.

Records are written by the history store; see ``store.py`` for the layout on disk.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

STATUSES = ("ok", "error", "cancelled")


def new_id() -> str:
    return time.strftime("%H%M%S") + "-" + secrets.token_hex(3)


def new_session_name() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")  # orders requests sent together


@dataclass(frozen=True)
class Record:
    """One request, as it ended."""

    id: str
    session: str
    started_at: str
    prompt: str
    model: str
    status: str
    endpoint: str = "generations"
    size: str | None = None
    n: int = 1
    quality: str | None = None
    params: dict = field(default_factory=dict)
    latency_s: float | None = None
    images: int = 0
    paths: tuple[str, ...] = ()
    thumbs: tuple[str, ...] = ()
    request_id: str | None = None
    error: str | None = None
    error_type: str | None = None
    total_tokens: int | None = None
    usage: dict | None = None
    tags: tuple[str, ...] = ()
    rating: int | None = None
    note: str | None = None
    revised_prompts: tuple[str | None, ...] = ()
    source: str = "api"
    demo: bool = False
    reused: bool = False
    profile: str | None = None
    group: str | None = None
    template: dict | None = None
    inputs: tuple[str, ...] = ()  # sha256 digests (16 hex) of an edit's images, in order; files in inputs/
    mask: str | None = None  # the same for its mask
    attempts: int = 1
    cache_key: str | None = None
    attempt_statuses: str = ""  # one word per attempt, e.g. "429,429,200" ("timeout", "connection", "cancelled")
    request_id_header: str | None = None  # where request_id came from: a header name, or "body"
    stream_fallback: str | None = None  # a stream was asked for, the images came without one: why
    request_kind: str = "image"  # "image", or "grade": a judge's request grading images (its prompt is the rubric)
    safety_identifier: str | None = None  # the end user's id sent for the provider's safety checks

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["kind"] = "record"
        return data

    @classmethod
    def from_json(cls, data: dict) -> Record:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        for name in ("paths", "thumbs", "tags", "revised_prompts", "inputs"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values)


