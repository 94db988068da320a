"""A session's clients: one per target, over the session's one connection pool or the in-process demo server.

A client is made once for the settings that configure it — the base URL, the key, timeout, max_retries,
whether the endpoint streams, rate_limit_wait, the pool — and reused while they stay the same, so its
settings are checked once, not on every request. A changed setting makes a new one in its place (the
old one is let go: no key is kept for a client that is no longer used). Each base URL keeps one
rate-limit pacer, whatever its clients. Used on the engine loop.
"""

from __future__ import annotations

from typing import Any

from .targets import Target


class Clients:
    """The clients, connection pools and per-endpoint state of one session."""

    def __init__(self) -> None:
        self.pool = None  # the one httpx.AsyncClient to real endpoints (made on first use)
        self._demo = None  # the in-process demo server's (app, httpx.AsyncClient), made on first use
        self._made: dict[tuple, tuple[tuple, Any]] = {}  # (kind, base URL, demo) -> (its settings, the client)
        self._pacers: dict[str, Any] = {}  # base URL -> its rate-limit pacer
        self.no_stream: dict[str, str] = {}  # base URL -> why it did not stream (then it is not asked to)
        self.constructed = 0  # how many clients were made (each checks its settings once)

    def get(self, target: Target, kind: type | None = None):
        """The ImagesClient (or ``kind``, a subclass: the judge's ChatClient) for the target."""
        from ..http.client import ImagesClient
        from ..http.pacer import Pacer

        kind = kind or ImagesClient
        http_client = self._demo_pool(target) if target.demo else self._real_pool()
        streaming = target.base_url not in self.no_stream
        # the Secret compares by value and is held by the Target already: no copy of the key is made here
        settings = (target.api_key, target.timeout, target.max_retries, streaming, target.rate_limit_wait, http_client)
        slot = (kind, target.base_url, target.demo)
        held = self._made.get(slot)
        if held is not None and held[0] == settings:
            return held[1]
        client = kind(base_url=target.base_url, api_key=target.api_key.get() if target.api_key else None,
                      timeout=target.timeout, max_retries=target.max_retries, http_client=http_client,
                      streaming=streaming, pacer=self._pacers.setdefault(target.base_url, Pacer()),
                      rate_limit_wait=target.rate_limit_wait)
        self._made[slot] = (settings, client)
        self.constructed += 1
        return client

    def _real_pool(self):
        if self.pool is None:
            import httpx

            from ..http.client import LIMITS
            from ..http.tls import tls_context

            self.pool = httpx.AsyncClient(limits=LIMITS, verify=tls_context())
        return self.pool

    def _demo_pool(self, target: Target):
        """The in-process demo server, reached without a socket; its latency follows the setting."""
        if self._demo is None:
            import httpx

            from ..emulator import create_app
            from ..emulator.transport import StreamingASGITransport

            app = create_app()  # the demo's own defaults
            self._demo = (app, httpx.AsyncClient(transport=StreamingASGITransport(app)))
        app, http_client = self._demo
        app.state.emulator.config.latency = target.demo_latency
        return http_client

    def release(self) -> list:
        """Forget every client; the pools to close (the caller closes them on the engine loop)."""
        pools = [p for p in (self.pool, self._demo[1] if self._demo else None) if p is not None]
        self.pool = self._demo = None
        self._made.clear()
        return pools

    def __repr__(self) -> str:  # never the key, not even masked
        return f"<Clients {len(self._made)} in use, {self.constructed} made>"
