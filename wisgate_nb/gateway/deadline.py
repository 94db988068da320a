"""A request's headers must arrive within 30 s: uvicorn's h11 protocol with a header deadline (slowloris).

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but a new connection, or
one whose next request trickles in a byte at a time, waits for its headers forever. This protocol
closes a connection whose request line and headers are not complete ``timeout`` seconds after it
opened (or after its previous response). The body has its own deadline (intake.BodyDeadline).
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT_S", "HeaderDeadline", "with_timeout"]

HEADER_TIMEOUT_S = 30.0


class HeaderDeadline(H11Protocol):
    """uvicorn's ``http=`` protocol for the gateway: ``timeout`` seconds for a request's headers."""

    timeout = HEADER_TIMEOUT_S
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self._header_timer = self.loop.call_later(self.timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        waiting = self.cycle is None or self.cycle.response_complete  # no request being answered
        if waiting and self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()  # still no whole request (or the rest of a refused one's body)


def with_timeout(timeout: float) -> type[HeaderDeadline]:
    """The protocol with another header deadline (tests)."""
    return type("HeaderDeadline", (HeaderDeadline,), {"timeout": timeout})
