"""One TLS context for the process: the CA bundle is read once, not once per connection pool.

httpx reads the CA bundle for every client it makes (35 ms and more); the gateway makes 32 upstream pools,
a session one per kernel and a quota check one per call. Measured before: a gateway took over a second to
start, most of it reading the same file 32 times.
"""

from __future__ import annotations

import asyncio
import ssl

import pytest

from wisgate_nb._secret import Secret
from wisgate_nb.gateway.settings import Upstream
from wisgate_nb.gateway.upstream import POOLS, UpstreamClient
from wisgate_nb.http import quota
from wisgate_nb.http.client import ImagesClient
from wisgate_nb.http.tls import tls_context


@pytest.fixture
def ca_reads(monkeypatch):
    """How often a CA bundle is read into a TLS context, from now on (the process's context made anew)."""
    reads = []
    real = ssl.SSLContext.load_verify_locations

    def counted(self, *args, **kwargs):
        reads.append(args or kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    tls_context.cache_clear()
    yield reads
    tls_context.cache_clear()


def test_the_gateways_upstream_pools_and_the_clients_read_the_ca_bundle_once(ca_reads):
    upstream = UpstreamClient(Upstream("https://api.example.invalid/v1", Secret("sk-x")), 30)
    assert POOLS > 1 and len(upstream._pools) == POOLS
    clients = [ImagesClient(base_url="https://api.example.invalid/v1", api_key="sk-x") for _ in range(3)]
    pools = [client._http() for client in clients]
    quota.quota_left("https://127.0.0.1:9/v1", "sk-x", timeout=0.5)  # refused at once; its client is made
    assert len(ca_reads) == 1
    assert all(pool._transport._pool._ssl_context is tls_context() for pool in [*upstream._pools, *pools])

    async def close():
        for pool in [*upstream._pools, *pools]:
            await pool.aclose()

    asyncio.run(close())
