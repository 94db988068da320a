"""The quota ledger: reserve images before a request is forwarded, settle from the upstream's answer.

A reservation is one short transaction of conditional statements, each of which either takes what
it needs or changes nothing, so concurrent requests — in several processes, on one PostgreSQL —
never overspend:

1. ``gateway_state``: ``in_flight < max_concurrent`` and this minute's ``requests < requests_per_minute``;
2. ``gateway_days``: ``images + n <= images_per_day``;
3. ``gateway_class_days``: ``images + n <= class images_per_day``;
4. the request's row, ``outcome = 'reserved'``, with the time its reservation expires.

If any step changes no row, the transaction rolls back and the request is refused. Settling (or
releasing) first flips the row from ``reserved`` with ``WHERE outcome = 'reserved'``, so a request
is settled exactly once, then gives back what it did not use. Reservations of a gateway that
crashed are released by :meth:`Ledger.sweep` once they expire. Text that comes from a student or
an upstream is made storable first (no NUL, no lone surrogate: either makes a database refuse the
write, and a settlement must not fail). Locks are always taken in the
order state -> day -> class, so PostgreSQL transactions cannot deadlock.
"""

from __future__ import annotations

import calendar
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select

from . import db
from .scrub import storable
from .settings import Limits
from .statements import Statements

__all__ = ["NO_LIMIT", "Ledger", "Refusal", "day_of", "next_reset"]

NO_LIMIT = 2_000_000_000  # stands for "no limit" in the conditional updates (fits a 32-bit INTEGER)
_MINUTE = 60


def day_of(t: float) -> str:
    """The UTC day of epoch time ``t``, as YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def next_reset(t: float) -> float:
    """The next 00:00 UTC after ``t``."""
    y, m, d = time.gmtime(t)[:3]
    return calendar.timegm((y, m, d, 0, 0, 0)) + 86400.0


def _cap(limit: int | None) -> int:
    return NO_LIMIT if limit is None else limit


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: which limit, its value, what was used and when it frees up."""

    limit: str  # images_per_day | requests_per_minute | max_concurrent | class images_per_day
    allowed: int
    used: int
    resets_at: float  # epoch seconds
    now: float

    @property
    def retry_after(self) -> float | None:
        """Seconds until the limit frees up, for the short-lived limits."""
        if self.limit in ("requests_per_minute", "max_concurrent"):
            return max(1.0, round(self.resets_at - self.now))
        return None

    def message(self, student: str, n: int) -> str:
        asked = f"{n} image{'s' if n != 1 else ''}"
        if self.limit == "class images_per_day":
            return (f"Quota exceeded: the class quota is {self.allowed} images per day and the class has used "
                    f"{self.used} today, so {asked} cannot be added; it resets at {_clock(self.resets_at)} UTC "
                    f"({_in(self.resets_at - self.now)}). Ask your teacher.")
        if self.limit == "images_per_day":
            return (f"Quota exceeded: images_per_day is {self.allowed} for {student} and {self.used} "
                    f"{'has' if self.used == 1 else 'have'} been used today, so {asked} cannot be added; "
                    f"it resets at {_clock(self.resets_at)} UTC ({_in(self.resets_at - self.now)}). "
                    "Ask your teacher if you need more.")
        if self.limit == "requests_per_minute":
            return (f"Quota exceeded: requests_per_minute is {self.allowed} for {student} and {self.used} "
                    f"requests were sent this minute; it resets at {_clock(self.resets_at)} UTC "
                    f"({_in(self.resets_at - self.now)}). Wait, then try again.")
        return (f"Quota exceeded: max_concurrent is {self.allowed} for {student} and {self.used} "
                f"request{'s are' if self.used != 1 else ' is'} still running; try again when "
                f"{'one finishes' if self.used != 1 else 'it finishes'} (or lower WisGate.max_concurrency).")


