"""A stand-in judge: a stdlib HTTP server on loopback that records each chat request and answers from a script;
and an experiment interrupted in the middle of its sweep."""

from __future__ import annotations

import _thread
import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from reliability_helpers import wait_until

import wisgate_nb as wg
from wisgate_nb.emulator import Fault


class StubJudge:
    """What the stub saw (path, headers, JSON body per request) and what it will answer next."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: list[tuple[int, dict]] = []  # (status, JSON body); the last one repeats
        self.url = ""
        self.hold_after: int | None = None  # requests past this many wait for `release` before answering
        self.release = threading.Event()
        self.delay = 0.0  # seconds each answer takes
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()

    def answer_text(self, text: str, *, tokens: int = 120) -> None:
        """Answer 200 with this message text (and usage) from now on."""
        self.answers = [(200, chat_body(text, tokens))]

    def next_answer(self) -> tuple[int, dict]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def chat_body(text: str, tokens: int = 120) -> dict:
    return {"id": "chatcmpl-stub", "object": "chat.completion", "model": "judge-stub",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": tokens - 20, "completion_tokens": 20, "total_tokens": tokens}}


@contextmanager
def stub_judge() -> Iterator[StubJudge]:
    stub = StubJudge()
    stub.answer_text(json.dumps({"score": 4, "pass": True, "reason": "a fox, as asked"}))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            stub.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
            with stub._lock:
                stub.in_flight += 1
                stub.most_in_flight = max(stub.most_in_flight, stub.in_flight)
            if stub.hold_after is not None and len(stub.requests) > stub.hold_after:
                stub.release.wait(30)
            time.sleep(stub.delay)
            with stub._lock:
                stub.in_flight -= 1
            status, answer = stub.next_answer()
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("x-request-id", f"req_stub_{len(stub.requests)}")
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client cancelled its request
                pass

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# An experiment of three variants, two images each (the demo server draws them; its judge grades them).
EXPERIMENT = dict(prompts=["a red fox", "a fox in the snow", "a blue car"], rubric="a red fox in the snow", n=2,
                  size="256x256", show_progress=False)


def interrupt_an_experiment(session, server) -> None:
    """``wg.experiment(**EXPERIMENT)`` interrupted (as a kernel interrupt) once its second request is sent: one
    request at a time, the second hangs, the third waits for a slot; the first variant is done, the others not."""
    session.config.max_concurrency = 1
    server.emulator.schedule(Fault("slow", delay=0.0), Fault("slow", delay=3.0))  # the server lets go before the run ends

    def interrupt_once_the_second_is_sent() -> None:
        if wait_until(lambda: len(server.emulator.image_requests) >= 2, timeout=30):
            _thread.interrupt_main()

    watcher = threading.Thread(target=interrupt_once_the_second_is_sent)
    watcher.start()
    with pytest.raises(KeyboardInterrupt):
        wg.experiment(**EXPERIMENT)
    watcher.join(5)
