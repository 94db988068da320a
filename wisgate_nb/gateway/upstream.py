"""The upstream: the real images API with the teacher's key, or the embedded demo server in-process.

One ``httpx.AsyncClient`` per gateway process, no retries (the student's client retries; the
gateway must not multiply them), identity encoding (bytes pass through unchanged). Only an allowlist
of headers travels either way, and what comes back is scrubbed of the key (scrub.py) should the
upstream echo it; a redirect is not followed and not passed on (the student gets a 502).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from ..http.tls import tls_context
from .scrub import KeyScrubber, LogScrubber
from .settings import Upstream

__all__ = ["UpstreamClient", "UpstreamError", "client_headers", "error_body"]

logger = logging.getLogger("wisgate_nb.gateway")
ERROR_BODY_LIMIT = 256 * 1024  # an upstream error body is read this far at most
_TO_CLIENT = ("content-type", "x-request-id", "retry-after", "retry-after-ms", "openai-processing-ms",
              "openai-version", "cache-control")
_FROM_CLIENT = ("content-type", "accept")
# Several small pools rather than one large one: httpcore's pool looks at every connection (and for an idle
# one, at its socket) whenever a request starts or ends, so one pool of 150 busy connections costs more CPU
# than the gateway's own work. POOLS pools of at most 8 keep-alive connections each stay cheap.
POOLS = 32
_LIMITS = httpx.Limits(max_connections=250, max_keepalive_connections=8, keepalive_expiry=30)


def error_body(message: str, *, type: str, code: str | None = None, param: str | None = None) -> dict:
    """The OpenAI error envelope."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class UpstreamError(Exception):
    """The upstream could not be used: what the student gets instead (status, code, message)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _raw(headers: httpx.Headers | Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    if isinstance(headers, httpx.Headers):
        return [(name.lower(), value) for name, value in headers.raw]
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


def client_headers(upstream: httpx.Headers | Mapping[str, str], request_id: str,
                   scrubber: KeyScrubber | None = None) -> list[tuple[bytes, bytes]]:
    """The headers the student receives: the allowlisted ones (scrubbed, as bytes: any encoding passes), plus a
    request id if the upstream sent none."""
    raw = dict(reversed(_raw(upstream)))  # the first of repeated names
    scrub = scrubber.bytes if scrubber is not None else bytes
    out = [(name.encode(), scrub(raw[name.encode()])) for name in _TO_CLIENT if name.encode() in raw]
    if b"x-request-id" not in raw:
        out.append((b"x-request-id", request_id.encode()))
    if b"content-length" in raw and raw.get(b"content-encoding", b"identity") == b"identity":
        out.append((b"content-length", raw[b"content-length"]))
    return out


@dataclass(frozen=True)
class ErrorAnswer:
    """An upstream error as the student gets it."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]
    code: str | None
    message: str | None
    request_id: str


