"""The teacher's page, ``GET /admin/``, and its sign-in form (the other pages are in ``pages``).

Every value that comes from a student or the upstream (names, prompts, models, errors, request
ids) goes through ``html.escape`` here, so a prompt holding markup shows as text.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Any

from .usage import iso

__all__ = ["HEADERS", "login_page", "page"]

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}td.num{text-align:right}.warn{color:#a40000}.muted{color:#777}
td.prompt{max-width:32em;overflow-wrap:anywhere}
figure{display:inline-block;width:260px;margin:0 8px 12px 0;vertical-align:top}
figure img{max-width:256px;max-height:256px;display:block}figcaption{font-size:12px}
"""


_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
# What every page is sent with: no script at all, only its own style and images, forms only to itself, never framed.
HEADERS = {
    "content-security-policy": f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; "
                               "form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def _cell(value: Any, cls: str = "") -> str:
    text = "-" if value is None or value == "" else str(value)
    attr = f' class="{escape(cls)}"' if cls else ""
    return f"<td{attr}>{escape(text)}</td>"


def _time(iso: str | None) -> str | None:
    return None if iso is None else iso.replace("T", " ").rstrip("Z")


def _limit(value: int | None) -> str:
    return "no limit" if value is None else str(value)


def _students(report: dict[str, Any]) -> str:
    head = ("student", "images today", "limit", "requests", "refusals", "moderation blocks", "errors", "in flight",
            "tokens", "last request (UTC)")
    rows = []
    for s in report["students"]:
        over = s["images_per_day"] is not None and s["images_today"] >= s["images_per_day"]
        rows.append("<tr>" + _cell(s["student"]) + _cell(s["images_today"], "num warn" if over else "num")
                    + _cell(_limit(s["images_per_day"]), "num") + _cell(s["requests_today"], "num")
                    + _cell(s["refusals_today"], "num") + _cell(s["moderation_blocks_today"], "num")
                    + _cell(s["errors_today"], "num") + _cell(s["in_flight"], "num") + _cell(s["tokens_today"], "num")
                    + _cell(_time(s["last_request_at"])) + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(head)}" class="muted">No students yet.</td></tr>')
    return _table(head, rows)


def _recent(recent: list[dict[str, Any]]) -> str:
    head = ("time (UTC)", "student", "route", "model", "size", "n", "images", "outcome", "status", "ms",
            "request id", "prompt", "error")
    rows = []
    for r in recent:
        prompt = r["prompt"]
        if prompt is not None and len(prompt) > 300:
            prompt = prompt[:300] + "…"
        rows.append("<tr>" + _cell(_time(r["started_at"])) + _cell(r["student"]) + _cell(r["route"])
                    + _cell(r["model"]) + _cell(r["size"]) + _cell(r["n"], "num") + _cell(r["images"], "num")
                    + _cell(r["outcome"], "warn" if r["outcome"] in ("refused", "error", "expired") else "")
                    + _cell(r["status"], "num")
                    + _cell(None if r["latency_ms"] is None else round(r["latency_ms"]), "num")
                    + _cell(r["request_id"]) + _cell(prompt, "prompt") + _cell(r["error"]) + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(head)}" class="muted">No requests yet.</td></tr>')
    return _table(head, rows)


def _roster(roster: list[dict[str, Any]] | str) -> str:
    """The hub's users (hub mode): who may use the gateway, and who has not started."""
    if isinstance(roster, str):
        return f'<h2>Hub users</h2><p class="warn">{escape(roster)}</p>'
    waiting = sum(1 for u in roster if u["first_request"] is None)
    rows = ["<tr>" + _cell(u["name"]) + _cell("teacher" if u["teacher"] else "") + _cell(u["groups"])
            + _cell(u["images_today"], "num") + _cell(_time(iso(u["first_request"])) or "not started",
                                                     "" if u["first_request"] else "warn") + "</tr>" for u in roster]
    return (f"<h2>Hub users</h2><p>{len(roster)} users on the hub; {waiting} have not sent a request yet.</p>"
            + _table(("user", "role", "groups", "images today", "first request (UTC)"), rows))


def _table(head: tuple[str, ...], rows: list[str]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _document(title: str, body: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def page(report: dict[str, Any], recent: list[dict[str, Any]], roster: list[dict[str, Any]] | str | None = None) -> str:
    """The teacher page: today's usage per student, the class total, the hub's users, the latest requests."""
    klass, quota, config = report["class"], report["quota"], report.get("config", {})
    summary = (f"<p>Day {escape(report['day'])} (UTC), resets {escape(_time(report['resets_at']) or '')} UTC. "
               f"Class: {escape(str(klass['images_today']))} images of {escape(_limit(klass['images_per_day']))}. "
               f"Every student: {escape(_limit(quota['images_per_day']))} images per day, "
               f"{escape(_limit(quota['requests_per_minute']))} requests per minute, "
               f"{escape(_limit(quota['max_concurrent']))} at once.</p>")
    warning = ""
    if config.get("error"):
        warning = (f'<p class="warn">{escape(str(config["path"]))} changed but cannot be used, so the last good '
                   f"limits stay in force: {escape(str(config['error']))}</p>")
    body = (f"<h1>Classroom gateway</h1>{summary}{warning}<h2>Students today</h2>{_students(report)}"
            f"{'' if roster is None else _roster(roster)}<h2>Latest requests</h2>{_recent(recent)}"
            '<p><a href="images">Review</a>: the images students received, and the prompts refused.</p>'
            f'<p class="muted">Limits come from {escape(str(config.get("path", "gateway.toml")))} and are re-read '
            "when it changes. Reload the page to see new requests.</p>")
    return _document("Classroom gateway", body)


def login_page(action: str, message: str | None = None) -> str:
    """The sign-in form for a browser (which cannot send a bearer token)."""
    note = f'<p class="warn">{escape(message)}</p>' if message else ""
    body = (f"<h1>Classroom gateway</h1>{note}<p>Sign in with the teacher's token "
            "(<code>WISGATE_GATEWAY_ADMIN_TOKEN</code>).</p>"
            f'<form method="post" action="{escape(action)}"><input type="password" name="token" '
            'autocomplete="current-password" size="40" autofocus> <button type="submit">Sign in</button></form>')
    return _document("Classroom gateway: sign in", body)
