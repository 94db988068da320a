"""``timeout`` bounds one attempt as a whole: a server that trickles a body or keeps a stream alive with
comments is left at the deadline (a stdlib server on loopback)."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bounds import DEADLINE_S

from wisgate_nb import errors
from wisgate_nb.http.client import ImagesClient

TIMEOUT = 1.0
STOP_AFTER_S = 60.0  # the server gives up by itself, whatever the client does


class _Trickle(BaseHTTPRequestHandler):
    """Answers 200, then one byte of a JSON body a second, or an SSE comment every 0.2 s."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        stream = "event-stream" in (self.headers.get("accept") or "")
        self.send_response(200)
        self.send_header("content-type", "text/event-stream" if stream else "application/json")
        if not stream:
            self.send_header("content-length", "1000")
        self.end_headers()
        ends = time.monotonic() + STOP_AFTER_S
        try:
            while time.monotonic() < ends and not self.server.stopping.is_set():
                self.wfile.write(b": keep-alive\n\n" if stream else b" ")
                self.wfile.flush()
                self.server.stopping.wait(0.2 if stream else 1.0)
        except OSError:  # the client went away: what should happen
            pass

    def log_message(self, *args):
        pass


@contextmanager
def trickling_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    server.stopping = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("stream", [False, True], ids=["body one byte a second", "keep-alive comments"])
def test_timeout_bounds_the_whole_attempt(stream):
    with trickling_server() as base_url:
        async def call():
            client = ImagesClient(base_url=base_url, api_key="sk-test", timeout=TIMEOUT, max_retries=0)
            try:
                return await client.generate({"model": "m", "prompt": "p", "stream": stream or None})
            finally:
                await client.aclose()

        started = time.monotonic()
        with pytest.raises(errors.APITimeoutError, match=r"^no answer within 1 s") as info:
            asyncio.run(call())
        took = time.monotonic() - started
    assert TIMEOUT <= took < DEADLINE_S, took
    assert info.value.attempt_statuses == ("200",)
