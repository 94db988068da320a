"""One TLS context for every connection pool of the process.

httpx makes a new ``ssl.SSLContext`` for each client it builds, reading the CA bundle again (35 ms
and more): the gateway's 32 upstream pools took over a second to start, and each quota check paid it.
A context is safe to share between pools, threads and event loops.
"""

from __future__ import annotations

import functools
import ssl


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's CAs, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), made once."""
    import httpx

    return httpx.create_ssl_context()
