"""The student's side of a classroom gateway's ``GET /v1/quota``: how many images are left, in one line.

Never raises: the quota is a status line (the panel header, %wisgate_doctor), not a request that matters.
``ImagesClient.quota()`` asks over the session's pool; :func:`quota_left` is the same for scripts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from .._secret import Secret
from .tls import tls_context

__all__ = ["QuotaLeft", "quota_left"]

logger = logging.getLogger(__name__)
QUOTA_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class QuotaLeft:
    """What ``GET /v1/quota`` said: images left today (None: no daily limit), the limit, used, reset time."""

    left: int | None
    limit: int | None
    used: int
    resets_at: str | None  # ISO time, UTC
    student: str | None = None

    @property
    def text(self) -> str:
        """One line, e.g. "quota: 17 of 20 images left today (resets 00:00 UTC)"."""
        reset = f" (resets {self.resets_at[11:16]} UTC)" if self.resets_at and len(self.resets_at) >= 16 else ""
        if self.left is None:
            return f"quota: no daily image limit, {self.used} used today"
        if self.limit is None:  # only the class cap applies
            return f"quota: {self.left} images left today for the class{reset}"
        return f"quota: {self.left} of {self.limit} images left today{reset}"

    def __str__(self) -> str:
        return self.text

    @classmethod
    def from_json(cls, doc: Any) -> QuotaLeft | None:
        try:
            return cls(left=_int(doc["remaining"]["images_today"]), limit=_int(doc["limits"]["images_per_day"]),
                       used=_int(doc["used"]["images_today"]) or 0, resets_at=_str(doc.get("resets_at")),
                       student=_str(doc.get("student")))
        except (KeyError, TypeError, ValueError):
            return None


def _int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(value)
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def quota_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/quota"


def from_response(response: httpx.Response) -> QuotaLeft | None:
    """The quota a 200 answer holds; None for any other answer."""
    if response.status_code != 200:
        return None
    try:
        return QuotaLeft.from_json(response.json())
    except ValueError:
        return None


def quota_left(base_url: str, key: Secret | str | None, *, timeout: float = QUOTA_TIMEOUT_S,
               http_client: httpx.Client | None = None) -> QuotaLeft | None:
    """Ask ``{base_url}/quota``; None when the server has no such endpoint, refuses, or cannot be reached."""
    token = key.get() if isinstance(key, Secret) else key
    headers = {"authorization": f"Bearer {token}"} if token else {}
    url = quota_url(base_url)
    try:
        if http_client is not None:
            response = http_client.get(url, headers=headers, timeout=timeout)
        else:
            with httpx.Client(timeout=timeout, verify=tls_context()) as client:
                response = client.get(url, headers=headers)
        return from_response(response)
    except Exception as exc:  # never raises: this is a status line, not a request that matters
        logger.debug("quota not available: %s", type(exc).__name__)
        return None
