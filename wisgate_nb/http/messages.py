"""Pure functions that read what a server (or a proxy in front of it) says: headers, request ids and
error text, quoted short and without base64 runs. No I/O here; each is table-tested.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from typing import Any

# Where servers and the proxies in front of them put a request id, most specific first.
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-litellm-call-id", "apim-request-id", "x-ms-request-id",
                      "cf-ray", "x-amzn-requestid")
BODY = "body"  # the request id came from the error body, not a header
MAX_QUOTE = 300  # characters of server text a message quotes at most
MAX_WAIT_IN_MESSAGE = 60.0  # seconds: "try again in 10 minutes" is not worth waiting for in a cell
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{64,}={0,2}")
_WAIT = re.compile(r"(?i)(?:try|retry)\s+again\s+in\s+(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|"
                   r"minutes?)\b")
_SALVAGE = {name: re.compile(rf'"{name}"\s*:\s*"((?:[^"\\]|\\.){{1,2000}})') for name in ("message", "code")}


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header value, matching the name case-insensitively (recordings spell them every way)."""
    if not headers:
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return value
    return None


def request_id_from(headers: Mapping[str, str] | None) -> tuple[str | None, str | None]:
    """(request id, the header it came from) from the first common id header present."""
    for name in REQUEST_ID_HEADERS:
        value = header(headers, name)
        if isinstance(value, str) and value.strip():
            return value.strip(), name
    return None, None


def x_should_retry(headers: Mapping[str, str] | None) -> bool | None:
    """The server's ``x-should-retry: true|false``, or None when it said nothing usable."""
    value = (header(headers, "x-should-retry") or "").strip().lower()
    return {"true": True, "false": False}.get(value)


def wait_in_message(text: str | None) -> float | None:
    """Seconds named in "try again in 5 seconds" / "Please try again in 1.5s" (capped), else None."""
    match = _WAIT.search(text or "")
    if match is None:
        return None
    unit = match.group(2).lower()
    factor = 0.001 if unit.startswith(("ms", "milli")) else 60.0 if unit.startswith("m") else 1.0
    seconds = float(match.group(1)) * factor
    return min(seconds, MAX_WAIT_IN_MESSAGE) if math.isfinite(seconds) and seconds > 0 else None


def mask_secret(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def scrub(value: Any, secret: str | None) -> Any:
    """A server's JSON with the key masked in every string (image data aside): a server may echo it anywhere."""
    if not secret:
        return value
    if isinstance(value, str):
        return mask_secret(value, secret)
    if isinstance(value, list):
        return [scrub(item, secret) for item in value]
    if isinstance(value, dict):
        return {key: item if key == "b64_json" else scrub(item, secret) for key, item in value.items()}
    return value


def _drop_base64(match: re.Match) -> str:
    run = match.group(0)
    # image data mixes cases and digits; a long plain word or a row of dashes is left alone
    mixed = (any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run))
    return "[base64 data]" if mixed else run


def quote(text: str, limit: int = MAX_QUOTE, *, redact: str | None = None) -> str:
    """Server text as a message may show it: the key masked, no base64 runs, one line, at most ``limit`` chars."""
    text = mask_secret(str(text), redact)  # before the cut: a key across it would show its first characters
    text = " ".join(_BASE64_RUN.sub(_drop_base64, text).split())
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def snippet(text: str, limit: int = 200, *, redact: str | None = None) -> str:
    """The readable text of a body that is not JSON (an HTML page's words, not its tags)."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
    text = html.unescape(re.sub(r"(?s)<[^>]*>", " ", text))
    return quote(text, limit, redact=redact)


def loads(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def salvage(body: bytes) -> dict | None:
    """``{"message", "code"}`` read out of a JSON error body that was cut short (too big to keep whole)."""
    text = body[:200_000].decode("utf-8", "replace")
    if not text.lstrip().startswith("{"):
        return None
    found = {}
    for name, pattern in _SALVAGE.items():
        match = pattern.search(text)
        if match:
            raw = match.group(1)
            decoded = loads(f'"{raw}"')
            found[name] = decoded if isinstance(decoded, str) else raw
    return found if "message" in found else None


def body_request_id(doc: Any) -> str | None:
    """A request id some servers put in the error body instead of a header."""
    for where in (doc.get("error") if isinstance(doc, dict) else None, doc):
        if isinstance(where, dict):
            for key in ("request_id", "requestId", "x-request-id"):
                value = where.get(key)
                if isinstance(value, str) and value.strip():
                    return quote(value, 100)
    return None
