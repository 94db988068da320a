"""Every error wisgate_nb raises.

    WisGateError                   base class of everything below
     ├── ConfigurationError        missing key, bad setting, invalid option (also a ValueError)
     │    └── BudgetExceededError  max_images / max_cost reached
     ├── ResponseFormatError       body not as the contract says (HTML, bad JSON, no/undecodable images)
     ├── APIConnectionError        could not reach the server
     │    └── APITimeoutError      the server did not answer in time
     └── APIStatusError            the server answered 4xx/5xx (status_code, code, message, request_id)
          ├── BadRequestError      400 (and 422)
          │    └── ContentPolicyError  moderation_blocked / content_policy_violation
          ├── AuthenticationError  401
          ├── PermissionDeniedError 403
          ├── NotFoundError        404
          ├── RateLimitError       429
          │    └── QuotaExceededError  quota_exceeded / insufficient_quota / billing_hard_limit_reached: never retried
          └── InternalServerError  5xx

Low-level httpx exceptions are translated in exactly one place (client.py), always ``from exc``.
"""

from __future__ import annotations

__all__ = [
    "WisGateError",
    "ConfigurationError",
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

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a wall of traceback; the cell still fails.
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {self}"]


class ConfigurationError(WisGateError, ValueError):
    """A missing key, a bad setting or an invalid option; raised before anything is sent."""


class BudgetExceededError(ConfigurationError):
    """The session's max_images or max_cost would be exceeded."""


class ResponseFormatError(WisGateError):
    """The server answered, but not with what the images contract says."""

    def __init__(self, message: str, *, request_id: str | None = None):
        super().__init__(message)
        self.request_id = request_id


class APIConnectionError(WisGateError):
    """The server could not be reached (refused, reset, DNS, dropped mid-body)."""

    def __init__(self, message: str, *, request_id: str | None = None):
        super().__init__(message)
        self.request_id = request_id  # set when the server answered before the connection broke


class APITimeoutError(APIConnectionError):
    """The server did not answer within the timeout."""


_HINTS = {
    400: "check the options and the prompt",
    401: "check the API key (WISGATE_API_KEY, %wisgate_key) or use demo mode",
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
    ):
        self.status_code = status_code
        self.message = message
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        self.hint = hint if hint is not None else _hint_for(status_code, retry_after)
        super().__init__(self._text())

    def _text(self) -> str:
        text = f"HTTP {self.status_code}"
        if self.code:
            text += f" ({self.code})"
        text += f": {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text


def _hint_for(status_code: int, retry_after: float | None) -> str | None:
    if status_code == 429 and retry_after:
        return f"slow down: wait {retry_after:g} s and try again"
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


def status_error_for(status_code: int, code: str | None = None) -> type[APIStatusError]:
    """The error class for an HTTP error status and the server's error code."""
    if status_code in (400, 422):
        return ContentPolicyError if code in _POLICY_CODES else BadRequestError
    if status_code >= 500:
        return InternalServerError
    if code in QUOTA_CODES:
        return QuotaExceededError
    return {
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        429: RateLimitError,
    }.get(status_code, APIStatusError)
