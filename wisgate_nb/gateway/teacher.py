"""The teacher's routes beyond today's table: the CSV export, sums over a range, and the management buttons.

    GET  /admin/usage.csv?from=YYYY-MM-DD&to=YYYY-MM-DD   one row per request (UTC days, both included)
    POST /admin/students/{name}/reset|block|unblock|remove

A POST from the page (signed in with the admin cookie) must carry the page's CSRF token, which is tied to that
cookie; a POST with ``Authorization: Bearer <admin token>`` (curl, scripts) needs none. The page's form gets
a redirect back to ``/admin/`` with what happened; a script gets JSON.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from . import manage, page, reports
from .auth import ADMIN_COOKIE, AuthError

__all__ = ["admin_page", "csrf_token", "range_sums", "routes"]


def csrf_token(session: str | None) -> str | None:
    """The token the page's forms carry: derived from the admin session cookie (no cookie: no forms)."""
    if not session:
        return None
    return hmac.new(session.encode(), b"wisgate-nb gateway csrf", hashlib.sha256).hexdigest()


def _session(request: Request) -> str | None:
    """The browser's sign-in: the hub's OAuth cookie (hub mode), else the standalone admin cookie."""
    signin = request.app.state.gateway.auth.signin
    hub = request.cookies.get(signin.cookie_name) if signin is not None else None
    return hub or request.cookies.get(ADMIN_COOKIE)


async def admin_page(request: Request, report: dict, roster: list[dict] | str | None = None) -> Response:
    """``GET /admin/?from=&to=&done=``: the page (the caller checked the teacher and made today's report)."""
    today, done = report["day"], request.query_params.get("done")
    try:
        start, end = _range(request)
    except ValueError as exc:
        start, end, done = None, None, str(exc)
    start, end = start or today, end or today
    rows = await asyncio.to_thread(reports.request_rows, request.app.state.gateway.ledger.engine, start, end,
                                   limit=page.RANGE_ROWS, newest_first=True)
    html = page.page(report, rows, csrf=csrf_token(_session(request)), done=done, start=start, end=end,
                     hub=request.app.state.gateway.settings.hub is not None, roster=roster)
    return HTMLResponse(html, headers=page.HEADERS)


def _bad(message: str) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_value"}}
    return JSONResponse(body, status_code=400)


def _range(request: Request) -> tuple[str | None, str | None]:
    return reports.day_range(request.query_params.get("from"), request.query_params.get("to"))


async def range_sums(request: Request) -> Response:
    """``GET /admin/usage?from=&to=&by=`` (the caller checked the teacher)."""
    try:
        start, end = _range(request)
        by = request.query_params.get("by") or "student"
        rows = await asyncio.to_thread(reports.sums, request.app.state.gateway.ledger.engine, start, end, by)
    except ValueError as exc:
        return _bad(str(exc))
    return JSONResponse({"from": start, "to": end, "by": by, "rows": rows})


def routes(require_teacher) -> list[Route]:
    """The routes, with the app's own teacher check (``await require_teacher(request, browser=...)``)."""

    async def usage_csv(request: Request) -> Response:
        await require_teacher(request, browser=True)
        try:
            start, end = _range(request)
        except ValueError as exc:
            return _bad(str(exc))
        name = f"wisgate-usage_{start or 'start'}_{end or 'now'}.csv"
        pieces = reports.csv_text(request.app.state.gateway.ledger.engine, start, end)  # read as it is sent
        return StreamingResponse(pieces, media_type="text/csv; charset=utf-8",
                                 headers={"content-disposition": f'attachment; filename="{name}"',
                                          "cache-control": "no-store"})

    async def student_action(request: Request) -> Response:
        await require_teacher(request, browser=True)
        name, action = request.path_params["name"], request.path_params["action"]
        async with request.form(max_files=0, max_fields=8) as form:
            fields = {key: value for key, value in form.items() if isinstance(value, str)}
        from_page = not request.headers.get("authorization")
        if from_page:
            expected = csrf_token(_session(request))
            if expected is None or not hmac.compare_digest(fields.get("csrf", "").encode(), expected.encode()):
                raise AuthError(403, "csrf_failed", "This form is stale or did not come from the teacher page: "
                                "reload /admin/ and try again.")
        gw = request.app.state.gateway
        try:
            done = await asyncio.to_thread(_act, gw, name, action, fields.get("period") or "day")
        except ValueError as exc:
            if from_page:
                return _back(request, str(exc))
            return _bad(str(exc))
        if from_page:
            return _back(request, done)
        return JSONResponse({"student": name, "action": action, "done": done})

    return [Route("/admin/usage.csv", usage_csv, methods=["GET"]),
            Route("/admin/students/{name}/{action}", student_action, methods=["POST"])]


def _act(gw, name: str, action: str, period: str) -> str:
    if action == "reset":
        return manage.reset(gw.ledger, name, period)
    if action in ("block", "unblock"):
        return manage.block(gw.ledger.engine, name, action == "block")
    if action == "remove":
        if gw.settings.hub is not None:
            raise ValueError("On JupyterHub the hub decides who may use the gateway: remove the user there, "
                             "or block them here.")
        return manage.remove(gw.ledger.engine, name)
    raise ValueError(f"unknown action {action[:40]!r}: one of {', '.join(manage.ACTIONS)}")


def _back(request: Request, message: str) -> Response:
    where = request.url.path.split("/admin/", 1)[0] + "/admin/?" + urlencode({"done": message[:300]})
    return RedirectResponse(where, status_code=303)
