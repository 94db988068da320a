"""The gateway's ASGI app (Starlette): routes, refusals in the OpenAI error envelope, and the shared state.

Routes (under ``JUPYTERHUB_SERVICE_PREFIX`` when running as a JupyterHub service):

    POST /v1/images/generations, /v1/images/edits   forwarded (JSON, multipart, event streams)
    POST /v1/chat/completions                       the judge that grades images, with allow_judge = true
    GET  /v1/quota                                  the caller's limits, used, remaining, reset time
    GET  /v1/models                                 the models the upstream lists (OpenAI list shape)
    GET  /admin/usage                               teacher: per-student usage (JSON; ?from=&to=&by= sums)
    GET  /admin/usage.csv                           teacher: one row per request (?from=&to=)
    POST /admin/students/{name}/{action}            teacher: reset, block, unblock, remove (see teacher.py)
    GET  /admin/                                    teacher: the same as a page
    GET  /                                          the service root: your quota, how to use it (home)
    GET  /oauth_callback                            JupyterHub's sign-in comes back here (home, oauth)
    GET  /admin/images                              teacher: thumbnails students received (review)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from . import home, judge, quotas, teacher
from .attribution import attribute, identifier_key, student_identifier
from .auth import Authenticator, AuthError, Caller
from .db import connect
from .intake import BODY_TIMEOUT_S, BodyDeadline, BodyTimeout, RefuseRequest, read_incoming
from .lease import Lease
from .ledger import Ledger, Refusal, new_request_id
from .manage import purge_prompts
from .models import ModelList
from .relay import Forward
from .review import FOLDER as REVIEW_FOLDER
from .review import Review
from .roster import Roster, roster_rows
from .settings import ConfigFile, GatewaySettings
from .state import Gateway
from .terms import assignment_at
from .upstream import UpstreamClient, UpstreamError, error_body

__all__ = ["create_app"]

logger = logging.getLogger("wisgate_nb.gateway")
_RESERVE_FACTOR = 2.0  # a reservation lasts this many upstream timeouts (an answer after that still counts)


def _error(status: int, message: str, *, type: str, code: str | None = None, param: str | None = None,
           headers: dict[str, str] | None = None, request_id: str | None = None) -> JSONResponse:
    headers = {"x-request-id": request_id or new_request_id(), **(headers or {})}
    return JSONResponse(error_body(message, type=type, code=code, param=param), status_code=status, headers=headers)


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway


async def _caller(request: Request, *, browser: bool = False) -> Caller:
    if browser:  # the cookies count too: the standalone admin cookie, the hub's OAuth cookie
        return await home.identify_browser(request)
    authorization = request.headers.get("authorization", "")
    return await _gateway(request).auth.identify_at(home.client_address(request), authorization)


def _student(caller: Caller) -> str:
    if caller.name is None:
        raise AuthError(403, "permission_denied", "This is the teacher's admin token: it opens /admin/, but it is "
                        "not a student. Make yourself a student token with: wisgate-nb gateway add-student NAME")
    return caller.name


def refusal_response(refusal: Refusal, student: str, n: int, request_id: str) -> JSONResponse:
    return _error(refusal.status, refusal.message(student, n), type=refusal.error_type, code=refusal.code,
                  headers=refusal.headers(), request_id=request_id)


async def generations(request: Request) -> Response:
    return await _images(request, "generations")


async def edits(request: Request) -> Response:
    return await _images(request, "edits")


async def chat_completions(request: Request) -> Response:
    return await _images(request, judge.ROUTE)


async def _images(request: Request, route: str) -> Response:
    started = time.perf_counter()
    gw = _gateway(request)
    caller = await _caller(request)
    student = _student(caller)
    config = gw.config.get()
    if route == judge.ROUTE and not config.allow_judge:
        return _error(404, judge.JUDGE_OFF, type="invalid_request_error", code="judge_not_allowed")
    try:
        incoming = await read_incoming(request, route, gw.max_body)
    except RefuseRequest as exc:
        rid = new_request_id()
        await asyncio.to_thread(gw.ledger.record, student, {"route": route}, outcome="invalid", status=exc.status,
                                error_code=exc.code, error=exc.message, request_id=rid)
        return _error(exc.status, exc.message, type="invalid_request_error", code=exc.code, param=exc.param,
                      request_id=rid, headers={"connection": "close"} if exc.status == 408 else None)
    await gw.sweep()
    images = 0 if route == judge.ROUTE else incoming.n  # a judge's request is a request, never images
    identifier = student_identifier(gw.identifier_key, student)
    meta = {**incoming.meta(store_prompt=config.store_prompts), "n": images, "safety_id": identifier}
    incoming = replace(incoming, body=attribute(incoming.body, incoming.content_type, identifier))
    assignment = assignment_at(config.assignments, gw.ledger.clock())
    reserved = await asyncio.to_thread(gw.ledger.reserve, student, config.limits_for(student, caller.groups),
                                       config.class_images_per_day, images, meta, gw.ttl, assignment,
                                       caller.groups)
    if isinstance(reserved, Refusal):
        rid = new_request_id()
        message = reserved.message(student, images)
        meta["assignment"] = assignment.name if assignment else None  # what it would have counted against
        await asyncio.to_thread(gw.ledger.record, student, meta, outcome="refused", status=reserved.status,
                                error_code=reserved.code, error=message, request_id=rid)
        logger.info("%s %s refused: %s", student, route, reserved.limit)
        return refusal_response(reserved, student, images, rid)
    headers = {k: v for k, v in request.headers.items() if k in ("content-type", "accept")}
    forward = judge.JudgeForward if route == judge.ROUTE else Forward
    keep = request.app.state.review.keep if config.store_images and forward is Forward else None
    return forward(gw.upstream, incoming, headers, reserved, gw.settle, student=student,  # type: ignore[return-value]
                   started=started, keep=keep)


async def quota(request: Request) -> Response:
    gw = _gateway(request)
    caller = await _caller(request)
    student = _student(caller)
    await gw.sweep()
    config = gw.config.get()
    view = await asyncio.to_thread(quotas.quota_view, gw.ledger.engine, student, config.limits_for(student, caller.groups),
                                   config.class_images_per_day, gw.ledger.clock(),
                                   assignment_at(config.assignments, gw.ledger.clock()))
    return JSONResponse(view)


async def models(request: Request) -> Response:
    await _caller(request)  # any student or the teacher, like /v1/quota
    try:
        return JSONResponse(await request.app.state.models.get())
    except UpstreamError as exc:
        return _error(exc.status, exc.message, type="server_error", code=exc.code)


async def _teacher(request: Request, *, browser: bool = False) -> None:
    if not (await _caller(request, browser=browser)).teacher:
        raise AuthError(403, "permission_denied", "Only the teacher can see this page.")


async def _report(gw: Gateway) -> dict:
    await gw.sweep()
    report = await asyncio.to_thread(quotas.usage_report, gw.ledger.engine, gw.config.get(), gw.ledger.clock())
    report["config"] = {"path": str(gw.config.path), "error": gw.config.error,
                        "loaded_at": quotas.iso(gw.config.loaded_at)}
    return report


async def admin_usage(request: Request) -> Response:
    await _teacher(request)
    if request.query_params.keys() & {"from", "to", "by"}:  # a range: the sums of teacher.range_sums
        return await teacher.range_sums(request)
    return JSONResponse(await _report(_gateway(request)))


async def admin_page(request: Request) -> Response:
    gw = _gateway(request)
    refused = await home.teacher_gate(request)  # sign in (hub OAuth or the token form), or 403
    if refused is not None:
        return refused
    report = await _report(gw)
    roster = request.app.state.roster
    hub_users = None if roster is None else await roster_rows(roster, gw.ledger.engine, report)
    return await teacher.admin_page(request, report, hub_users)


async def _on_auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    headers = {"www-authenticate": 'Bearer realm="wisgate-nb gateway"'} if exc.status == 401 else {}
    kind = {401: "invalid_request_error", 403: "permission_error", 429: "invalid_request_error"}.get(exc.status,
                                                                                                    "server_error")
    return _error(exc.status, exc.message, type=kind, code=exc.code, headers=headers)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path[:200]}): this gateway serves " \
                  "/v1/images/generations, /v1/images/edits, /v1/quota and /v1/models."
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed for {request.url.path[:200]}."
    else:
        message = str(exc.detail)
    return _error(exc.status_code, message, type="invalid_request_error", headers=exc.headers)


async def _on_body_timeout(request: Request, exc: Exception) -> Response:
    return _error(408, "The request body did not arrive in time.", type="invalid_request_error",
                  code="request_timeout", headers={"connection": "close"})


async def _on_crash(request: Request, exc: Exception) -> Response:
    logger.error("gateway error on %s %s: %s", request.method, request.url.path[:200], type(exc).__name__,
                 exc_info=exc)
    return _error(500, "The gateway had an error while handling your request; try again, and tell your teacher "
                  "if it persists.", type="server_error", code="gateway_error")


def create_app(settings: GatewaySettings, *, clock: Callable[[], float] = time.time,
               body_timeout: float = BODY_TIMEOUT_S) -> Starlette:
    """The gateway for ``settings``; ``clock`` (epoch seconds) decides days, minutes and expiry (tests inject it);
    a request's body must arrive within ``body_timeout`` s."""
    if settings.upstream.key is None and not settings.upstream.demo:
        raise RuntimeError("the gateway has no upstream key: set WISGATE_API_KEY (or WISDOM_GATE_KEY) in its "
                           "environment, or WISGATE_DEMO=1 for the embedded demo server")
    if settings.hub is None and settings.admin_token is None:
        logger.warning("no admin token is set (WISGATE_GATEWAY_ADMIN_TOKEN): the teacher page /admin/ and the "
                       "usage report cannot be opened; set it before starting the gateway")
    config = ConfigFile(settings.config_path)
    engine = connect(settings.db_url)
    ledger = Ledger(engine, clock)
    lease = Lease(ledger, config.current.lease_s)
    lease.start()
    gateway = Gateway(settings=settings, config=config, ledger=ledger, auth=Authenticator(settings, engine),
                      upstream=UpstreamClient(settings.upstream, config.current.upstream_timeout),
                      max_body=int(config.current.max_body_mb * 2**20),
                      ttl=config.current.upstream_timeout * _RESERVE_FACTOR, lease=lease,
                      identifier_key=identifier_key(engine))
    if not config.current.store_prompts:  # purged at start too, not only when the file changes
        gateway._purged_for = config.current
        purge_prompts(engine)
    routes = [
        Route("/v1/images/generations", generations, methods=["POST"]),
        Route("/v1/images/edits", edits, methods=["POST"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/quota", quota, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/admin/usage", admin_usage, methods=["GET"]),
        *teacher.routes(_teacher),
        Route("/admin/", admin_page, methods=["GET"]),
        Route("/admin/login", home.admin_login, methods=["POST"]),
        Route("/", home.home, methods=["GET"]),
        Route("/oauth_callback", home.oauth_callback, methods=["GET"]),
        Route("/admin/images", home.review_page, methods=["GET"]),
        Route("/admin/images/{name}", home.review_file, methods=["GET"]),
    ]
    prefix = settings.hub.prefix.rstrip("/") if settings.hub is not None else ""
    app = Starlette(routes=[Mount(prefix, routes=routes)] if prefix else routes,
                    exception_handlers={AuthError: _on_auth_error, HTTPException: _on_http_error,
                                        BodyTimeout: _on_body_timeout, Exception: _on_crash},
                    middleware=[Middleware(BodyDeadline, timeout=body_timeout)], lifespan=_lifespan)
    app.state.gateway = gateway
    app.state.models = ModelList(gateway.upstream)
    app.state.roster = Roster(settings.hub) if settings.hub is not None else None
    app.state.review = Review(settings.config_path.resolve().parent / REVIEW_FOLDER)
    return app


@asynccontextmanager
async def _lifespan(app: Starlette):
    gw: Gateway = app.state.gateway
    gw.lease.run_in_background()
    yield
    await gw.lease.end()
    await gw.upstream.aclose()
    gw.ledger.engine.dispose()