class UpstreamClient:
    """Sends one student request upstream with the teacher's key and hands back the streaming response."""

    def __init__(self, upstream: Upstream, timeout: float, *, transport: httpx.AsyncBaseTransport | None = None):
        """``transport``: where requests go instead of the network (an ASGI app's, in tests)."""
        self.upstream = upstream
        self.scrubber = KeyScrubber(upstream.key.get() if upstream.key is not None else None)
        self._log_scrubber = LogScrubber(self.scrubber)  # httpcore's DEBUG lines show the response headers
        self._log_scrubber.install()
        self.base_url = upstream.base_url.rstrip("/")
        timeouts = httpx.Timeout(timeout, connect=min(10.0, timeout))
        if transport is not None:
            self._pools = [httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=timeouts)]
        elif upstream.demo:  # in-process: no connections to pool
            from ..emulator import EmulatorConfig, create_app
            from ..emulator.transport import StreamingASGITransport

            transport = StreamingASGITransport(create_app(EmulatorConfig()))
            self._pools = [httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=timeouts)]
        else:
            tls = tls_context()  # one for every pool: each would read the CA bundle again (over 1 s for 32)
            self._pools = [httpx.AsyncClient(limits=_LIMITS, follow_redirects=False, timeout=timeouts, verify=tls)
                           for _ in range(POOLS)]
        self._next = itertools.cycle(self._pools)

    def __repr__(self) -> str:
        return f"UpstreamClient({self.base_url!r}, demo={self.upstream.demo})"

    async def aclose(self) -> None:
        self._log_scrubber.remove()
        for pool in self._pools:
            await pool.aclose()

    async def open(self, route: str, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """POST to /images/{route} (or /chat/completions, the judge); the body is not read yet. UpstreamError if it fails."""
        out = {name: headers[name] for name in _FROM_CLIENT if name in headers}
        out["accept-encoding"] = "identity"
        if self.upstream.key is not None:
            out["authorization"] = f"Bearer {self.upstream.key.get()}"
        http = next(self._next)
        path = route if route == "chat/completions" else f"images/{route}"  # the judge's route, or an image route
        request = http.build_request("POST", f"{self.base_url}/{path}", content=body, headers=out)
        try:
            return await http.send(request, stream=True)
        except httpx.TimeoutException:
            raise UpstreamError(504, "upstream_timeout", "The image service did not answer in time; try again, "
                                "or with a smaller size or lower quality.") from None
        except httpx.HTTPError as exc:
            logger.warning("upstream %s unreachable: %s", self.base_url, type(exc).__name__)
            raise UpstreamError(502, "upstream_unreachable", "The gateway could not reach the image service; try "
                                "again in a moment, and tell your teacher if it persists.") from None

    async def get(self, path: str) -> httpx.Response:
        """GET {base_url}{path} with the teacher's key, read whole (``/models``); httpx errors propagate."""
        headers = {"authorization": f"Bearer {self.upstream.key.get()}"} if self.upstream.key is not None else {}
        return await next(self._next).get(f"{self.base_url}{path}", headers=headers, timeout=10.0)

    def request_id(self, response: httpx.Response, default: str) -> str:
        """The upstream's x-request-id (scrubbed, any bytes read as latin-1), else ``default``."""
        raw = dict(reversed(_raw(response.headers))).get(b"x-request-id")
        return self.scrubber.text(raw.decode("latin-1")[:200]) if raw else default

    async def error_answer(self, response: httpx.Response, request_id: str) -> ErrorAnswer:
        """Read an error response (bounded) and decide what the student gets: the same, except a refused key."""
        chunks, size = [], 0
        try:
            async for chunk in response.aiter_raw():
                chunks.append(chunk)
                size += len(chunk)
                if size >= ERROR_BODY_LIMIT:
                    break
        except httpx.HTTPError:
            pass
        finally:
            await response.aclose()
        scrubber = self.scrubber.stream()  # a key cut short at the limit is masked too
        body = scrubber.feed(b"".join(chunks)[:ERROR_BODY_LIMIT]) + scrubber.flush()
        code, message = _code_and_message(body)
        upstream_id = self.request_id(response, request_id)
        if not 400 <= response.status_code <= 599:  # a redirect, or a status no API answers with: not passed on
            logger.error("the upstream answered HTTP %s (request %s); the gateway does not follow it",
                         response.status_code, upstream_id)
            text = (f"The image service answered with HTTP {response.status_code} instead of an answer. This is not "
                    "your fault: tell your teacher.")
            code = "upstream_redirect" if 300 <= response.status_code < 400 else "upstream_bad_status"
            data = json.dumps(error_body(text, type="server_error", code=code)).encode()
            headers = [(b"content-type", b"application/json"), (b"x-request-id", upstream_id.encode("latin-1"))]
            return ErrorAnswer(502, data, headers, code, text, upstream_id)
        if response.status_code in (401, 403):  # the teacher's key was refused: not the student's business
            logger.error("the upstream refused the gateway's API key (HTTP %s, request %s)", response.status_code,
                         upstream_id)
            text = (f"The image service refused the gateway's API key (HTTP {response.status_code}). This is not "
                    "your fault: tell your teacher.")
            data = json.dumps(error_body(text, type="server_error", code="upstream_key_refused")).encode()
            headers = [(b"content-type", b"application/json"), (b"x-request-id", upstream_id.encode("latin-1")),
                       (b"x-should-retry", b"false")]
            return ErrorAnswer(502, data, headers, "upstream_key_refused", text, upstream_id)
        headers = [h for h in client_headers(response.headers, request_id, self.scrubber) if h[0] != b"content-length"]
        return ErrorAnswer(response.status_code, body, headers, code, message, upstream_id)


def _code_and_message(body: bytes) -> tuple[str | None, str | None]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None, None
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        return None, None
    code = err.get("code") or err.get("type")
    message = err.get("message")
    return (str(code)[:64] if code else None), (message[:500] if isinstance(message, str) else None)
