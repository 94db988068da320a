"""Limits over time: ISO weeks, the term, assignment windows (``[[assignments]]`` in gateway.toml), and which
limits apply to a student (their own override > their hub groups' > the default). Times are UTC.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Assignment", "assignment_at", "check_windows", "most_generous", "parse_assignments", "period_keys", "week_of",
           "week_start"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ASSIGNMENT_KEYS = ("name", "start", "end", "images")


@dataclass(frozen=True)
class Assignment:
    """An assignment window: while it is open, each student may use ``images`` more for it."""

    name: str
    start: float  # epoch seconds, UTC
    end: float
    images: int

    def open_at(self, t: float) -> bool:
        return self.start <= t < self.end


def week_of(t: float) -> str:
    """The ISO week of epoch time ``t``: ``2026-W49``."""
    year, week, _ = dt.datetime.fromtimestamp(t, dt.timezone.utc).isocalendar()
    return f"{year}-W{week:02d}"


def week_start(t: float) -> float:
    """Monday 00:00 UTC of the ISO week of ``t``."""
    g = time.gmtime(t)
    return calendar.timegm((g.tm_year, g.tm_mon, g.tm_mday, 0, 0, 0)) - g.tm_wday * 86400.0


def period_keys(t: float, assignment: Assignment | None) -> dict[str, str]:
    """The ``gateway_periods`` rows a request at ``t`` counts in: week, total and (if open) its assignment."""
    keys = {"week": f"week:{week_of(t)}", "total": "total"}
    if assignment is not None:
        keys["assignment"] = f"assignment:{assignment.name}"
    return keys


def assignment_at(assignments: tuple[Assignment, ...], t: float) -> Assignment | None:
    """The assignment whose window is open at ``t`` (windows never overlap), or None."""
    return next((a for a in assignments if a.open_at(t)), None)


def most_generous(tables: list[dict[str, int]]) -> dict[str, int]:
    """Per key, the largest value among the groups' tables that set it (for a student in several groups)."""
    out: dict[str, int] = {}
    for table in tables:
        for key, value in table.items():
            out[key] = max(out[key], value) if key in out else value
    return out


def _epoch(value: Any, where: str, error) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)  # times are UTC
        return value.timestamp()
    raise error(f"{where} must be a date and time, e.g. 2027-02-01T09:00:00Z (UTC), got {value!r}")


def parse_assignments(items: Any, error) -> tuple[Assignment, ...]:
    """``[[assignments]]`` tables, checked: names, windows (start < end, no overlap), budgets."""
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise error("assignments must be [[assignments]] tables (name, start, end, images)")
    found: list[Assignment] = []
    for i, item in enumerate(items):
        where = f"assignments[{i}]"
        unknown = sorted(set(item) - set(_ASSIGNMENT_KEYS))
        missing = [key for key in _ASSIGNMENT_KEYS if key not in item]
        if unknown or missing:
            raise error(f"{where}: " + "; ".join(
                ([f"unknown key(s) {', '.join(unknown)}"] if unknown else [])
                + ([f"missing {', '.join(missing)}"] if missing else [])) + f"; known: {', '.join(_ASSIGNMENT_KEYS)}")
        name = item["name"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise error(f"{where}.name must be 1-64 letters, digits and . _ - , got {name!r}")
        images = item["images"]
        if isinstance(images, bool) or not isinstance(images, int) or images < 0:
            raise error(f"{where}.images must be a whole number >= 0, got {images!r}")
        start, end = _epoch(item["start"], f"{where}.start", error), _epoch(item["end"], f"{where}.end", error)
        if not start < end:
            raise error(f"{where} ({name}): end must be after start")
        found.append(Assignment(name, start, end, images))
    check_windows(found, error)
    return tuple(found)


def check_windows(found: list[Assignment], error) -> None:
    names = [a.name for a in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise error(f"assignments: the name(s) {', '.join(twice)} appear more than once")
    ordered = sorted(found, key=lambda a: a.start)
    for first, second in zip(ordered, ordered[1:]):
        if second.start < first.end:
            raise error(f"assignments {first.name} and {second.name} overlap: a request counts against one "
                        "assignment, so their windows must not overlap")
