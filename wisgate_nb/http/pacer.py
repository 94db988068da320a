"""The rate-limit pacer: requests of one session to one endpoint wait for the limit instead of failing.

The rules are pure: every method takes ``now`` (seconds on the caller's clock) and does no I/O, so they
are table-tested with a frozen clock, like the retry rule in ``wire``. The client's send loop asks
``wait_for`` before each attempt, calls ``started`` when it sends and ``finished`` when the answer came.

What it learns from:
- ``x-ratelimit-{limit,remaining,reset}-{requests,images,tokens}``: the window's budget; once a
  window is used up, requests wait for its reset instead of meeting a 429;
- ``retry-after-ms`` / ``retry-after`` (or a wait the message names) on a 429: everyone waits that long;
- a 429 that says nothing: one request at a time probes, at growing intervals, until one passes (or
  is not refused within three times the round trip of a refusal: the others need not wait for its images);
- repeated 429s: fewer requests in flight, cut gently (×0.9) from the second refused round in a row; a
  round is the 429s of requests sent after the previous 429 came (a burst sent together is one round,
  a probe is none): halving on every 429 collapses throughput. One more slot per round of successes;
- a gateway's ``max_concurrent`` refusal: in flight no more than what it let through.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .. import errors
from .messages import header, wait_in_message
from .wire import retry_after_seconds

DIMENSIONS = ("requests", "images", "tokens")
PROBE_FIRST_S, PROBE_GROWTH, PROBE_MAX_S = 0.25, 1.25, 8.0  # a 429 without a hint: when to ask again
GRACE_MIN_S, GRACE_FACTOR = 0.05, 3.0  # a probe not refused within GRACE_FACTOR × a refusal's round trip passed
CUT, STRIKES = 0.9, 2  # from the STRIKES-th refused round in a row, each cuts the concurrency to CUT × itself
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_CONCURRENT = re.compile(r"(?i)max_concurrent|too many concurrent|concurrent requests|concurrency limit")
_PER_MINUTE = re.compile(r"(?i)requests_per_minute is \d+")  # the classroom gateway's own per-minute limit


def parse_duration(text: str | None) -> float | None:
    """Seconds of an ``x-ratelimit-reset-*`` value: ``"1s"``, ``"6m0s"``, ``"20ms"``, ``"1h2m"`` or ``"0.5"``."""
    text = (text or "").strip().lower()
    if not text:
        return None
    with contextlib.suppress(ValueError):
        seconds = float(text)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    parts = _DURATION.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(amount) * scale[unit] for amount, unit in parts)


def _count(text: str | None) -> int | None:
    with contextlib.suppress(TypeError, ValueError):
        value = int(str(text).strip())
        return value if value >= 0 else None
    return None


@dataclass
class Budget:
    """One limit's window as the server last told it: ``remaining`` more until ``until`` (pacer clock)."""

    limit: int | None
    remaining: int
    until: float


def budgets_from(headers: Mapping[str, str] | None, now: float) -> dict[str, Budget]:
    """The ``x-ratelimit-*`` budgets a response carries (only dimensions with both remaining and reset)."""
    found = {}
    for dim in DIMENSIONS:
        remaining = _count(header(headers, f"x-ratelimit-remaining-{dim}"))
        reset = parse_duration(header(headers, f"x-ratelimit-reset-{dim}"))
        if remaining is not None and reset is not None:
            found[dim] = Budget(_count(header(headers, f"x-ratelimit-limit-{dim}")), remaining, now + reset)
    return found


def limit_kind(exc: BaseException) -> str | None:
    """``"rate"`` or ``"concurrency"`` for a refusal that waiting cures; None for everything else.

    A 429 that says waiting will not help (``x-should-retry: false``, a used-up quota) is None, except a
    classroom gateway's ``max_concurrent`` or ``requests_per_minute`` refusal, which frees up by itself.
    """
    if not isinstance(exc, errors.APIStatusError) or exc.status_code != 429:
        return None
    said = f"{exc.code or ''} {exc.message or ''}"
    if exc.code == "too_many_concurrent" or _CONCURRENT.search(said):
        return "concurrency"
    if _PER_MINUTE.search(said):
        return "rate"
    if isinstance(exc, errors.QuotaExceededError) or exc.server_says_retry is False:
        return None
    return "rate"


@dataclass
class Ticket:
    """One request let through: what it costs, and whether it is the probe after a 429 without a hint."""

    cost: dict[str, int]
    probe: bool = False
    at: float = 0.0  # when it was sent


