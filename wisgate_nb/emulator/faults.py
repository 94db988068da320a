"""Responses for injected faults: the ways a real image API (or the proxy in front of it) misbehaves.

"Early" faults answer before the request is validated, as a gateway would; "body" faults replace
the JSON of an otherwise normal answer; the "slow*" and "stream_*" kinds bend a normal answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from .draw import NOT_AN_IMAGE, bomb_png
from .params import error_body
from .state import Fault

__all__ = ["BODY_FAULTS", "EARLY_FAULTS", "STREAM_FAULTS", "early_response", "fault_body", "quota_response",
           "trickle"]

EARLY_FAULTS = frozenset({"status", "html", "drop", "bad_json", "huge", "quota"})
BODY_FAULTS = frozenset({"no_images", "truncated_b64", "undecodable", "bomb", "url_404", "url_scheme"})
STREAM_FAULTS = frozenset({"stream_no_complete", "stream_error"})
_MIB = 1024 * 1024
_STATUS_MESSAGES = {
    400: "Bad request (injected by the demo server).",
    401: "Incorrect API key provided (injected by the demo server).",
    403: "You are not allowed to sample from this model (injected by the demo server).",
    404: "The model does not exist (injected by the demo server).",
    429: "Rate limit reached for images per minute. Please try again later (injected by the demo server).",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
    504: "Gateway timeout.",
}
_HTML_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}


def _retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def status_response(fault: Fault) -> JSONResponse:
    """The real error envelope for ``fault.status``, with Retry-After when the fault has one."""
    status = fault.status
    message = fault.message or _STATUS_MESSAGES.get(status, f"Error {status} (injected by the demo server).")
    if status == 429:
        kind, code = "requests", "rate_limit_exceeded"
    elif status >= 500:
        kind, code = "server_error", None
    elif status == 401:
        kind, code = "invalid_request_error", "invalid_api_key"
    else:
        kind, code = "invalid_request_error", None
    headers = {} if fault.retry_after is None else {"retry-after": _retry_after(fault.retry_after)}
    return JSONResponse(error_body(message, type=kind, code=code), status_code=status, headers=headers)


QUOTA_MESSAGE = ("You exceeded your current quota, please check your plan and billing details. For more "
                 "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes.")


def quota_response() -> JSONResponse:
    """A used-up quota as the API words it, with ``x-should-retry: false``: waiting will not help."""
    body = error_body(QUOTA_MESSAGE, type="insufficient_quota", code="insufficient_quota")
    return JSONResponse(body, status_code=429, headers={"x-should-retry": "false"})


class _DroppedResponse(Response):
    """Starts a 200 JSON answer, sends half of it, then returns: the server closes the connection."""

    def __init__(self) -> None:
        super().__init__(b'{"created": 1700000000, "data": [{"b64_json": "' + b"iVBORw0KGgo" * 6000 + b'"}]}')

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.body
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        # No final message: uvicorn logs "ASGI callable returned without completing response"
        # and closes the socket, which the client sees as a connection dropped mid-body.


async def _huge_body(size: int) -> AsyncIterator[bytes]:
    head, tail = b'{"created": 1700000000, "data": [{"b64_json": "', b'"}]}'
    chunk = b"A" * _MIB  # one buffer, sent again and again: the body is never in memory
    remaining = size - len(head) - len(tail)
    yield head
    while remaining > 0:
        part = chunk if remaining >= _MIB else chunk[:remaining]
        remaining -= len(part)
        yield part
    yield tail


def early_response(fault: Fault) -> Response:
    """The answer for a fault that pre-empts the request."""
    if fault.kind == "status":
        return status_response(fault)
    if fault.kind == "quota":
        return quota_response()
    if fault.kind == "html":
        status = 502 if fault.status == 500 else fault.status
        page = _HTML_PAGE.format(status=status, reason=_REASONS.get(status, "Error"))
        return HTMLResponse(page, status_code=status)
    if fault.kind == "drop":
        return _DroppedResponse()
    if fault.kind == "bad_json":
        body = b'{"created": 1700000000, "data": [{"b64_json": "iVBORw0KGgo="},], "usage": {'
        return Response(body, media_type="application/json")
    if fault.kind == "huge":
        size = max(64, int(fault.size_mb * _MIB))
        return StreamingResponse(
            _huge_body(size), media_type="application/json", headers={"content-length": str(size)}
        )
    raise ValueError(f"{fault.kind!r} is not an early fault")


def _truncate_b64(text: str) -> str:
    """Cut in the middle, to a length no base64 decoder accepts (1 mod 4)."""
    return text[: (len(text) // 2) // 4 * 4 + 1]


def fault_body(fault: Fault, body: dict[str, Any], *, base_url: str) -> dict[str, Any]:
    """A 200 body with its images replaced as the fault says; everything else stays plausible."""
    body = dict(body)
    if fault.kind == "no_images":
        body["data"] = []
    elif fault.kind == "truncated_b64":
        body["data"] = [{"b64_json": _truncate_b64(item.get("b64_json", ""))} for item in body["data"]]
    elif fault.kind == "undecodable":
        body["data"] = [{"b64_json": base64.b64encode(NOT_AN_IMAGE).decode()}]
    elif fault.kind == "bomb":
        body["data"] = [{"b64_json": base64.b64encode(bomb_png()).decode()}]
    elif fault.kind == "url_404":
        body["data"] = [{"url": f"{base_url}/v1/demo-files/missing.png"}]
    elif fault.kind == "url_scheme":
        body["data"] = [{"url": "file:///etc/passwd"}]
    else:
        raise ValueError(f"{fault.kind!r} is not a body fault")
    return body


def trickle(body: dict[str, Any], seconds: float, *, pieces: int = 20) -> StreamingResponse:
    """Headers at once, then the JSON body in ``pieces`` spread over ``seconds``."""
    data = json.dumps(body).encode()
    step = max(1, -(-len(data) // pieces))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), step):
            await asyncio.sleep(seconds / pieces)
            yield data[start : start + step]

    return StreamingResponse(
        chunks(), media_type="application/json", headers={"content-length": str(len(data))}
    )
