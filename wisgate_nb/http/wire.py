"""Pure functions of the images API wire format: retry rules, error mapping, body parsing.

No I/O here: ``client.py`` does the sending and calls these. Each is table-tested.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import errors
from .messages import (
    BODY,
    body_request_id,
    header,
    loads,
    mask_secret,
    quote,
    request_id_from,
    salvage,
    snippet,
    wait_in_message,
    x_should_retry,
)

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
_NO_STREAM = re.compile(r"(?i)stream\w*\W+(\w+\W+){0,6}?(not|un)\s*(supported|available|allowed|implemented)|"
                        r"(does not|doesn't|cannot|can't|not)\s+(support\s+)?stream")


def retryable_status(status_code: int | None, *, is_connection_error: bool = False) -> bool:
    """Retry connection errors, timeouts, 408, 409, 429 and 5xx, like the official client."""
    if is_connection_error:
        return True
    if status_code is None:
        return False
    return status_code in (408, 409, 429) or status_code >= 500


def retry_delay(attempt: int, headers: Mapping[str, str] | None, *, now: float | None = None,
                rng: Callable[[], float] = random.random, message: str | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first retry).

    Retry-After first; else a wait the error message names ("try again in 5 seconds", capped at 60 s:
    proxies that send no Retry-After refuse everything until then); else capped exponential backoff.
    """
    retry_after = retry_after_seconds(headers, now=now)
    if retry_after is not None and 0 < retry_after <= MAX_RETRY_AFTER:
        return retry_after
    named = wait_in_message(message)
    if named is not None:
        return named
    backoff = min(INITIAL_RETRY_DELAY * 2.0 ** min(max(attempt, 0), 100), MAX_RETRY_DELAY)
    return backoff * (1 - 0.25 * rng())


def retry_after_seconds(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
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


def request_id_of(headers: Mapping[str, str] | None) -> str | None:
    """The request id from the first common id header (see messages.REQUEST_ID_HEADERS)."""
    return request_id_from(headers)[0]


def error_from_response(status_code: int, body: bytes, headers: Mapping[str, str], *,
                        redact: str | None = None) -> errors.APIStatusError:
    """The one mapping of an error response to an exception (``redact`` is masked in the message)."""
    message, code, body_id = _error_fields(body, headers, redact)
    retry_after = retry_after_seconds(headers)
    request_id, source = request_id_from(headers)
    if request_id is None and body_id is not None:
        request_id, source = body_id, BODY
    request_id = mask_secret(request_id, redact) if request_id else request_id  # a server may echo the key
    cls = errors.status_error_for(status_code, code, message)
    return cls(message, status_code=status_code, code=code, request_id=request_id, request_id_header=source,
               retry_after=retry_after if retry_after and retry_after > 0 else None,
               server_says_retry=x_should_retry(headers))


def _error_fields(body: bytes, headers: Mapping[str, str] | None,
                  redact: str | None = None) -> tuple[str, str | None, str | None]:
    """(message, code, request id) from the ``{"error": {...}}`` envelope or whatever else the body is.

    The message is quoted short (messages.quote): a proxy may put a whole event stream in it.
    """
    doc = loads(body)
    if doc is None:
        doc = salvage(body)  # JSON cut short: its message and code are near the start
        doc = {"error": doc} if doc is not None else None
    if isinstance(doc, dict):
        err = doc.get("error")
        body_id = body_request_id(doc)
        if isinstance(err, dict):
            code = err.get("code")
            if code in (None, "") and err.get("type") in _POLICY_CODES:
                code = err["type"]
            code = str(code) if isinstance(code, (str, int)) and not isinstance(code, bool) and code != "" else None
            message = err.get("message")
            text = quote(message, redact=redact) if isinstance(message, str) and message.strip() else "no message"
            return text, (quote(code, 100, redact=redact) if code else None), body_id
        for candidate in (err, doc.get("message"), doc.get("detail")):
            if isinstance(candidate, str) and candidate.strip():
                return quote(candidate, redact=redact), None, body_id
    return f"the server sent {_describe_body(body, headers, redact)}", None, None


def _describe_body(body: bytes, headers: Mapping[str, str] | None, redact: str | None = None) -> str:
    text = body[:200_000].decode("utf-8", "replace")
    if not text.strip():
        return "an empty body"
    if "html" in (header(headers, "content-type") or "").lower() or text.lstrip().startswith("<"):
        return f"an HTML page instead of JSON ({snippet(text, redact=redact)})"
    return f"a body that is not JSON ({snippet(text, redact=redact)})"


def parse_images_body(body: bytes, headers: Mapping[str, str] | None, *,
                      redact: str | None = None) -> tuple[list[dict], dict]:
    """(data items, the other top-level fields) of a 200 body; ResponseFormatError if not images."""
    rid, source = request_id_from(headers)
    doc = loads(body)
    if doc is None:
        what = _describe_body(body, headers, redact)
        raise errors.ResponseFormatError(f"the server answered 200 with {what}", request_id=rid,
                                         request_id_header=source)
    if not isinstance(doc, dict):
        raise errors.ResponseFormatError("the response is JSON but not an object", request_id=rid,
                                         request_id_header=source)
    if doc.get("error"):
        message = _error_fields(body, headers, redact)[0]
        raise errors.ResponseFormatError(f"the server answered 200 with an error: {message}", request_id=rid,
                                         request_id_header=source)
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


def check_count(items: list, asked: int, request_id: str | None) -> None:
    """At most the ``n`` images asked for: a server that sends thousands fills no disk and no notebook."""
    if len(items) > asked:
        raise errors.ResponseFormatError(f"the server sent {len(items):,} images for n={asked}: refused",
                                         request_id=request_id)


def is_retryable(exc: errors.WisGateError) -> bool:
    if isinstance(exc, errors.QuotaExceededError):
        return False  # a used-up quota does not come back in a few seconds, whatever a header says
    if isinstance(exc, errors.APIStatusError):
        return exc.server_says_retry if exc.server_says_retry is not None else retryable_status(exc.status_code)
    return isinstance(exc, errors.APIConnectionError)  # a body not as the contract says is not retried


def stream_fallback_reason(exc: errors.WisGateError, *, events: int = 0) -> str | None:
    """Why a streamed attempt that failed before any image event is worth asking once without streaming.

    A 5xx (a proxy that cannot pass a stream through answers 500 after the upstream streamed), a 200
    that is not an event stream, or a refusal that says streaming is unsupported; None otherwise. After
    ``events`` (an error event came first) only the refusal counts: any other stream is never replayed.
    """
    says = isinstance(exc, errors.APIStatusError) and bool(_NO_STREAM.search(exc.message or ""))
    if events:
        return "the server said it does not stream" if says else None
    if isinstance(exc, errors.APIStatusError):
        if exc.status_code >= 500:
            return f"HTTP {exc.status_code} to a streamed request"
        return "the server said it does not stream" if says and exc.status_code < 429 else None
    if isinstance(exc, errors.ResponseFormatError):
        return "the answer to a streamed request was not an event stream"
    return None


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
