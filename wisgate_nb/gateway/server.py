"""Serving the gateway with uvicorn: a blocking ``run`` (the CLI, several workers) and ``serve`` for tests.

Both serve with :class:`deadline.HeaderDeadline` (a request's headers within 30 s) and the app's
body deadline (its body within 30 s), so slow connections cannot pile up.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .settings import GatewaySettings, settings_from_environment

__all__ = ["GatewayHandle", "app_from_environment", "run", "serve"]

_START_TIMEOUT = 15.0
PROTOCOL = "wisgate_nb.gateway.deadline:HeaderDeadline"  # uvicorn's http= (a string: workers import it)


def _uvicorn():
    try:
        import uvicorn
    except ImportError as exc:
        raise ImportError('the gateway needs its extra: pip install "wisgate-nb[gateway]"') from exc
    return uvicorn


def setup_logging(level: int = logging.INFO) -> None:
    """One line per request on stderr (never a token or the key)."""
    logger = logging.getLogger("wisgate_nb.gateway")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)


def app_from_environment():
    """The app factory of uvicorn's worker processes (the CLI hands them --config and --db)."""
    from .app import create_app

    setup_logging()
    return create_app(settings_from_environment())


def _public_url(host: str, port: int, settings: GatewaySettings) -> str:
    host = f"[{host}]" if ":" in host else host
    prefix = settings.hub.prefix.rstrip("/") if settings.hub is not None else ""
    return f"http://{host}:{port}{prefix}/v1"


def run(settings: GatewaySettings, *, host: str, port: int, workers: int = 1) -> None:
    """Serve until interrupted."""
    uvicorn = _uvicorn()
    setup_logging()
    options = {"host": host, "port": port, "access_log": False, "log_level": "info", "timeout_graceful_shutdown": 5,
               "http": PROTOCOL}
    where = _public_url(host, port, settings)
    if workers > 1:
        if settings.db_url.startswith("sqlite"):
            logging.getLogger("wisgate_nb.gateway").warning(
                "%d workers share a SQLite file: this works on one machine, PostgreSQL scales further (--db)", workers)
        from .env import export_gateway_paths

        export_gateway_paths(str(settings.config_path), settings.db_url)
        print(f"wisgate-nb gateway on {where} with {workers} workers (Ctrl-C to stop)", flush=True)
        uvicorn.run("wisgate_nb.gateway.server:app_from_environment", factory=True, workers=workers, **options)
        return
    from .app import create_app

    app = create_app(settings)
    print(f"wisgate-nb gateway on {where} (Ctrl-C to stop)", flush=True)
    uvicorn.run(app, **options)


@dataclass
class GatewayHandle:
    """A gateway running in this process: point students at ``base_url``."""

    base_url: str  # http://127.0.0.1:PORT[/prefix]/v1
    root: str  # http://127.0.0.1:PORT[/prefix]
    port: int
    app: object

    @property
    def gateway(self):
        return self.app.state.gateway


@contextmanager
def serve(settings: GatewaySettings, *, host: str = "127.0.0.1", port: int = 0,
          clock: Callable[[], float] = time.time, deadlines: tuple[float, float] | None = None
          ) -> Iterator[GatewayHandle]:
    """Run the gateway with uvicorn in a background thread on a loopback port until exit (tests, benchmarks).

    ``deadlines``: (headers, body) in seconds instead of the 30 s of each.
    """
    from .app import create_app

    uvicorn = _uvicorn()
    from . import deadline

    protocol = deadline.HeaderDeadline if deadlines is None else deadline.with_timeout(deadlines[0])
    app = create_app(settings, clock=clock) if deadlines is None else create_app(settings, clock=clock,
                                                                                  body_timeout=deadlines[1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY, see emulator
    sock.bind((host, port))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                                           timeout_graceful_shutdown=2, timeout_keep_alive=5, backlog=512,
                                           http=protocol))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"wisgate-gateway-{port}",
                              daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start on {host}:{port}")
            time.sleep(0.005)
        url = _public_url(host, port, settings)
        yield GatewayHandle(url, url.removesuffix("/v1"), port, app)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
