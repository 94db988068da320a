"""``GET /v1/models``: the models the gateway forwards to, as the upstream lists them (cached a minute).

The gateway forwards a student's ``model`` as it is, so the upstream's own list is the true answer.
Only the fields of the OpenAI list shape pass (id, object, created, owned_by): nothing else the
upstream sends reaches a student, and the key is scrubbed like every upstream answer.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx

from .upstream import UpstreamClient, UpstreamError

__all__ = ["ModelList"]

logger = logging.getLogger("wisgate_nb.gateway")
CACHE_S = 60.0
_FIELDS = ("id", "object", "created", "owned_by")


def _entries(doc: Any) -> list[dict[str, Any]]:
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        raise ValueError("no data list")
    out = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            entry = {k: item[k] for k in _FIELDS if isinstance(item.get(k), (str, int)) and not isinstance(item[k], bool)}
            out.append({"object": "model", **entry})
    return out


class ModelList:
    """The upstream's model list, asked at most once a minute."""

    def __init__(self, upstream: UpstreamClient, clock=time.monotonic):
        self.upstream, self._clock = upstream, clock
        self._cached: list[dict[str, Any]] | None = None
        self._at = float("-inf")

    async def get(self) -> dict[str, Any]:
        """``{"object": "list", "data": [...]}``, or UpstreamError (502) when the upstream does not list them."""
        if self._cached is not None and self._clock() - self._at < CACHE_S:
            return {"object": "list", "data": self._cached}
        try:
            response = await self.upstream.get("/models")
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            entries = _entries(json.loads(self.upstream.scrubber.bytes(response.content)))
        except (httpx.HTTPError, ValueError, RecursionError) as exc:
            logger.warning("the upstream did not list its models: %s", str(exc)[:200] or type(exc).__name__)
            raise UpstreamError(502, "upstream_models_unavailable", "The image service did not list its models "
                                "just now (image requests may still work); try again in a moment.") from None
        self._cached, self._at = entries, self._clock()
        return {"object": "list", "data": entries}