def _clock(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def _in(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"in {seconds} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"in {hours} h {minutes} min" if hours else f"in {minutes} min"


def new_request_id() -> str:
    return f"gw_{secrets.token_hex(12)}"


class Ledger:
    """Reservations, settlements and the request records, in one database."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.clock = clock
        self.sql = Statements(engine)

    # -- reserving -------------------------------------------------------------------------------
    def reserve(self, student: str, limits: Limits, class_cap: int | None, n: int, meta: dict,
                ttl: float) -> str | Refusal:
        """Hold ``n`` images for ``student``: the new request's id, or why it is refused."""
        now = self.clock()
        day, minute = day_of(now), int(now // _MINUTE)
        rid, sql = new_request_id(), self.sql
        per_day, cap = _cap(limits.images_per_day), _cap(class_cap)
        try:
            if 0 in (limits.max_concurrent, limits.requests_per_minute):  # nothing to count: refused as is
                raise _NotTaken("state")
            if n > per_day or n > cap:  # a new row would hold more than the limit
                raise _NotTaken("day" if n > per_day else "class")
            with db.write(self.engine) as conn:  # an exception rolls back every step
                _take(conn, "state", sql.take_state, p_student=student, p_minute=minute,
                      p_max_concurrent=_cap(limits.max_concurrent), p_per_minute=_cap(limits.requests_per_minute))
                _take(conn, "day", sql.take_day, p_student=student, p_day=day, p_n=n, p_per_day=per_day)
                _take(conn, "class", sql.take_class, p_day=day, p_n=n, p_class_cap=cap)
                conn.execute(sql.insert_request, {
                    "id": rid, "student": student, "day": day, "started_at": now, "outcome": "reserved",
                    "reserved": n, "expires_at": now + ttl, "images": 0, **_storable_meta(meta)})
        except _NotTaken as exc:  # rolled back: now read what refused it, for the message only
            d, c = db.days.c, db.class_days.c
            if exc.step == "state":
                return self._why_state(student, limits, now)
            if exc.step == "day":
                used = self._scalar(select(d.images).where(d.student == student, d.day == day))
                return Refusal("images_per_day", per_day, used, next_reset(now), now)
            used = self._scalar(select(c.images).where(c.day == day))
            return Refusal("class images_per_day", cap, used, next_reset(now), now)
        return rid

    def _scalar(self, query) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def _why_state(self, student: str, limits: Limits, now: float) -> Refusal:
        """Which of the two per-student limits refused (read after the fact, only for the message)."""
        minute = int(now // _MINUTE)
        with self.engine.connect() as conn:
            row = conn.execute(select(db.state).where(db.state.c.student == student)).one_or_none()
        in_flight = row.in_flight if row is not None else 0
        if limits.max_concurrent is not None and in_flight >= limits.max_concurrent:
            return Refusal("max_concurrent", limits.max_concurrent, in_flight, now + 1.0, now)
        used = row.minute_requests if row is not None and row.minute == minute else 0
        return Refusal("requests_per_minute", _cap(limits.requests_per_minute), used,
                       float((minute + 1) * _MINUTE), now)

    # -- settling --------------------------------------------------------------------------------
    def settle(self, rid: str, *, outcome: str, images: int = 0, status: int | None = None,
               total_tokens: int | None = None, request_id: str | None = None, error_code: str | None = None,
               error: str | None = None, latency_ms: float | None = None) -> bool:
        """End a reserved request: keep ``images`` of its reservation, give back the rest. Once only."""
        sql = self.sql
        with db.write(self.engine) as conn:
            row = conn.execute(sql.settle, {
                "p_rid": rid, "p_outcome": outcome, "p_images": images, "p_status": status, "p_tokens": total_tokens,
                "p_latency": latency_ms, "p_request_id": storable(request_id, 200),
                "p_error_code": storable(error_code, 64), "p_error": _short(error)}).one_or_none()
            if row is not None:
                self._give_back(conn, row.student, row.day, row.reserved - images, in_flight=True)
                return True
            r = db.requests.c
            late = conn.execute(select(r.student, r.day, r.outcome).where(r.id == rid)).one_or_none()
            if late is not None and late.outcome == "expired" and images:  # it ran past its reservation:
                conn.execute(sql.late_images, {"p_rid": rid, "p_images": images, "p_status": status})
                self._give_back(conn, late.student, late.day, -images, in_flight=False)  # count what it made
            return False

    def _give_back(self, conn, student: str, day: str, images: int, *, in_flight: bool) -> None:
        if in_flight:
            conn.execute(self.sql.leave, {"p_student": student})
        if images:
            conn.execute(self.sql.give_back_day, {"p_student": student, "p_day": day, "p_n": images})
            conn.execute(self.sql.give_back_class, {"p_day": day, "p_n": images})

    def sweep(self) -> int:
        """Release every reservation that expired (its gateway crashed or hung); how many were released."""
        now = self.clock()
        r = db.requests.c
        with self.engine.connect() as conn:
            expired = conn.execute(select(r.id).where(r.outcome == "reserved", r.expires_at < now)).scalars().all()
        released = 0
        for rid in expired:
            with db.write(self.engine) as conn:
                row = conn.execute(self.sql.expire, {"p_rid": rid}).one_or_none()
                if row is not None:  # not settled or expired by someone else meanwhile
                    self._give_back(conn, row.student, row.day, row.reserved, in_flight=True)
                    released += 1
        return released

    # -- records without a reservation -----------------------------------------------------------
    def record(self, student: str, meta: dict, *, outcome: str, status: int, error_code: str | None,
               error: str | None, request_id: str) -> None:
        """A refused or invalid request: in the record, but it holds nothing."""
        now = self.clock()
        with db.write(self.engine) as conn:
            conn.execute(insert(db.requests).values(
                id=new_request_id(), student=student, day=day_of(now), started_at=now, outcome=outcome,
                status=status, error_code=storable(error_code, 64), error=_short(error),
                request_id=storable(request_id, 200), latency_ms=0.0,
                **{"route": "generations", "n": 1, "stream": False, **_storable_meta(meta)}))


class _NotTaken(Exception):
    def __init__(self, step: str):
        self.step = step


def _take(conn, step: str, statement, **params) -> None:
    """Run a conditional upsert that must change one row, else refuse (and roll back).

    ``RETURNING`` says whether it did: psycopg reports no row count for ``INSERT ... ON CONFLICT``.
    """
    if conn.execute(statement, params).first() is None:
        raise _NotTaken(step)


def _short(text: str | None, limit: int = 500) -> str | None:
    return storable(text, limit)


def _storable_meta(meta: dict) -> dict:
    return {k: storable(v) if isinstance(v, str) else v for k, v in meta.items()}
