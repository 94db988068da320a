"""Forwarding one reserved request and relaying the answer as it arrives, then settling its reservation.

``Forward`` is an ASGI app: it sends the request upstream, passes the status, the allowlisted
headers and every body chunk on as soon as it arrives (a stream of partial images is never held
back), counts the images that reached the student (``*.completed`` events, or ``data`` of a JSON
answer), and settles the reservation exactly once — also when the upstream fails, and when the
student disconnects, which cancels the upstream request. Every byte passes the key scrubber first:
the student, the trackers (and so the database) see only what it lets through.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from .intake import Incoming
from .upstream import UpstreamClient, UpstreamError, client_headers, error_body

__all__ = ["Forward", "JsonTracker", "Outcome", "SseTracker"]

logger = logging.getLogger("wisgate_nb.gateway")
_JSON_TEE_LIMIT = 512 * 2**20  # a JSON answer is kept (to count its images) up to this size
_NO_BODY = (204, 205)  # statuses that cannot carry an answer: not an answer of the images API
_BROKE_OFF = "The image service's answer broke off in the middle; try again."


@dataclass
class Outcome:
    """How a forwarded request ended, for its settlement."""

    outcome: str = "cancelled"  # stays so if the exchange never finished (the student went away)
    images: int = 0
    status: int | None = None
    total_tokens: int | None = None
    request_id: str | None = None
    error_code: str | None = None
    error: str | None = None
    latency_ms: float | None = None


def _tokens(usage: Any) -> int | None:
    if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int):
        return usage["total_tokens"]
    return None


class JsonTracker:
    """Keeps a JSON answer as it passes, to count its images at the end."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self.b64: list[str | None] = []  # the images' b64_json, for the review (store_images)

    def feed(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= _JSON_TEE_LIMIT:
            self._chunks.append(chunk)

    def result(self) -> tuple[int, int | None, str | None]:
        """(images, total_tokens, error) of the whole answer."""
        if self._size > _JSON_TEE_LIMIT:
            return 0, None, "the answer was too large to count its images"
        try:
            doc = json.loads(b"".join(self._chunks))
        except (ValueError, RecursionError):
            return 0, None, "the image service's answer was not valid JSON"
        data = doc.get("data") if isinstance(doc, dict) else None
        images = len(data) if isinstance(data, list) else 0
        self.b64 = [d.get("b64_json") if isinstance(d, dict) else None for d in data] if images else []
        return images, _tokens(doc.get("usage") if isinstance(doc, dict) else None), (
            None if images else "the image service's answer held no images")


class SseTracker:
    """Counts completed images in an event stream as it passes (one event is held at a time, never the stream)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.images = 0
        self.total_tokens: int | None = None
        self.error_code: str | None = None
        self.error: str | None = None
        self.keep_images = False  # collect the completed images' b64_json (store_images)
        self.b64: list[str | None] = []

    def feed(self, chunk: bytes) -> None:
        start = max(0, len(self._buf) - 3)
        self._buf += chunk
        while True:
            end, skip = _event_end(self._buf, start)
            if end < 0:
                return
            self._event(bytes(self._buf[:end]))
            del self._buf[: end + skip]
            start = 0

    def _event(self, block: bytes) -> None:
        name, data = "", []
        for line in block.replace(b"\r\n", b"\n").split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode("utf-8", "replace")
            elif line.startswith(b"data:"):
                data.append(line[5:].strip())
        if not name and data and b'"type"' in data[0][:200]:  # no event: line; peek at the JSON's type
            name = "completed" if b".completed" in data[0][:200] else ("error" if b'"error"' in data[0][:200] else "")
        if not (name.endswith("completed") or name == "error"):
            return  # partial images: passed on, not parsed
        try:
            event = json.loads(b"\n".join(data))
        except (ValueError, RecursionError):
            return
        if not isinstance(event, dict):
            return
        if name == "error" or event.get("type") == "error":
            err = event.get("error") if isinstance(event.get("error"), dict) else event
            self.error_code = str(err.get("code") or err.get("type") or "stream_error")[:64]
            self.error = str(err.get("message") or "an error event in the stream")[:500]
            return
        self.images += 1
        self.total_tokens = _tokens(event.get("usage")) or self.total_tokens
        if self.keep_images:
            self.b64.append(event.get("b64_json"))


def _event_end(buf: bytearray, start: int) -> tuple[int, int]:
    lf, crlf = buf.find(b"\n\n", start), buf.find(b"\r\n\r\n", start)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, 4
    return lf, 2


class _Dropped(Exception):
    """The upstream broke off a JSON answer: the student's connection is dropped too (a clear transport error)."""


class Forward:
    """The rest of one request after its reservation: forward, relay, settle (see the module docstring)."""

    def __init__(self, upstream: UpstreamClient, incoming: Incoming, headers: dict[str, str], rid: str,
                 settle, *, student: str, started: float, keep=None):
        self.upstream, self.incoming, self.headers, self.rid = upstream, incoming, headers, rid
        self._settle, self.student, self.started = settle, student, started  # started: time.perf_counter()
        self.keep = keep  # review.Review.keep when store_images is on: (rid, b64 images) after the answer
        self._settled = False

    async def _settle_once(self, result: Outcome) -> None:
        """Settle before the answer's last bytes, so a student's next request never finds this one in flight."""
        if not self._settled:
            self._settled = True
            result.latency_ms = round((time.perf_counter() - self.started) * 1000, 1)
            with anyio.CancelScope(shield=True):
                await asyncio.to_thread(self._settle, self.rid, result)

    async def __call__(self, scope, receive, send) -> None:
        result = Outcome(request_id=self.rid)
        try:
            async with anyio.create_task_group() as tg:

                async def watch() -> None:  # the body is read: the next message is the student leaving
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tg.cancel_scope.cancel()

                tg.start_soon(watch)
                try:
                    await self._exchange(send, result)
                except OSError:  # the student's connection is gone
                    result.outcome = "cancelled"
                tg.cancel_scope.cancel()
        finally:
            if result.outcome == "cancelled":
                result.error = result.error or "the student disconnected before the answer was complete"
            await self._settle_once(result)
            logger.info("%s %s -> %s %s: %d image(s) in %.0f ms (request %s)", self.student, self.incoming.route,
                        result.status, result.outcome, result.images, result.latency_ms or 0, result.request_id)

    async def _exchange(self, send, result: Outcome) -> None:
        try:
            response = await self.upstream.open(self.incoming.route, self.incoming.body, self.headers)
        except UpstreamError as exc:
            result.outcome, result.status, result.error_code, result.error = "error", exc.status, exc.code, exc.message
            body = json.dumps(error_body(exc.message, type="server_error", code=exc.code)).encode()
            await self._settle_once(result)
            await _send_whole(send, exc.status, body, [(b"content-type", b"application/json"),
                                                       (b"x-request-id", self.rid.encode())])
            return
        if not 200 <= response.status_code <= 299 or response.status_code in _NO_BODY:
            answer = await self.upstream.error_answer(response, self.rid)
            result.status, result.error_code, result.error = answer.status, answer.code, answer.message
            result.request_id = answer.request_id
            result.outcome = "error"
            await self._settle_once(result)
            await _send_whole(send, answer.status, answer.body, answer.headers)
            return
        result.status = response.status_code
        result.request_id = self.upstream.request_id(response, self.rid)
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        tracker: Any = SseTracker() if streaming else JsonTracker()
        tracker.keep_images = self.keep is not None
        headers = client_headers(response.headers, self.rid, self.upstream.scrubber)
        scrubber = self.upstream.scrubber.stream(keep_length=any(name == b"content-length" for name, _ in headers))
        held = b""
        try:
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            async for raw in response.aiter_raw():
                chunk = scrubber.feed(raw)
                tracker.feed(chunk)
                if not streaming:  # a JSON answer's last byte waits for the settlement (see _settle_once)
                    whole = held + chunk
                    chunk, held = whole[:-1], whole[-1:]
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            tail = scrubber.flush()
            tracker.feed(tail)
            if streaming and tail:
                await send({"type": "http.response.body", "body": tail, "more_body": True})
            held += b"" if streaming else tail
        except httpx.HTTPError:
            result.outcome, result.error_code, result.error = "error", "upstream_broke_off", _BROKE_OFF
            result.images = tracker.images if streaming else 0
            await self._settle_once(result)
            if not streaming:
                raise _Dropped() from None
            event = {"type": "error", "error": error_body(_BROKE_OFF, type="server_error")["error"]}
            await send({"type": "http.response.body", "more_body": False,
                        "body": scrubber.flush() + f"\n\nevent: error\ndata: {json.dumps(event)}\n\n".encode()})
            return
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()
        if streaming:
            result.images, result.total_tokens = tracker.images, tracker.total_tokens
            result.error_code, result.error = tracker.error_code, tracker.error
            if not tracker.images and not tracker.error:
                result.error = "the stream ended without a completed image"
        else:
            result.images, result.total_tokens, result.error = tracker.result()
        result.outcome = "ok" if result.images and not result.error_code else "error"
        await self._settle_once(result)
        await send({"type": "http.response.body", "body": held, "more_body": False})
        if self.keep is not None and tracker.b64:  # after the student has it (who may leave now); never raises
            with anyio.CancelScope(shield=True):
                await asyncio.to_thread(self.keep, self.rid, tracker.b64)


async def _send_whole(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
