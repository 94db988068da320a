"""What the panel says: errors in words a student understands, elapsed times, running totals."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from .. import errors
from ..output.live import elapsed  # noqa: F401  (the panel and its slots take it from here)

# Most specific first: the first matching class explains the error.
_EXPLANATIONS: tuple[tuple[type[BaseException], str], ...] = (
    (errors.BudgetExceededError, "Not sent: it would go over the session's budget."),
    (errors.ConfigurationError, "Not sent: please fix this first."),
    (errors.ContentPolicyError, "The safety filter refused this prompt or image. Try describing it differently."),
    (errors.AuthenticationError, ("The API key was refused. Set a valid key with %wisgate_key, "
                                  "or use demo mode: wisgate_nb.configure(demo=True).")),
    (errors.PermissionDeniedError, "This key may not use this model or endpoint. Try another model."),
    (errors.NotFoundError, "The server does not know this model or address. Check the model name and base_url."),
    (errors.QuotaExceededError, ("The quota is used up (a classroom gateway's limit, or the account's balance): "
                                 "waiting a moment will not help. The details say which limit and when it resets; "
                                 "ask your teacher if you need more.")),
    (errors.RateLimitError, "Too many requests right now (rate limit). Wait a moment, then try again."),
    (errors.BadRequestError, "The server refused the request. Check the prompt and the options."),
    (errors.InternalServerError, "The image server had a problem. Try again in a moment."),
    (errors.APITimeoutError, "The server took too long to answer. Try again, or ask for fewer or smaller images."),
    (errors.APIConnectionError, "Could not reach the image server. Check the network connection and base_url."),
    (errors.ResponseFormatError, "The server's answer was not a usable image. Try again."),
    (errors.WisGateError, "The request failed."),
)


def explain(exc: BaseException) -> str:
    """One or two sentences for the panel: what happened in plain words, then the details.

    A detail of several lines (the missing key's three ways on, several option problems) keeps its lines.
    """
    for cls, words in _EXPLANATIONS:
        if isinstance(exc, cls):
            detail = str(exc).strip()
            if "\n" in detail:
                return f"{words}\n{detail}"
            return f"{words} ({detail})" if detail else words
    return (f"Something went wrong inside wisgate_nb ({type(exc).__name__}: {exc}). "
            "The request may not have been sent; please report this.")


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
