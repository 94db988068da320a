"""The quota ledger: reserve images before a request is forwarded, settle from the upstream's answer.

A reservation is one short transaction of conditional statements, each of which either takes what
it needs or changes nothing, so concurrent requests — in several processes, on one PostgreSQL —
never overspend:

1. ``gateway_state``: not blocked, ``in_flight < max_concurrent`` and this minute's ``requests < requests_per_minute``;
2. ``gateway_days``: ``images + n <= images_per_day``;
3. ``gateway_periods``: the ISO week's ``images + n <= images_per_week``, the term's ``<= images_total``,
   and while an assignment's window is open, its ``<= images`` (always counted, so a limit added later
   sees what was used);
4. ``gateway_class_days``: ``images + n <= class images_per_day``;
5. the request's row, ``outcome = 'reserved'``, with the time its reservation expires and its process.

If any step changes no row, the transaction rolls back and the request is refused. Settling (or
releasing) first flips the row from ``reserved`` with ``WHERE outcome = 'reserved'``, so a request
is settled exactly once, then gives back what it did not use. Reservations of a gateway that
crashed are released by :meth:`Ledger.sweep` once its lease runs out (a live gateway renews its row
in ``gateway_processes``) or they expire. Text that comes from a student or an upstream is made
storable first (no NUL, no lone surrogate: either makes a database refuse the write, and a
settlement must not fail). Locks are always taken in the order state -> day -> periods -> class, so
PostgreSQL transactions cannot deadlock.
"""

from __future__ import annotations

import calendar
import secrets
import time
from collections.abc import Callable

from sqlalchemy import Engine, and_, insert, or_, select

from . import db
from .refusals import Refusal
from .scrub import storable
from .settings import Limits
from .statements import Statements
from .terms import Assignment, period_keys, week_of, week_start

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


def new_request_id() -> str:
    return f"gw_{secrets.token_hex(12)}"


