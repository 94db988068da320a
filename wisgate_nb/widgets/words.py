"""What the panel says: errors in words a student understands, elapsed times, running totals."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from .. import errors

# Most specific first: the first matching class explains the error.
_EXPLANATIONS: tuple[tuple[type[BaseException], str], ...] = (
    (errors.BudgetExceededError, "Not sent: the session's budget is used up."),
    (errors.ConfigurationError, "Not sent: please fix this first."),
    (errors.ContentPolicyError, "The safety filter refused this prompt or image. Try describing it differently."),
    (errors.AuthenticationError, ("The API key was refused. Set a valid key with %wisgate_key, "
                                  "or use demo mode: wisgate_nb.configure(demo=True).")),
    (errors.PermissionDeniedError, "This key may not use this model or endpoint. Try another model."),
    (errors.NotFoundError, "The server does not know this model or address. Check the model name and base_url."),
    (errors.RateLimitError, "Too many requests right now (rate limit). Wait a moment, then try again."),
    (errors.BadRequestError, "The server refused the request. Check the prompt and the options."),
    (errors.InternalServerError, "The image server had a problem. Try again in a moment."),
    (errors.APITimeoutError, "The server took too long to answer. Try again, or ask for fewer or smaller images."),
    (errors.APIConnectionError, "Could not reach the image server. Check the network connection and base_url."),
    (errors.ResponseFormatError, "The server's answer was not a usable image. Try again."),
    (errors.WisGateError, "The request failed."),
)


def explain(exc: BaseException) -> str:
    """One or two sentences for the panel: what happened in plain words, then the details."""
    for cls, words in _EXPLANATIONS:
        if isinstance(exc, cls):
            detail = str(exc).strip()
            return f"{words} ({detail})" if detail else words
    return (f"Something went wrong inside wisgate_nb ({type(exc).__name__}: {exc}). "
            "The request may not have been sent; please report this.")


def elapsed(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``2 min 05 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def totals_line(totals: dict) -> str:
    """The session's running total, e.g. ``session: 3 requests · 5 images · 1,200 tokens · cost ≈ 0.20``."""
    parts = [plural(totals.get("requests", 0), "request"), plural(totals.get("images", 0), "image")]
    if totals.get("total_tokens"):
        parts.append(f"{totals['total_tokens']:,} tokens")
    if totals.get("cost") is not None:
        parts.append(f"cost ≈ {totals['cost']:.2f}")
    return "session: " + " · ".join(parts)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def guarded(fn: Callable, report: Callable[[BaseException], None]) -> Callable:
    """``fn`` that hands any exception to ``report`` (the panel's status) instead of losing it."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            try:
                report(exc)
            except Exception:  # the status itself failed: the log is all that is left
                logging.getLogger("wisgate_nb").exception("the panel could not report an error")
            return None

    return call
