"""Every error wisgate_nb raises.

    WisGateError                   base class of everything below
     ├── ConfigurationError        missing key, bad setting, invalid option (also a ValueError)
     │    └── BudgetExceededError  max_images / max_cost reached
     ├── ResponseFormatError       body not as the contract says (HTML, bad JSON, no/undecodable images)
     ├── APIConnectionError        could not reach the server
     │    └── APITimeoutError      the server did not answer in time
     └── APIStatusError            the server answered 4xx/5xx (status_code, code, message, request_id)
          ├── BadRequestError      400 (and 422)
          │    └── ContentPolicyError  moderation_blocked / content_policy_violation, or a moderation-like message
          ├── AuthenticationError  401
          ├── PermissionDeniedError 403
          ├── NotFoundError        404
          ├── RateLimitError       429
          │    └── QuotaExceededError  quota_exceeded / insufficient_quota / billing_hard_limit_reached
          │                            (or a quota-like message): never retried
          └── InternalServerError  5xx

    UnknownValueWarning (a UserWarning)  an option value the registry does not list, sent as given

Low-level httpx exceptions are translated in exactly one place (client.py), always ``from exc``.
Errors the client raises after sending say how it went: ``attempts``, ``attempt_statuses`` (one word per
attempt: the HTTP status, "timeout", "connection" or "cancelled") and ``request_id_header`` (where the
request id came from: a header name, or "body").
"""

from __future__ import annotations

import re

__all__ = [
    "WisGateError",
    "ConfigurationError",
    "UnknownValueWarning",
    "BudgetExceededError",
    "ResponseFormatError",
    "APIConnectionError",
    "APITimeoutError",
    "APIStatusError",
    "BadRequestError",
    "ContentPolicyError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "QuotaExceededError",
    "InternalServerError",
    "status_error_for",
]


class WisGateError(Exception):
    """Base class of every wisgate_nb error."""

    attempts: int = 0  # requests sent for this call (set by the client on the errors it raises)
    attempt_statuses: tuple[str, ...] = ()
    request_id_header: str | None = None

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a wall of traceback; the cell still fails.
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {self}"]


class UnknownValueWarning(UserWarning):
    """An option value wisgate_nb does not know (``quality="xhigh"`` for a newer model): sent as given."""


class ConfigurationError(WisGateError, ValueError):
    """A missing key, a bad setting or an invalid option; raised before anything is sent."""


class BudgetExceededError(ConfigurationError):
    """The session's max_images or max_cost would be exceeded."""


class ResponseFormatError(WisGateError):
    """The server answered, but not with what the images contract says."""

    def __init__(self, message: str, *, request_id: str | None = None, request_id_header: str | None = None):
        super().__init__(message)
        self.request_id = request_id
        self.request_id_header = request_id_header


class APIConnectionError(WisGateError):
    """The server could not be reached (refused, reset, DNS, dropped mid-body)."""

    def __init__(self, message: str, *, request_id: str | None = None, request_id_header: str | None = None):
        super().__init__(message)
        self.request_id = request_id  # set when the server answered before the connection broke
        self.request_id_header = request_id_header


class APITimeoutError(APIConnectionError):
    """The server did not answer within the timeout."""


KEY_HINT = "check the API key (WISGATE_API_KEY, %wisgate_key) or use demo mode"
_HINTS = {
    400: "check the options and the prompt",
    401: KEY_HINT,
    403: "the key is not allowed to use this model or endpoint",
    404: "check base_url and model",
    429: "slow down: too many requests or quota reached",
}


class APIStatusError(WisGateError):
    """The server answered with an error status."""

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
        request_id_header: str | None = None,
        server_says_retry: bool | None = None,
    ):
        self.status_code = status_code
        self.message = message
        self.code = code
        self.request_id = request_id
        self.request_id_header = request_id_header
        self.retry_after = retry_after
        self.server_says_retry = server_says_retry  # the server's x-should-retry header, if it sent one
        self.hint = hint if hint is not None else _hint_for(status_code, retry_after, message, server_says_retry)
        super().__init__(self._text())

    def _text(self) -> str:
        text = f"HTTP {self.status_code}"
        if self.code and self.code != str(self.status_code):  # proxies send the status as the code: say it once
            text += f" ({self.code})"
        text += f": {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text


def _hint_for(status_code: int, retry_after: float | None, message: str = "",
              server_says_retry: bool | None = None) -> str | None:
    if status_code in (400, 403) and _AUTH_WORDS.search(message or ""):
        return KEY_HINT  # proxies answer a bad key with 400 or 403 as often as with 401
    if status_code == 429 and retry_after:
        return f"slow down: wait {retry_after:g} s and try again"
    if status_code >= 500 and server_says_retry is False:  # the server says waiting will not help: its message says why
        return None
    if status_code >= 500:
        return "the server failed; try again in a moment"
    return _HINTS.get(status_code)


class BadRequestError(APIStatusError):
    status_code = 400


class ContentPolicyError(BadRequestError):
    """The prompt or image was refused by moderation."""

    def __init__(self, message: str, **kwargs):
        kwargs.setdefault("hint", "the safety system refused the prompt or image: rephrase it")
        super().__init__(message, **kwargs)


class AuthenticationError(APIStatusError):
    status_code = 401


class PermissionDeniedError(APIStatusError):
    status_code = 403


class NotFoundError(APIStatusError):
    status_code = 404


class RateLimitError(APIStatusError):
    status_code = 429


class QuotaExceededError(RateLimitError):
    """A quota or billing limit is used up (a class quota, the account's credits): retrying cannot help."""

    def __init__(self, message: str, **kwargs):
        kwargs.setdefault("hint", "a quota is used up: waiting a few seconds will not help (see the message)")
        super().__init__(message, **kwargs)


class InternalServerError(APIStatusError):
    pass


_POLICY_CODES = {"moderation_blocked", "content_policy_violation"}
QUOTA_CODES = frozenset({"quota_exceeded", "insufficient_quota", "billing_hard_limit_reached"})
# What a message says when a proxy dropped (or rewrote to the status) the code that would have said it.
_AUTH_WORDS = re.compile(r"(?i)\b(api[ _-]?key|authenticat\w*|unauthori[sz]ed|credentials?|bearer|access token)\b")
_POLICY_WORDS = re.compile(r"(?i)safety system|moderation|content[ _-]?policy")
_QUOTA_WORDS = re.compile(r"(?i)insufficient[ _]quota|quota[ _]exceeded|exceeded your (current )?quota|"
                          r"billing[ _]hard[ _]limit")


def status_error_for(status_code: int, code: str | None = None, message: str = "") -> type[APIStatusError]:
    """The error class for an HTTP error status, the server's error code and (without a telling code) its message.

    The message's words count only when there is no code or the code is the status again (a proxy dropped or
    rewrote it): a server that says ``rate_limit_exceeded`` means a rate limit, whatever its words.
    """
    untold = code in (None, "", str(status_code))
    if status_code in (400, 422):
        policy = code in _POLICY_CODES or (untold and bool(_POLICY_WORDS.search(message or "")))
        return ContentPolicyError if policy else BadRequestError
    if status_code >= 500:
        return InternalServerError
    if code in QUOTA_CODES or (status_code == 429 and untold and _QUOTA_WORDS.search(message or "")):
        return QuotaExceededError
    return {
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        429: RateLimitError,
    }.get(status_code, APIStatusError)
