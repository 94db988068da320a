"""Reading a student's request before anything is reserved or sent: its size, its JSON or form, its n.

The gateway checks only what it must know to reserve (``n``) and what is plainly broken (a body
too large, JSON that does not parse, text that is not text: a NUL or a lone surrogate anywhere,
a number in a form that is not written in ASCII digits); everything else is the upstream's to
judge, so its own error messages reach the student unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from ..emulator.text import bad_text, is_text, shown

__all__ = ["BODY_TIMEOUT_S", "BodyDeadline", "BodyTimeout", "Incoming", "RefuseRequest", "check_text", "read_incoming"]

_MAX_PROMPT = 32000
_MAX_TEXT = 100
_NUMBERS = ("n", "output_compression", "partial_images")  # form fields that hold whole numbers
BODY_TIMEOUT_S = 30.0  # a request's body must arrive within this (see BodyDeadline)


class RefuseRequest(Exception):
    """The gateway refuses this request itself (nothing is reserved, nothing is sent upstream)."""

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


@dataclass(frozen=True)
class Incoming:
    """A readable request: the exact bytes to forward and what the ledger records about it."""

    route: str  # generations | edits
    body: bytes
    content_type: str
    n: int
    stream: bool
    model: str | None
    size: str | None
    prompt: str | None

    def meta(self, *, store_prompt: bool) -> dict[str, Any]:
        return {"route": self.route, "model": self.model, "size": self.size, "n": self.n, "stream": self.stream,
                "prompt": self.prompt if store_prompt else None}


async def _read_body(request: Request, max_bytes: int) -> bytes:
    too_big = RefuseRequest(413, f"The request body is larger than this gateway accepts ({max_bytes // 2**20} MB). "
                                 "Send smaller images.", code="request_too_large")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise too_big
            chunks.append(chunk)
    except ClientDisconnect:
        raise RefuseRequest(400, "The request body ended early (the connection closed).") from None
    except BodyTimeout as exc:
        raise RefuseRequest(408, f"The request body did not arrive within {exc.args[0]:g} s.",
                            code="request_timeout") from None
    return b"".join(chunks)


class BodyTimeout(Exception):
    """The body of a request did not arrive in time (raised by the receive of BodyDeadline)."""


class BodyDeadline:
    """ASGI middleware: a request's body must arrive within ``timeout`` s of its headers (slowloris)."""

    def __init__(self, app, timeout: float = BODY_TIMEOUT_S):
        self.app, self.timeout = app, timeout

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        deadline = anyio.current_time() + self.timeout
        done = False

        async def receive_in_time():
            nonlocal done
            if done:  # the body is in: what comes now is the client leaving, whenever it does
                return await receive()
            with anyio.move_on_after(deadline - anyio.current_time()):
                message = await receive()
                done = message["type"] != "http.request" or not message.get("more_body", False)
                return message
            raise BodyTimeout(self.timeout)

        await self.app(scope, receive_in_time, send)


def _bad_text(where: str, top: str) -> RefuseRequest:
    return RefuseRequest(400, f"Invalid '{shown(where)}': its text holds a NUL character or a lone surrogate, "
                         "which is not valid text. Remove it and send again.", code="invalid_value",
                         param=shown(top))


def check_text(fields: dict[str, Any]) -> None:
    """Every key and string in the request must be valid text."""
    found = bad_text(fields)
    if found is not None:
        raise _bad_text(*found)


def _check_numbers(fields: dict[str, Any]) -> None:
    for name in _NUMBERS:
        value = fields.get(name)
        if isinstance(value, str) and not value.isascii():
            raise RefuseRequest(400, f"Invalid '{name}': '{shown(value[:20])}' is not a whole number written "
                                "with the digits 0-9.", code="invalid_value", param=name)


def _text(value: Any, limit: int = _MAX_TEXT) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _n(value: Any, form: bool) -> int:
    if value is None or value == "":
        return 1
    if form and isinstance(value, str) and value.isascii() and value.strip().lstrip("+").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
        raise RefuseRequest(400, f"Invalid 'n': {str(value)[:40]!r}. Expected a whole number from 1 to 10.",
                            code="invalid_value", param="n")
    return value


def _stream(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return value is True


async def _form_fields(request: Request, body: bytes) -> dict[str, Any]:
    """The text fields of a multipart body (the files are parsed past, then closed)."""
    async def once():
        yield body

    fields: dict[str, Any] = {}
    try:
        form = await MultiPartParser(request.headers, once(), max_files=64, max_fields=256).parse()
    except MultiPartException as exc:
        raise RefuseRequest(400, f"Could not parse the multipart body: {exc.message}") from None
    try:
        for key, value in form.multi_items():
            if not isinstance(value, UploadFile):
                fields[key] = value
            elif value.filename is not None and not is_text(value.filename):
                raise _bad_text(f"{key} (its file name)", key)
            elif not is_text(key):
                raise _bad_text(key, key)
    finally:
        await form.close()
    return fields


async def read_incoming(request: Request, route: str, max_bytes: int) -> Incoming:
    """The request's bytes and fields, or RefuseRequest with a clear message."""
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    body = await _read_body(request, max_bytes)
    if kind == "multipart/form-data" and route == "edits":
        fields, form = await _form_fields(request, body), True
    elif kind in ("application/json", "") or kind.endswith("+json"):
        try:
            fields = json.loads(body) if body.strip() else None
        except (ValueError, RecursionError):
            raise RefuseRequest(400, "We could not parse the JSON body of your request: it is not valid JSON.",
                                code="invalid_json") from None
        if not isinstance(fields, dict):
            raise RefuseRequest(400, "Invalid request body: expected a JSON object.", code="invalid_type")
        form = False
    else:
        expected = "JSON or multipart/form-data" if route == "edits" else "JSON (application/json)"
        raise RefuseRequest(400, f"Unsupported content type {kind[:60]!r}: /images/{route} takes {expected}.",
                            code="invalid_content_type")
    check_text(fields)
    if form:
        _check_numbers(fields)
    return Incoming(route, body, content_type, _n(fields.get("n"), form), _stream(fields.get("stream")),
                    _text(fields.get("model")), _text(fields.get("size")), _text(fields.get("prompt"), _MAX_PROMPT))
