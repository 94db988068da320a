"""The client's settings checked without importing httpx: a URL, a key, a timeout, a retry count."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .. import errors
from .._secret import Secret


def check_settings(base_url: Any, api_key: Any, timeout: Any, max_retries: Any) -> tuple[str, Secret | None]:
    """(base URL, key) checked as the client needs them; ConfigurationError before anything is sent."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise errors.ConfigurationError(f"timeout must be a positive number of seconds; got {timeout!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise errors.ConfigurationError(f"max_retries must be a whole number >= 0; got {max_retries!r}")
    return _check_base_url(base_url), _check_api_key(api_key)


def _check_base_url(base_url: Any) -> str:
    if not isinstance(base_url, str) or not re.match(r"(?i)https?://[^/\s]+", base_url.strip()):
        raise errors.ConfigurationError(f"base_url must be an http(s) URL such as https://api.wisgate.ai/v1; "
                                        f"got {base_url!r}")
    return base_url.strip().rstrip("/")


def _check_api_key(api_key: Any) -> Secret | None:
    if api_key is None or api_key == "":
        return None
    if not isinstance(api_key, str) or not re.fullmatch(r"[\x21-\x7e]+", api_key.strip()):
        # The key itself is never part of this message.
        raise errors.ConfigurationError("the API key must be printable ASCII text without spaces")
    return Secret(api_key.strip())


def safe_url(url: str) -> str:
    """The URL without user info and query (which may hold credentials or signatures), for logs."""
    try:
        parts = urlsplit(str(url))
        host, port = parts.hostname, parts.port
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme or not host:
        return "<invalid URL>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path}"
