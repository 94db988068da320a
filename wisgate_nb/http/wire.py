"""Pure functions of the images API wire format: retry rules, error mapping, body parsing.

No I/O here: ``client.py`` does the sending and calls these. Each is table-tested.
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import json
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import errors

INITIAL_RETRY_DELAY, MAX_RETRY_DELAY, MAX_RETRY_AFTER = 0.5, 8.0, 60.0
_RETRY_REASONS = {408: "request timeout", 409: "conflict", 429: "rate limit"}
_POLICY_CODES = ("moderation_blocked", "content_policy_violation")
# Stream error events carry no HTTP status; these codes/types say which error it is.
_STATUS_BY_KIND = {
    "invalid_request_error": 400, "image_generation_user_error": 400, "moderation_blocked": 400,
    "content_policy_violation": 400, "invalid_api_key": 401, "authentication_error": 401,
    "permission_error": 403, "not_found_error": 404, "rate_limit_exceeded": 429,
    "rate_limit_error": 429, "insufficient_quota": 429, "quota_exceeded": 429,
    "billing_hard_limit_reached": 429,
}


def should_retry(status_code: int | None, *, is_connection_error: bool = False) -> bool:
    """Retry connection errors, timeouts, 408, 409, 429 and 5xx, like the official client."""
    if is_connection_error:
        return True
    if status_code is None:
        return False
    return status_code in (408, 409, 429) or status_code >= 500


def retry_delay(attempt: int, headers: Mapping[str, str] | None, *, now: float | None = None,
                rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first retry)."""
    retry_after = _retry_after_seconds(headers, now=now)
    if retry_after is not None and 0 < retry_after <= MAX_RETRY_AFTER:
        return retry_after
    backoff = min(INITIAL_RETRY_DELAY * 2.0 ** min(max(attempt, 0), 100), MAX_RETRY_DELAY)
    return backoff * (1 - 0.25 * rng())


