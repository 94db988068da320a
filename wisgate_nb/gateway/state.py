"""What every route of the gateway shares (``Gateway``): read once at start; the limits re-read themselves."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from .auth import Authenticator
from .lease import Lease
from .ledger import Ledger
from .manage import purge_prompts
from .relay import Outcome
from .settings import ConfigFile, GatewaySettings
from .upstream import UpstreamClient

__all__ = ["Gateway"]

logger = logging.getLogger("wisgate_nb.gateway")
_SWEEP_EVERY_S = 5.0


@dataclass
class Gateway:
    """Everything the routes share: read once at start (the limits re-read themselves)."""

    settings: GatewaySettings
    config: ConfigFile
    ledger: Ledger
    auth: Authenticator
    upstream: UpstreamClient
    max_body: int
    ttl: float
    lease: Lease
    identifier_key: bytes
    _last_sweep: float = float("-inf")
    _purged_for: object = None

    async def sweep(self) -> None:
        now = self.ledger.clock()
        if now - self._last_sweep >= _SWEEP_EVERY_S:
            self._last_sweep = now
            released = await asyncio.to_thread(self.ledger.sweep)
            if released:
                logger.warning("released %d expired reservation(s) (a gateway stopped mid-request)", released)
        config = self.config.get()
        if not config.store_prompts and self._purged_for is not config:  # store_prompts = false: none kept
            self._purged_for = config
            purged = await asyncio.to_thread(purge_prompts, self.ledger.engine)
            if purged:
                logger.info("store_prompts = false: removed the prompts of %d stored request(s)", purged)

    def settle(self, rid: str, result: Outcome) -> None:
        """Settle, whatever the upstream said; if the database refuses its words, settle without them."""
        scrub = self.upstream.scrubber.text
        try:
            self.ledger.settle(rid, outcome=result.outcome, images=result.images, status=result.status,
                               total_tokens=result.total_tokens, request_id=scrub(result.request_id),
                               error_code=scrub(result.error_code), error=scrub(result.error),
                               latency_ms=result.latency_ms)
        except Exception as exc:  # the reservation must not stay held
            logger.error("settling request %s failed (%s); settled without the upstream's words", rid,
                         type(exc).__name__)
            self.ledger.settle(rid, outcome=result.outcome, images=result.images, status=result.status,
                               error="the upstream's answer could not be stored", latency_ms=result.latency_ms)
