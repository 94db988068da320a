"""An in-process ASGI transport for httpx that streams the response body as the app sends it.

httpx's own ASGITransport collects the whole body before returning, so in demo mode streamed
partial images would all arrive at the end. Here the app runs in its own task and each body
chunk is handed to the reader as soon as the app sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx

_END = object()


class _QueueStream(httpx.AsyncByteStream):
    def __init__(self, queue: asyncio.Queue, task: asyncio.Task):
        self._queue = queue
        self._task = task

    async def __aiter__(self):
        while True:
            chunk = await self._queue.get()
            if chunk is _END:
                return
            if isinstance(chunk, BaseException):
                raise httpx.ReadError(f"the demo server failed mid-body: {type(chunk).__name__}") from chunk
            yield chunk

    async def aclose(self) -> None:
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Send requests to an ASGI app in the same event loop, streaming responses."""

    def __init__(self, app: Any, client: tuple[str, int] = ("127.0.0.1", 123)):
        self.app = app
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw], "scheme": request.url.scheme,
            "path": request.url.path, "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query, "server": (request.url.host, request.url.port),
            "client": self.client, "root_path": "",
        }
        queue: asyncio.Queue = asyncio.Queue()
        started: asyncio.Future = asyncio.get_running_loop().create_future()
        sent_request = False
        finished = asyncio.Event()

        async def receive() -> dict:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": body, "more_body": False}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                if not started.done():
                    started.set_result((message["status"], message.get("headers", [])))
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    await queue.put(message["body"])
                if not message.get("more_body", False):
                    finished.set()
                    await queue.put(_END)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except BaseException as exc:  # the reader must hear of it, then it propagates
                if not started.done():
                    started.set_exception(httpx.RemoteProtocolError(f"the demo server failed: {exc!r}"))
                elif not finished.is_set():
                    await queue.put(exc if isinstance(exc, Exception) else httpx.ReadError("cancelled"))
                if not isinstance(exc, Exception):
                    raise
            else:
                if not started.done():
                    started.set_exception(httpx.RemoteProtocolError("the demo server sent no response"))
                elif not finished.is_set():
                    await queue.put(httpx.RemoteProtocolError("the demo server ended the body early"))

        task = asyncio.get_running_loop().create_task(run())
        try:
            status, headers = await started
        except BaseException:
            task.cancel()
            raise
        return httpx.Response(status, headers=headers, stream=_QueueStream(queue, task))