def _retry_after_seconds(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """``retry-after-ms``, else ``Retry-After`` as seconds or an HTTP date; None if absent/garbage."""
    millis = header(headers, "retry-after-ms")
    with contextlib.suppress(ValueError):
        if millis is not None and math.isfinite(float(millis)):
            return float(millis) / 1000
    value = header(headers, "retry-after")
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    with contextlib.suppress(TypeError, ValueError, OverflowError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        if when is not None and when.tzinfo is not None:
            return when.timestamp() - (time.time() if now is None else now)
    return None


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header value, matching the name case-insensitively (recordings spell them every way)."""
    if not headers:
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return value
    return None


def request_id_of(headers: Mapping[str, str] | None) -> str | None:
    return header(headers, "x-request-id") or None


def error_from_response(status_code: int, body: bytes, headers: Mapping[str, str], *,
                        redact: str | None = None) -> errors.APIStatusError:
    """The one mapping of an error response to an exception (``redact`` is masked in the message)."""
    message, code = _error_fields(body, headers, redact)
    retry_after = _retry_after_seconds(headers)
    cls = errors.status_error_for(status_code, code)
    return cls(mask_secret(message, redact), status_code=status_code, code=code,
               request_id=request_id_of(headers),
               retry_after=retry_after if retry_after and retry_after > 0 else None)


def _error_fields(body: bytes, headers: Mapping[str, str] | None,
                  redact: str | None = None) -> tuple[str, str | None]:
    """(message, code) from the ``{"error": {...}}`` envelope or whatever else the body is."""
    doc = loads(body)
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict):
            code = err.get("code")
            if code in (None, "") and err.get("type") in _POLICY_CODES:
                code = err["type"]
            code = str(code) if isinstance(code, (str, int)) and not isinstance(code, bool) and code != "" else None
            message = err.get("message")
            return (message if isinstance(message, str) and message.strip() else "no message"), code
        for candidate in (err, doc.get("message"), doc.get("detail")):
            if isinstance(candidate, str) and candidate.strip():
                return candidate, None
    return f"the server sent {_describe_body(body, headers, redact)}", None


def _describe_body(body: bytes, headers: Mapping[str, str] | None, redact: str | None = None) -> str:
    text = body.decode("utf-8", "replace")
    if not text.strip():
        return "an empty body"
    if "html" in (header(headers, "content-type") or "").lower() or text.lstrip().startswith("<"):
        return f"an HTML page instead of JSON ({_snippet(text, redact=redact)})"
    return f"a body that is not JSON ({_snippet(text, redact=redact)})"


def _snippet(text: str, limit: int = 200, *, redact: str | None = None) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
    text = html.unescape(re.sub(r"(?s)<[^>]*>", " ", text))
    # mask before the cut: a key across it would show its first characters
    text = mask_secret(" ".join(text.split()), redact)
    return text if len(text) <= limit else text[:limit] + "…"


def mask_secret(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def loads(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def parse_images_body(body: bytes, headers: Mapping[str, str] | None, *,
                      redact: str | None = None) -> tuple[list[dict], dict]:
    """(data items, the other top-level fields) of a 200 body; ResponseFormatError if not images."""
    rid = request_id_of(headers)
    doc = loads(body)
    if doc is None:
        what = mask_secret(_describe_body(body, headers, redact), redact)
        raise errors.ResponseFormatError(f"the server answered 200 with {what}", request_id=rid)
    if not isinstance(doc, dict):
        raise errors.ResponseFormatError("the response is JSON but not an object", request_id=rid)
    if doc.get("error"):
        message = mask_secret(_error_fields(body, headers, redact)[0], redact)
        raise errors.ResponseFormatError(f"the server answered 200 with an error: {message}", request_id=rid)
    items = check_items(doc.get("data"), rid)
    return items, {key: value for key, value in doc.items() if key != "data"}


def check_items(data: Any, request_id: str | None) -> list[dict]:
    if not isinstance(data, list) or not data:
        raise errors.ResponseFormatError("the response holds no images", request_id=request_id)
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict) or not any(
            isinstance(item.get(key), str) and item[key] for key in ("b64_json", "url")
        ):
            raise errors.ResponseFormatError(f"image {number} has neither b64_json nor url",
                                             request_id=request_id)
    return data


def is_retryable(exc: errors.WisGateError) -> bool:
    if isinstance(exc, errors.QuotaExceededError):
        return False  # a used-up quota does not come back in a few seconds
    if isinstance(exc, errors.APIStatusError):
        return should_retry(exc.status_code)
    return should_retry(None, is_connection_error=True)


def retry_words(exc: errors.WisGateError, delay: float, retry: int, max_retries: int) -> str:
    wait = f"{delay:.2g} s" if delay < 1 else f"{delay:.1f}".removesuffix(".0") + " s"
    if isinstance(exc, errors.APIStatusError):
        status = exc.status_code
        reason = _RETRY_REASONS.get(status, "server error" if status >= 500 else "error")
        return f"HTTP {status} ({reason}): waiting {wait}, retry {retry} of {max_retries}"
    what = "timed out" if isinstance(exc, errors.APITimeoutError) else "connection failed"
    return f"{what}: retry {retry} of {max_retries} in {wait}"


def event_json(data: str) -> dict | None:
    text = data.strip()
    if not text or text == "[DONE]":
        return None
    event = loads(text)
    if not isinstance(event, dict):
        raise errors.ResponseFormatError("a stream event is not a JSON object")
    return event


def stream_error(event: dict, headers: Mapping[str, str], secret: str | None) -> errors.APIStatusError:
    """A stream's error event, mapped through ``error_from_response`` like any error body."""
    err = event["error"] if isinstance(event.get("error"), dict) else event
    status = err.get("status") or event.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        kinds = [k for k in (err.get("code"), err.get("type")) if isinstance(k, str) and k in _STATUS_BY_KIND]
        status = _STATUS_BY_KIND[kinds[0]] if kinds else 500
    body = event if isinstance(event.get("error"), (dict, str)) else {"error": event}
    return error_from_response(status, json.dumps(body).encode(), headers, redact=secret)