@dataclass
class Pacer:
    """The shared state of one endpoint's requests (used on one event loop: no locks)."""

    in_flight: int = 0
    concurrency: float | None = None  # None: no learned cap (the session's max_concurrency still holds)
    blocked_until: float = 0.0  # no request starts before this (a Retry-After, a probe's interval)
    budgets: dict[str, Budget] = field(default_factory=dict)
    strikes: int = 0  # refused rounds since the last success
    last_429: float = -math.inf  # when the last 429 came
    probing: bool = False  # a 429 said nothing: one request at a time until one passes
    probe_out: bool = False
    probe_delay: float = PROBE_FIRST_S
    probe_at: float = 0.0
    refusal_s: float = 0.0  # the round trip of a 429: the last probe's, else the quickest of a burst
    limited: int = 0  # 429s that were waited out (its repr says so when one debugs)
    _waiters: list = field(default_factory=list, repr=False)

    def wait_for(self, cost: Mapping[str, int], now: float) -> float | None:
        """0: go now; > 0: seconds until the limit may let it go; None: until a request in flight ends."""
        if now < self.blocked_until:
            return self.blocked_until - now
        if self.probing and self.probe_out:
            passed = self.probe_at + max(GRACE_MIN_S, GRACE_FACTOR * self.refusal_s)
            if now < passed:
                return passed - now
            self.probing = False  # not refused by now: let through (a late 429 starts probing again)
        if self.concurrency is not None and self.in_flight >= max(1, math.floor(self.concurrency)):
            return None
        waits, unknown = [], False
        for dim, budget in list(self.budgets.items()):
            if now >= budget.until:  # the window reset: the full limit again, if it was said
                if budget.limit is None:
                    del self.budgets[dim]
                    continue
                budget.remaining, budget.until = budget.limit, math.inf
            if budget.remaining < max(1, cost.get(dim, 0)):
                if budget.until == math.inf:  # used up, and the new window's reset not told yet
                    unknown = True
                else:
                    waits.append(budget.until - now)
        if waits:
            return max(waits)
        return None if unknown and self.in_flight else 0.0

    def started(self, cost: Mapping[str, int], now: float) -> Ticket:
        """A request goes now (after ``wait_for`` said 0)."""
        self.in_flight += 1
        for dim, budget in self.budgets.items():
            budget.remaining -= cost.get(dim, 0)
        probe = self.probing
        if probe:
            self.probe_out, self.probe_at = True, now
        return Ticket(dict(cost), probe, now)

    def finished(self, ticket: Ticket, now: float, headers: Mapping[str, str] | None = None,
                 outcome: str = "other", message: str | None = None) -> None:
        """A request ended: ``"ok"``, ``"rate"`` or ``"concurrency"`` (see ``limit_kind``), else ``"other"``."""
        self.in_flight = max(0, self.in_flight - 1)
        for waiter in self._waiters:  # whoever waits looks again
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()
        if ticket.probe:
            self.probe_out = False
        self._learn(headers, now)
        if outcome == "ok" and ticket.at > self.last_429:  # sent before the last 429, it says nothing new
            self.strikes, self.probing, self.probe_delay = 0, False, PROBE_FIRST_S
            if self.concurrency is not None:
                self.concurrency += 1 / max(1.0, self.concurrency)  # one more slot per round of successes
        elif outcome == "concurrency":
            self.limited += 1
            self.concurrency = float(max(1, self.in_flight))  # what the gateway let through
            if self.in_flight == 0:  # the others in flight are not ours: ask again later
                self._probe(now, ticket)
        elif outcome == "rate":
            self.limited += 1
            took = now - ticket.at  # a probe's own round trip; a burst's refusals queue: its quickest
            self.refusal_s = min(PROBE_MAX_S, took if ticket.probe or not self.refusal_s else min(self.refusal_s, took))
            if ticket.at > self.last_429 and not ticket.probe:  # a new round of refusals
                self.strikes += 1
                if self.strikes >= STRIKES:
                    # from what was in flight when a learned cap is above it (successes raise it without end)
                    self.concurrency = max(1.0, CUT * min(self.concurrency or math.inf, self.in_flight + 1))
            self.last_429 = max(self.last_429, now)
            hint = self._hint(headers, now, message)
            if hint is not None:
                self.blocked_until = max(self.blocked_until, now + hint)
            else:
                self._probe(now, ticket)

    async def changed(self, sleeping) -> None:
        """Until ``sleeping`` (the client's sleep) ends or a request to this endpoint ends, whichever is first."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        sleeper = asyncio.ensure_future(sleeping)
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waiter.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _probe(self, now: float, ticket: Ticket) -> None:
        if not self.probing or ticket.probe:  # a request sent before the first 429 does not move the interval
            self.blocked_until = max(self.blocked_until, now + self.probe_delay)
            self.probe_delay = min(self.probe_delay * PROBE_GROWTH, PROBE_MAX_S)
        self.probing = True

    def _learn(self, headers: Mapping[str, str] | None, now: float) -> None:
        for dim, told in budgets_from(headers, now).items():
            known = self.budgets.get(dim)
            if known is not None and now < known.until:  # the same window: the lowest count and reset
                known.remaining = min(known.remaining, told.remaining)
                known.until = min(known.until, told.until)
                known.limit = told.limit if told.limit is not None else known.limit
            else:
                self.budgets[dim] = told

    def _hint(self, headers: Mapping[str, str] | None, now: float, message: str | None) -> float | None:
        """Seconds a 429 says to wait: Retry-After, else a used-up window's reset, else the message's words."""
        after = retry_after_seconds(headers, now=None)
        if after is not None and after > 0:
            return after
        spent = [b.until - now for b in self.budgets.values() if b.remaining <= 0 and b.until > now]
        if spent:
            return max(spent)
        return wait_in_message(message)


def cost_of(n: int) -> dict[str, int]:
    """What one request takes from each budget (its tokens are not known before it is answered)."""
    return {"requests": 1, "images": max(1, n)}


def wait_words(seconds: float | None) -> str:
    """The live line's words while a request waits for the limit."""
    if seconds is None:
        return "waiting for the rate limit (a request in flight to finish)"
    return f"waiting for the rate limit (~{max(1, math.ceil(seconds))} s)"


def images_asked(content: dict) -> int:
    fields = content.get("json") or content.get("data") or {}
    try:
        return int(fields.get("n") or 1)
    except (TypeError, ValueError):
        return 1


def over_wait(wait: float | None, limit: float, refused: errors.APIStatusError | None) -> errors.RateLimitError:
    expected = "a request in flight to finish" if wait is None else f"~{max(1, math.ceil(wait))} s"
    message = f"the rate limit would keep this request waiting longer than rate_limit_wait={limit:g} s ({expected})"
    if refused is not None:
        message += f"; the server said: {refused.message}"
    return errors.RateLimitError(message, status_code=429, code=getattr(refused, "code", None),
                                 request_id=getattr(refused, "request_id", None),
                                 request_id_header=getattr(refused, "request_id_header", None))
