"""Reports over any range of days (UTC): one row per request (the CSV export), or sums by student, day or
assignment (``GET /admin/usage?from=&to=&by=``, ``wisgate-nb gateway usage --by``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, case, func, select

from . import db
from .quotas import iso

__all__ = ["BY", "CSV_COLUMNS", "csv_text", "day_range", "request_rows", "sums"]

BY = ("student", "day", "assignment")
CSV_COLUMNS = ("time", "student", "route", "model", "size", "n", "images", "status", "outcome", "tokens", "latency_s",
               "request_id", "assignment", "prompt")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORMULA = "=+-@\t\r"  # a cell starting with one of these would run in a spreadsheet: quoted with '
_PIECE = 5000  # rows per piece of the CSV  # a spreadsheet would run a cell starting so: quoted with '


def day_range(start: str | None, end: str | None) -> tuple[str | None, str | None]:
    """Checked ``from`` / ``to`` days (YYYY-MM-DD, both included; None: open)."""
    for name, value in (("from", start), ("to", end)):
        if value not in (None, "") and not _DAY.match(value):
            raise ValueError(f"'{name}' must be a day as YYYY-MM-DD (UTC), got {value[:40]!r}")
    start, end = start or None, end or None
    if start and end and start > end:
        raise ValueError(f"'from' ({start}) is after 'to' ({end})")
    return start, end


def _where(start: str | None, end: str | None) -> list:
    r = db.requests.c
    return [*([r.day >= start] if start else []), *([r.day <= end] if end else [])]


def request_rows(engine: Engine, start: str | None, end: str | None, *, limit: int | None = None,
                 newest_first: bool = False) -> list[dict[str, Any]]:
    """The requests of the range, as the CSV has them (oldest first unless ``newest_first``)."""
    r = db.requests.c
    query = (select(r.started_at, r.student, r.route, r.model, r.size, r.n, r.images, r.status, r.outcome,
                    r.total_tokens, r.latency_ms, r.request_id, r.assignment, r.prompt, r.error)
             .where(*_where(start, end))
             .order_by(r.started_at.desc() if newest_first else r.started_at).limit(limit))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"time": iso(row.started_at), "student": row.student, "route": row.route, "model": row.model,
             "size": row.size, "n": row.n, "images": row.images, "status": row.status, "outcome": row.outcome,
             "tokens": row.total_tokens, "latency_s": None if row.latency_ms is None else round(row.latency_ms / 1000, 3),
             "request_id": row.request_id, "assignment": row.assignment, "prompt": row.prompt, "error": row.error}
            for row in rows]


def _csv_row(row) -> tuple:
    (started, student, route, model, size, n, images, status, outcome, tokens, latency_ms, request_id, assignment,
     prompt) = row
    return (iso(started), _safe(student), route, _safe(model), _safe(size), n, images, status, outcome, tokens,
            None if latency_ms is None else round(latency_ms / 1000, 3), _safe(request_id), assignment,
            _safe(prompt))


def _safe(value: str | None) -> str | None:
    return "'" + value if value and value[0] in _FORMULA else value


def csv_text(engine: Engine, start: str | None, end: str | None) -> Iterator[str]:
    """The range's requests as CSV, oldest first, in pieces of a few thousand rows, read as they are written
    (text that a spreadsheet would run as a formula is quoted with ')."""
    r = db.requests.c
    query = (select(r.started_at, r.student, r.route, r.model, r.size, r.n, r.images, r.status, r.outcome,
                    r.total_tokens, r.latency_ms, r.request_id, r.assignment, r.prompt)
             .where(*_where(start, end)).order_by(r.started_at))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    with engine.connect() as conn:
        for rows in conn.execution_options(yield_per=_PIECE).execute(query).partitions():
            writer.writerows(map(_csv_row, rows))
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def sums(engine: Engine, start: str | None, end: str | None, by: str = "student") -> list[dict[str, Any]]:
    """Per student, day or assignment: requests, images, refusals, errors, tokens (the range's records)."""
    if by not in BY:
        raise ValueError(f"'by' is one of {', '.join(BY)}, got {str(by)[:40]!r}")
    r = db.requests.c
    key = {"student": r.student, "day": r.day, "assignment": r.assignment}[by]

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    query = (select(key.label("key"), count(r.outcome != "invalid").label("requests"),
                    count(r.outcome == "ok").label("ok"), func.coalesce(func.sum(r.images), 0).label("images"),
                    count(r.outcome == "refused").label("refusals"),
                    count(r.outcome.in_(("error", "invalid", "expired"))).label("errors"),
                    func.coalesce(func.sum(r.total_tokens), 0).label("tokens"),
                    func.count(func.distinct(r.student)).label("students"),
                    func.min(r.started_at).label("first"), func.max(r.started_at).label("last"))
             .where(*_where(start, end)).group_by(key).order_by(key))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{by: row.key, "requests": int(row.requests), "ok": int(row.ok), "images": int(row.images),
             "refusals": int(row.refusals), "errors": int(row.errors), "tokens": int(row.tokens),
             "students": int(row.students), "first_request_at": iso(row.first), "last_request_at": iso(row.last)}
            for row in rows]
