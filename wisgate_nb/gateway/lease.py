"""The lease of a gateway process: while it lives it renews its row in ``gateway_processes``; its reservations
point at that row, so once the lease runs out (the process was killed) any other gateway on the same database
releases them — within ``lease_s`` plus one sweep, a minute at most.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets

from sqlalchemy import delete, insert, update

from . import db
from .ledger import Ledger

__all__ = ["SWEEP_S", "Lease"]

logger = logging.getLogger("wisgate_nb.gateway")
SWEEP_S = 5.0  # how often a gateway at rest looks for reservations to release (at most; a third of the lease)


class Lease:
    """Registers this process, renews its lease and sweeps, until :meth:`end`."""

    def __init__(self, ledger: Ledger, lease_s: float):
        self.ledger, self.lease_s = ledger, lease_s
        self.id = f"p{os.getpid()}_{secrets.token_hex(6)}"
        self.every = min(SWEEP_S, lease_s / 3)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Take the lease (before the first request): from now on this process's reservations point at it."""
        now = self.ledger.clock()
        with db.write(self.ledger.engine) as conn:
            conn.execute(insert(db.processes).values(id=self.id, started_at=now, lease_until=now + self.lease_s))
        self.ledger.process = self.id

    def renew(self) -> None:
        with db.write(self.ledger.engine) as conn:
            conn.execute(update(db.processes).where(db.processes.c.id == self.id)
                         .values(lease_until=self.ledger.clock() + self.lease_s))

    def tick(self) -> int:
        """Renew, then release what stopped or expired gateways left; how many reservations were released."""
        self.renew()
        return self.ledger.sweep()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                released = await asyncio.to_thread(self.tick)
            except Exception as exc:  # the database is away for a moment: try again next time
                logger.warning("could not renew the gateway's lease: %s", type(exc).__name__)
                continue
            if released:
                logger.warning("released %d reservation(s) of a gateway that stopped mid-request", released)

    def run_in_background(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def end(self) -> None:
        """Stop renewing and give the lease up (a clean stop: nothing of ours is in flight any more)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        with db.write(self.ledger.engine) as conn:
            conn.execute(delete(db.processes).where(db.processes.c.id == self.id))
