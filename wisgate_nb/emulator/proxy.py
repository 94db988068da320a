"""A proxy in front of the emulated API: what a common OpenAI-compatible proxy (a company gateway, a
router) does to answers, so that clients can be tested against it on loopback.

Each behaviour is a field of EmulatorConfig (``PROXY`` turns on the usual set; ``wisgate-nb emulator
--proxy``):

    request_id_header   the request id under another header name (x-litellm-call-id), or none at all
    codes_as_status     every error envelope's "code" becomes the status as a string ("400", "429", "500")
    retry_after=False   Retry-After and retry-after-ms are stripped
    stream_500          a streamed request is drawn upstream (billed: Emulator.generations counts it), then
                        answered HTTP 500 with a JSON error of about 76 KB that quotes the stream's base64
    cooldown            after a 429 or 5xx from upstream, every image request is refused for that many
                        seconds: 429 "... Try again in N seconds", without Retry-After
    quota_images        once that many images were made: 429 insufficient_quota, x-should-retry: false
"""

from __future__ import annotations

import json
import math

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import quota_response
from .params import error_body
from .state import RECORD_KEY, Emulator, EmulatorConfig

__all__ = ["STREAM_500_BYTES", "ProxyLayer", "proxy_headers"]

STREAM_500_BYTES = 76 * 1024  # the size of the error body the proxy sends for a stream it cannot pass on
_RETRY_HEADERS = ("retry-after", "retry-after-ms")


def proxy_headers(headers: MutableHeaders, request_id: str, config: EmulatorConfig) -> None:
    """The response headers as the proxy sends them: its own id header (or none), no Retry-After if so set."""
    if config.request_id_header:
        headers[config.request_id_header] = request_id
    if not config.retry_after:
        for name in _RETRY_HEADERS:
            del headers[name]


def cooldown_response(seconds_left: float) -> JSONResponse:
    """The proxy's refusal while it cools down after an upstream failure: the wait is only in the words."""
    wait = max(1, math.ceil(seconds_left))
    message = (f"No deployments available for the selected model. Try again in {wait} "
               f"second{'s' if wait != 1 else ''} (the proxy cools down after an upstream failure).")
    return JSONResponse(error_body(message, type=None, code="429"), status_code=429)


def stream_500_body(stream: bytes) -> bytes:
    """The proxy's 500 for a stream it could not pass on: a JSON error that quotes the stream it got."""
    text = stream.decode("utf-8", "replace") or "data: {}\n\n"
    while len(text) < STREAM_500_BYTES:
        text += text
    message = ("APIConnectionError: the upstream answer could not be parsed as JSON (Expecting value: line 1 "
               f"column 1 (char 0)). Received: {text[:STREAM_500_BYTES]}")
    return json.dumps(error_body(message, type=None, code="500")).encode()


def codes_as_status(body: bytes, status: int) -> bytes:
    """An error envelope whose code is replaced by the status as a string; other bodies unchanged."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        doc["error"]["code"] = str(status)
        return json.dumps(doc).encode()
    return body


class ProxyLayer:
    """ASGI middleware between the request log and the emulated API; a no-op unless a proxy field is set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        emulator: Emulator | None = scope["app"].state.emulator if scope["type"] == "http" else None
        if emulator is None or not emulator.config.proxied or "/images/" not in scope["path"]:
            await self.app(scope, receive, send)
            return
        config, record = emulator.config, scope.get(RECORD_KEY)
        refusal = None
        if emulator.cooldown_left() > 0:
            refusal = ("cooldown", cooldown_response(emulator.cooldown_left()))
        elif config.quota_images is not None and emulator.images_generated >= config.quota_images:
            refusal = ("quota", quota_response())
        if refusal is not None:  # answered by the proxy itself: the upstream never sees the request
            if record is not None:
                record.fault = refusal[0]
            await refusal[1](scope, receive, send)
            return
        await self.app(scope, receive, _Bend(send, emulator, record))


class _Bend:
    """The ``send`` of one proxied request: passes messages on, or holds a body to answer differently."""

    def __init__(self, send: Send, emulator: Emulator, record) -> None:
        self.send, self.emulator, self.record = send, emulator, record
        self.config = emulator.config
        self.mode: str | None = None  # "stream" (answer 500 instead) or "error" (rewrite the code)
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            status, kind = message["status"], Headers(raw=message.get("headers", [])).get("content-type", "")
            if (status == 429 or status >= 500) and self.config.cooldown > 0:
                self.emulator.start_cooldown(self.config.cooldown)
            if self.config.stream_500 and status == 200 and kind.startswith("text/event-stream"):
                self.mode = "stream"
            elif self.config.codes_as_status and status >= 400 and "json" in kind:
                self.mode = "error"
            if self.mode is None:
                await self.send(message)
            else:
                self.start = message
            return
        if self.mode is None or message["type"] != "http.response.body":
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        assert self.start is not None
        if self.mode == "stream":
            if self.record is not None:
                self.record.fault = "stream_500"
            await self._answer(500, stream_500_body(b"".join(self.chunks)), b"application/json")
        else:
            await self._answer(self.start["status"], codes_as_status(b"".join(self.chunks), self.start["status"]))

    async def _answer(self, status: int, body: bytes, content_type: bytes | None = None) -> None:
        assert self.start is not None
        dropped = {b"content-length"} | ({b"content-type", b"cache-control"} if content_type else set())
        headers = [(k, v) for k, v in self.start.get("headers", []) if k.lower() not in dropped]
        if content_type:
            headers.append((b"content-type", content_type))
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})
