"""Running the emulator on a real socket: a context manager for tests, a blocking call for the CLI."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .app import create_app
from .state import Emulator, EmulatorConfig

__all__ = ["ServerHandle", "run", "serve"]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


@dataclass
class ServerHandle:
    """A running emulator: point a client at ``base_url``; steer it through ``emulator``."""

    base_url: str  # "http://127.0.0.1:PORT/v1"
    emulator: Emulator
    port: int


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:  # a development dependency, not a runtime one
        raise ImportError(
            "Serving the demo server on a port needs uvicorn: pip install uvicorn "
            "(demo mode inside a notebook does not need it)."
        ) from exc
    return uvicorn


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@contextmanager
def serve(
    config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[ServerHandle]:
    """Run the emulator with uvicorn in a background thread on ``port`` (0: a free one) until exit."""
    uvicorn = _uvicorn()
    app = create_app(config)
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every response that is written in two parts waits 40 ms for a delayed ACK.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.bind((host, port))
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_config=None,  # leave the host application's logging alone
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
                timeout_keep_alive=5,
            )
        )
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"wisgate-emulator-{port}", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(_STOP_TIMEOUT)
                raise RuntimeError(f"the demo server did not start on {host}:{port}")
            time.sleep(0.005)
        try:
            yield ServerHandle(f"http://{_url_host(host)}:{port}/v1", app.state.emulator, port)
        finally:
            server.should_exit = True
            thread.join(_STOP_TIMEOUT)
            if thread.is_alive():
                raise RuntimeError("the demo server did not stop")
    finally:
        sock.close()


def run(host: str = "127.0.0.1", port: int = 8000, config: EmulatorConfig | None = None) -> None:
    """Serve the emulator until interrupted (``wisgate-nb emulator``)."""
    _uvicorn().run(create_app(config), host=host, port=port, log_level="info")