class Ledger:
    """Reservations, settlements and the request records, in one database."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.clock = clock
        self.sql = Statements(engine)
        self.process: str | None = None  # this process's lease (see Lease), held by its reservations

    # -- reserving -------------------------------------------------------------------------------
    def reserve(self, student: str, limits: Limits, class_cap: int | None, n: int, meta: dict,
                ttl: float, assignment: Assignment | None = None, groups: tuple[str, ...] = ()) -> str | Refusal:
        """Hold ``n`` images for ``student`` (in hub ``groups``, kept for the report): the new request's id, or
        why it is refused."""
        now = self.clock()
        day, minute = day_of(now), int(now // _MINUTE)
        rid, sql = new_request_id(), self.sql
        caps = {"day": _cap(limits.images_per_day), "class": _cap(class_cap), "week": _cap(limits.images_per_week),
                "total": _cap(limits.images_total), "assignment": assignment.images if assignment else NO_LIMIT}
        periods = period_keys(now, assignment)
        try:
            if 0 in (limits.max_concurrent, limits.requests_per_minute):  # nothing to count: refused as is
                raise _NotTaken("state")
            over = next((step for step in ("day", "week", "total", "assignment", "class") if n > caps[step]), None)
            if over is not None:  # a new row would hold more than the limit
                raise _NotTaken(over)
            with db.write(self.engine) as conn:  # an exception rolls back every step
                _take(conn, "state", sql.take_state, p_student=student, p_minute=minute, p_groups="\n".join(groups),
                      p_max_concurrent=_cap(limits.max_concurrent), p_per_minute=_cap(limits.requests_per_minute))
                _take(conn, "day", sql.take_day, p_student=student, p_day=day, p_n=n, p_per_day=caps["day"])
                taken = set(conn.execute(sql.take_periods[len(periods)], {
                    "p_student": student, "p_n": n, "p_week": periods["week"], "p_total": "total",
                    "p_assignment": periods.get("assignment"), "p_week_cap": caps["week"],
                    "p_total_cap": caps["total"], "p_assignment_cap": caps["assignment"]}).scalars())
                if len(taken) < len(periods):  # one of them did not fit
                    raise _NotTaken(next(step for step, key in periods.items() if key not in taken))
                _take(conn, "class", sql.take_class, p_day=day, p_n=n, p_class_cap=caps["class"])
                conn.execute(sql.insert_request, {
                    "id": rid, "student": student, "day": day, "started_at": now, "outcome": "reserved",
                    "reserved": n, "expires_at": now + ttl, "images": 0, "week": week_of(now),
                    "assignment": assignment.name if assignment else None, "process": self.process,
                    **_storable_meta(meta)})
        except _NotTaken as exc:  # rolled back: now read what refused it, for the message only
            return self._why(exc.step, student, limits, caps, periods, assignment, now)
        return rid

    def _why(self, step: str, student: str, limits: Limits, caps: dict, periods: dict, assignment, now: float):
        d, c, p = db.days.c, db.class_days.c, db.periods.c
        if step == "state":
            return self._why_state(student, limits, now)
        if step == "day":
            used = self._scalar(select(d.images).where(d.student == student, d.day == day_of(now)))
            return Refusal("images_per_day", caps["day"], used, next_reset(now), now)
        if step == "class":
            used = self._scalar(select(c.images).where(c.day == day_of(now)))
            return Refusal("class images_per_day", caps["class"], used, next_reset(now), now)
        used = self._scalar(select(p.images).where(p.student == student, p.period == periods[step]))
        if step == "week":
            return Refusal("images_per_week", caps["week"], used, week_start(now) + 7 * 86400.0, now)
        if step == "total":
            return Refusal("images_total", caps["total"], used, None, now)
        return Refusal(f"assignment {assignment.name}", caps["assignment"], used, assignment.end, now)

    def _scalar(self, query) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def _why_state(self, student: str, limits: Limits, now: float) -> Refusal:
        """Which of the two per-student limits refused (read after the fact, only for the message)."""
        minute = int(now // _MINUTE)
        with self.engine.connect() as conn:
            row = conn.execute(select(db.state).where(db.state.c.student == student)).one_or_none()
        if row is not None and row.blocked:
            return Refusal("blocked", 0, 0, None, now)
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
                # never more than was reserved: an upstream that sends extra images cannot push a count past its
                # limit (the record keeps what came); the student's client refuses more than n images anyway
                self._give_back(conn, row, max(0, row.reserved - images), in_flight=True)
                return True
            r = db.requests.c
            late = conn.execute(select(r.student, r.day, r.week, r.assignment, r.outcome)
                                .where(r.id == rid)).one_or_none()
            if late is not None and late.outcome == "expired" and images:  # it ran past its reservation:
                conn.execute(sql.late_images, {"p_rid": rid, "p_images": images, "p_status": status})
                self._give_back(conn, late, -images, in_flight=False)  # count what it made
            return False

    def _give_back(self, conn, row, images: int, *, in_flight: bool) -> None:
        """Give ``images`` of request ``row`` (student, day, week, assignment) back to every count it took them from."""
        if in_flight:
            conn.execute(self.sql.leave, {"p_student": row.student})
        if images:
            conn.execute(self.sql.give_back_day, {"p_student": row.student, "p_day": row.day, "p_n": images})
            conn.execute(self.sql.give_back_periods, {
                "p_student": row.student, "p_n": images, "p_week": f"week:{row.week}",
                "p_assignment": f"assignment:{row.assignment}" if row.assignment else None})
            conn.execute(self.sql.give_back_class, {"p_day": row.day, "p_n": images})

    def sweep(self) -> int:
        """Release the reservations that expired (a gateway hung) or whose process's lease ran out (it stopped),
        never this process's own live ones; how many were released."""
        now = self.clock()
        r, p = db.requests.c, db.processes.c
        live = select(p.id).where(p.lease_until >= now)
        stopped = and_(r.process.is_not(None), r.process.not_in(live))
        if self.process is not None:
            stopped = and_(stopped, r.process != self.process)
        with self.engine.connect() as conn:
            found = conn.execute(select(r.id, r.expires_at).where(
                r.outcome == "reserved", or_(r.expires_at < now, stopped))).all()
        timed_out = [rid for rid, expires in found if expires < now]
        return (self.release(timed_out, "the reservation expired (the gateway stopped or hung)")
                + self.release([rid for rid, _ in found if rid not in timed_out],
                               "released: the gateway holding it stopped"))

    def release(self, ids, why: str) -> int:
        """Give back the whole reservation of each of these requests still reserved (once): how many were."""
        released = 0
        for rid in ids:
            with db.write(self.engine) as conn:
                row = conn.execute(self.sql.expire, {"p_rid": rid, "p_why": why}).one_or_none()
                if row is not None:  # not settled or expired by someone else meanwhile
                    self._give_back(conn, row, row.reserved, in_flight=True)
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
