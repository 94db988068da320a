"""The ASGI app: routes, request ids and the request record, auth, faults, and the two image endpoints."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

from PIL import Image
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import draw, judge
from .faults import EARLY_FAULTS, early_response
from .inputs import BodyLimit, fit, open_inputs, read_edit, read_json
from .limits import LimitLayer
from .params import ApiError, check_moderation, error_body, mask_key, parse_image_params
from .proxy import ProxyLayer, proxy_headers
from .respond import Job, answer
from .state import RECORD_KEY, Emulator, EmulatorConfig, Fault, RecordedRequest

__all__ = ["create_app"]

logger = logging.getLogger("wisgate_nb.emulator")
_T = TypeVar("_T")
_RECORD = RECORD_KEY
_MODELS = (
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "gpt-image-1.5",
    "gpt-image-1",
    "gpt-image-1-mini",
    "dall-e-3",
    "dall-e-2",
)


class _RequestLog:
    """Records every request, stamps the request id on every response, turns crashes into a 500 envelope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        emulator: Emulator = scope["app"].state.emulator
        request_id = f"req_{uuid.uuid4().hex}"
        record = emulator.record(scope["method"], scope["path"], list(scope["headers"]), request_id)
        scope[_RECORD] = record
        started = time.perf_counter()
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                record.status = message["status"]
                headers = MutableHeaders(scope=message)
                proxy_headers(headers, request_id, emulator.config)  # x-request-id, unless a proxy renames it
                headers["openai-version"] = "2020-10-01"
                headers["openai-processing-ms"] = str(round((time.perf_counter() - started) * 1000))
            await send(message)

        emulator.in_flight += 1  # one event loop: no lock needed
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if response_started:
                raise
            logger.exception("demo server error on %s %s", scope["method"], scope["path"])
            body = error_body("The server had an error while processing your request.", type="server_error")
            await JSONResponse(body, status_code=500)(scope, receive, send_with_id)
        finally:
            emulator.in_flight -= 1


def _emulator(request: Request) -> Emulator:
    return request.app.state.emulator


def _config(request: Request) -> EmulatorConfig:
    return _emulator(request).config


def _record(request: Request) -> RecordedRequest:
    return request.scope[_RECORD]


def _base_url(request: Request) -> str:
    """This server's own address (where it listens), never the request's Host header (a client chooses that)."""
    host, port = request.scope.get("server") or ("localhost", None)
    host = f"[{host}]" if ":" in str(host) else host
    return f"{request.scope.get('scheme', 'http')}://{host}" + (f":{port}" if port else "")


def _check_auth(request: Request) -> None:
    """401 unless the configured key (if any) came as ``Authorization: Bearer <key>``."""
    expected = _config(request).require_key
    if expected is None:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    challenge = {"www-authenticate": 'Bearer realm="OpenAI API"'}
    if not token:
        message = (
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
        raise ApiError(401, message, code="invalid_api_key", headers=challenge)
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        message = f"Incorrect API key provided: {mask_key(token)}."  # never the whole key
        raise ApiError(401, message, code="invalid_api_key", headers=challenge)


async def _read_then_fault(request: Request, reading: Awaitable[_T]) -> tuple[_T, Fault | None]:
    """Read the body (so the record has it), then take this request's fault.

    A fault that pre-empts the request is raised as ``_Early``; an unreadable body raises its 400
    only when no such fault came first.
    """
    try:
        body, error = await reading, None
    except ApiError as exc:
        body, error = None, exc
    fault = _emulator(request).next_fault()
    _record(request).fault = None if fault is None else fault.kind
    if fault is not None and fault.kind in EARLY_FAULTS:
        raise _Early(fault)
    if error is not None:
        raise error
    return body, fault  # type: ignore[return-value]


class _Early(Exception):
    """Carries a fault that answers instead of the endpoint (see faults.EARLY_FAULTS)."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault


async def generations(request: Request) -> Response:
    _check_auth(request)
    raw, fault = await _read_then_fault(request, read_json(request, _record(request)))
    params = parse_image_params(raw)
    config = _config(request)
    check_moderation(params.prompt, config.moderation_words)
    size = params.size or (1024, 1024)
    transparent = params.background == "transparent"

    def picture(index: int) -> Image.Image:
        return draw.render(
            params.prompt,
            size,
            quality=params.quality,
            index=index,
            seed=config.seed,
            transparent=transparent,
            noise=config.noise,
            mark=config.demo_mark,
        )

    job = Job(params, "image_generation", size, picture)
    return await answer(
        job, fault, emulator=_emulator(request), record=_record(request), base_url=_base_url(request)
    )


async def edits(request: Request) -> Response:
    _check_auth(request)
    inputs, fault = await _read_then_fault(request, read_edit(request, _record(request)))
    params = parse_image_params(inputs.fields, edit=True, form=inputs.form)
    inputs.check_count()
    images, mask = await asyncio.to_thread(open_inputs, inputs)
    config = _config(request)
    check_moderation(params.prompt, config.moderation_words)
    size = params.size or fit(images[0].size)

    def picture(index: int) -> Image.Image:
        return draw.edit(
            images,
            mask,
            params.prompt,
            quality=params.quality,
            size=size,
            index=index,
            seed=config.seed,
            noise=config.noise,
            mark=config.demo_mark,
        )

    job = Job(params, "image_edit", size, picture, tuple(im.size for im in images))
    return await answer(
        job, fault, emulator=_emulator(request), record=_record(request), base_url=_base_url(request)
    )


async def chat_completions(request: Request) -> Response:
    """The demo judge (judge.py): grades the image of a chat request against its rubric, deterministically."""
    _check_auth(request)
    raw = await read_json(request, _record(request))  # scheduled faults are for the image routes
    return JSONResponse(await asyncio.to_thread(judge.answer, raw))


async def models(request: Request) -> Response:
    _check_auth(request)
    data = [{"id": m, "object": "model", "created": 1745000000, "owned_by": "wisgate-demo"} for m in _MODELS]
    return JSONResponse({"object": "list", "data": data})


async def demo_file(request: Request) -> Response:
    """Images asked for with response_format="url" (no key needed, like a signed URL)."""
    name = request.path_params["name"]
    found = _emulator(request).get_file(name)
    if found is None:
        message = f"The file '{name}' does not exist or has expired."
        return JSONResponse(
            error_body(message, type="invalid_request_error", code="not_found"), status_code=404
        )
    data, media_type = found
    return Response(data, media_type=media_type)


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _on_early_fault(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _Early)
    return early_response(exc.fault)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}."
    else:
        message = str(exc.detail)
    body: dict[str, Any] = error_body(message, type="invalid_request_error")
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A fresh emulator app; its state (config, faults, recorded requests) is ``app.state.emulator``."""
    app = Starlette(
        routes=[
            Route("/v1/images/generations", generations, methods=["POST"]),
            Route("/v1/images/edits", edits, methods=["POST"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/demo-files/{name}", demo_file, methods=["GET"]),
        ],
        # the log sees what the client sees; an account's rate limit is the API's own (behind any proxy)
        middleware=[Middleware(_RequestLog), Middleware(BodyLimit), Middleware(ProxyLayer), Middleware(LimitLayer)],
        exception_handlers={ApiError: _on_api_error, _Early: _on_early_fault, HTTPException: _on_http_error},
    )
    app.state.emulator = Emulator(config)
    return app
