"""What was used: a student's quota (``GET /v1/quota``) and the class report (``/admin/usage``, the CLI table)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, case, func, select

from . import db
from .ledger import day_of, next_reset
from .settings import GatewayConfig, Limits
from .terms import Assignment, period_keys, week_of, week_start

__all__ = ["iso", "quota_view", "text_table", "usage_report", "usage_table"]

_POLICY_CODES = ("moderation_blocked", "content_policy_violation")


def iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def quota_view(engine: Engine, student: str, limits: Limits, class_cap: int | None, now: float,
               assignment: Assignment | None = None) -> dict[str, Any]:
    """The caller's limits, what is used today, this week, this term, in the open assignment and this minute,
    what is left (the least of what every limit leaves), and when it resets."""
    day, minute = day_of(now), int(now // 60)
    keys = period_keys(now, assignment)
    with engine.connect() as conn:
        used = conn.execute(select(db.days.c.images).where(db.days.c.student == student,
                                                           db.days.c.day == day)).scalar() or 0
        row = conn.execute(select(db.state).where(db.state.c.student == student)).one_or_none()
        class_used = conn.execute(select(db.class_days.c.images).where(db.class_days.c.day == day)).scalar() or 0
        periods = dict(conn.execute(select(db.periods.c.period, db.periods.c.images).where(
            db.periods.c.student == student, db.periods.c.period.in_(list(keys.values())))).all())
    in_flight = row.in_flight if row is not None else 0
    this_minute = row.minute_requests if row is not None and row.minute == minute else 0
    week, total = periods.get(keys["week"], 0), periods.get(keys["total"], 0)
    in_assignment = periods.get(keys.get("assignment", ""), 0)
    class_left = None if class_cap is None else max(0, class_cap - class_used)
    lefts = [_left(limits.images_per_day, used), _left(limits.images_per_week, week),
             _left(limits.images_total, total), class_left,
             _left(assignment.images, in_assignment) if assignment else None]
    left = min((x for x in lefts if x is not None), default=None)
    return {
        "student": student,
        "day": day,
        "resets_at": iso(next_reset(now)),
        "blocked": bool(row is not None and row.blocked),
        "limits": limits.as_dict(),
        "used": {"images_today": used, "requests_this_minute": this_minute, "in_flight": in_flight},
        "remaining": {"images_today": left},  # what every limit together still allows
        "week": {"week": week_of(now), "used": week, "limit": limits.images_per_week,
                 "remaining": _left(limits.images_per_week, week), "resets_at": iso(week_start(now) + 7 * 86400)},
        "term": {"used": total, "limit": limits.images_total, "remaining": _left(limits.images_total, total)},
        "assignment": None if assignment is None else {
            "name": assignment.name, "ends_at": iso(assignment.end), "limit": assignment.images,
            "used": in_assignment, "remaining": _left(assignment.images, in_assignment)},
        "class": {"images_per_day": class_cap, "used": class_used, "remaining": class_left},
    }


def _left(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(0, limit - used)


def usage_report(engine: Engine, config: GatewayConfig, now: float, *, day: str | None = None) -> dict[str, Any]:
    """Per student: images used and their limit, requests, refusals, moderation blocks, errors, last request."""
    day = day or day_of(now)
    r = db.requests.c
    counted = r.outcome.not_in(("invalid",))

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    with engine.connect() as conn:
        known = set(conn.execute(select(db.students.c.name)).scalars())
        images = dict(conn.execute(select(db.days.c.student, db.days.c.images).where(db.days.c.day == day)).all())
        class_used = conn.execute(select(db.class_days.c.images).where(db.class_days.c.day == day)).scalar() or 0
        p = db.periods.c
        weeks = dict(conn.execute(select(p.student, p.images).where(p.period == f"week:{week_of(now)}")).all())
        terms = dict(conn.execute(select(p.student, p.images).where(p.period == "total")).all())
        blocked = set(conn.execute(select(db.state.c.student).where(db.state.c.blocked)).scalars())
        groups = dict(conn.execute(select(db.state.c.student, db.state.c.groups).where(db.state.c.groups != "")).all())
        rows = conn.execute(
            select(r.student, count(counted).label("requests"), count(r.outcome == "ok").label("ok"),
                   count(r.outcome == "refused").label("refusals"),
                   count(r.error_code.in_(_POLICY_CODES)).label("blocked"),
                   count(r.outcome.in_(("error", "invalid", "expired"))).label("errors"),
                   count(r.outcome == "reserved").label("in_flight"),
                   func.coalesce(func.sum(r.total_tokens), 0).label("tokens"),
                   func.max(r.started_at).label("last"))
            .where(r.day == day).group_by(r.student)).all()
    by_name = {row.student: row for row in rows}
    students = []
    for name in sorted(known | set(images) | set(by_name) | blocked):
        row = by_name.get(name)
        limits = config.limits_for(name, tuple((groups.get(name) or "").splitlines()))  # as at their last request
        students.append({
            "student": name,
            "images_today": images.get(name, 0),
            "images_per_day": limits.images_per_day,
            "requests_today": int(row.requests) if row else 0,
            "ok_today": int(row.ok) if row else 0,
            "refusals_today": int(row.refusals) if row else 0,
            "moderation_blocks_today": int(row.blocked) if row else 0,
            "errors_today": int(row.errors) if row else 0,
            "in_flight": int(row.in_flight) if row else 0,
            "tokens_today": int(row.tokens) if row else 0,
            "last_request_at": iso(row.last) if row else None,
            "registered": name in known,
            "blocked": name in blocked,
            "images_this_week": weeks.get(name, 0),
            "images_per_week": limits.images_per_week,
            "images_total": terms.get(name, 0),
            "images_total_limit": limits.images_total,
        })
    return {
        "day": day,
        "resets_at": iso(next_reset(now)),
        "class": {"images_today": class_used, "images_per_day": config.class_images_per_day},
        "quota": config.quota.as_dict(),
        "assignments": [{"name": a.name, "start": iso(a.start), "end": iso(a.end), "images": a.images,
                         "open": a.open_at(now)} for a in config.assignments],
        "students": students,
    }


def _limit_text(value: int | None) -> str:
    return "no limit" if value is None else str(value)


def usage_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table (``wisgate-nb gateway usage``)."""
    header = ("student", "images", "limit", "requests", "refused", "blocked", "errors", "last request (UTC)")
    lines = [[s["student"], str(s["images_today"]), _limit_text(s["images_per_day"]), str(s["requests_today"]),
              str(s["refusals_today"]), str(s["moderation_blocks_today"]), str(s["errors_today"]),
              (s["last_request_at"] or "-").replace("T", " ").rstrip("Z")] for s in report["students"]]
    klass = report["class"]
    out = [f"{report['day']} (resets {report['resets_at'].replace('T', ' ').rstrip('Z')} UTC); class: "
           f"{klass['images_today']} images of {_limit_text(klass['images_per_day'])}", *text_table(header, lines)]
    return "\n".join(out if lines else [*out, "(no students yet: wisgate-nb gateway add-student NAME)"])


def text_table(header: tuple[str, ...], lines: list[list[str]]) -> list[str]:
    """A header, a rule and the lines, in columns as wide as their widest cell."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]

    def fmt(cells) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()

    return [fmt(header), fmt("-" * w for w in widths), *(fmt(line) for line in lines)]
