"""Why a request was refused, in words a student can act on, and how the gateway answers it.

Every refusal names the limit, its value, what was used and when it frees up (UTC). The short-lived
ones carry a ``Retry-After``; ``max_concurrent`` is a wait (429 ``too_many_concurrent`` with
``x-should-retry: true``: the student's own requests in flight free it up, so a client waits for them);
the others are 429 ``quota_exceeded`` with ``x-should-retry: false``; a student the teacher blocked gets
403 ``student_blocked``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Refusal", "clock_text"]

_WAITS = ("requests_per_minute", "max_concurrent")
_PERIOD_WORDS = {"images_per_day": "today", "images_per_week": "this week (ISO week, from Monday 00:00 UTC)",
                 "images_total": "this term"}


def clock_text(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def _in(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"in {seconds} s"
    days, rest = divmod(seconds, 86400)
    hours, minutes = divmod(round(rest / 60), 60)
    if days:
        return f"in {days} d {hours} h"
    return f"in {hours} h {minutes} min" if hours else f"in {minutes} min"


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: which limit, its value, what was used and when it frees up."""

    # images_per_day | images_per_week | images_total | assignment NAME | class images_per_day
    # | requests_per_minute | max_concurrent | blocked
    limit: str
    allowed: int
    used: int
    resets_at: float | None  # epoch seconds; None: it does not reset (the term, a block)
    now: float

    @property
    def retry_after(self) -> float | None:
        """Seconds until the limit frees up, for the short-lived limits."""
        if self.limit in _WAITS and self.resets_at is not None:
            return max(1.0, round(self.resets_at - self.now))
        return None

    @property
    def status(self) -> int:
        return 403 if self.limit == "blocked" else 429

    @property
    def code(self) -> str:
        return {"blocked": "student_blocked", "max_concurrent": "too_many_concurrent"}.get(self.limit,
                                                                                           "quota_exceeded")

    @property
    def error_type(self) -> str:
        return "permission_error" if self.limit == "blocked" else "insufficient_quota"

    def headers(self) -> dict[str, str]:
        if self.limit == "blocked":
            return {}
        headers = {"x-should-retry": "true" if self.limit == "max_concurrent" else "false"}
        if self.retry_after is not None:
            headers["retry-after"] = str(int(self.retry_after))
        return headers

    def _resets(self) -> str:
        assert self.resets_at is not None
        return f"it resets at {clock_text(self.resets_at)} UTC ({_in(self.resets_at - self.now)})"

    def message(self, student: str, n: int) -> str:
        asked = f"{n} image{'s' if n != 1 else ''}"
        if self.limit == "blocked":
            return (f"Your teacher has blocked {student} on this gateway for now, so no images can be made. "
                    "Ask your teacher.")
        if self.limit == "class images_per_day":
            return (f"Quota exceeded: the class quota is {self.allowed} images per day and the class has used "
                    f"{self.used} today, so {asked} cannot be added; {self._resets()}. Ask your teacher.")
        if self.limit.startswith("assignment "):
            name = self.limit.split(" ", 1)[1]
            return (f"Quota exceeded: the assignment {name} allows {self.allowed} images per student and {student} "
                    f"has used {self.used}, so {asked} cannot be added; the assignment ends at "
                    f"{clock_text(self.resets_at or self.now)} UTC. Ask your teacher if you need more.")
        if self.limit in _PERIOD_WORDS:
            when = (self._resets() if self.resets_at is not None else "it does not reset during the term")
            return (f"Quota exceeded: {self.limit} is {self.allowed} for {student} and {self.used} "
                    f"{'has' if self.used == 1 else 'have'} been used {_PERIOD_WORDS[self.limit]}, so {asked} "
                    f"cannot be added; {when}. Ask your teacher if you need more.")
        if self.limit == "requests_per_minute":
            return (f"Quota exceeded: requests_per_minute is {self.allowed} for {student} and {self.used} "
                    f"requests were sent this minute; {self._resets()}. Wait, then try again.")
        return (f"Quota exceeded: max_concurrent is {self.allowed} for {student} and {self.used} "
                f"request{'s are' if self.used != 1 else ' is'} still running; try again when "
                f"{'one finishes' if self.used != 1 else 'it finishes'} (or lower WisGate.max_concurrency).")
