"""Class management: reset a student's counts, block / unblock, remove a standalone student; purge stored prompts.

The same functions serve the CLI (``wisgate-nb gateway reset|block|unblock|remove``) and the teacher
page's buttons. A reset first releases the student's reservations in flight (their images come back at
once), then sets the chosen counts to zero; it never touches the records of what was done.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, select, update

from . import db
from .ledger import Ledger, day_of
from .terms import week_of

__all__ = ["ACTIONS", "PERIODS", "block", "purge_prompts", "remove", "reset"]

PERIODS = ("day", "week", "total", "all")
ACTIONS = ("reset", "block", "unblock", "remove")
_RESET_WHY = "released: the teacher reset the student's quota"


def check_student(name: str) -> str:
    if not isinstance(name, str) or not 0 < len(name) <= 128 or not name.isprintable():
        raise ValueError(f"not a student name: {name!r}")
    return name


def reset(ledger: Ledger, student: str, period: str = "day") -> str:
    """Give ``student`` the images of ``period`` back (day: today's, week: this ISO week's, total: the term's,
    all: every count, assignments and this minute's requests too). What happened, in a sentence."""
    check_student(student)
    if period not in PERIODS:
        raise ValueError(f"--period is one of {', '.join(PERIODS)}, got {period!r}")
    r = db.requests.c
    with ledger.engine.connect() as conn:
        flying = conn.execute(select(r.id).where(r.student == student, r.outcome == "reserved")).scalars().all()
    released = ledger.release(flying, _RESET_WHY)
    now = ledger.clock()
    d, p, s = db.days.c, db.periods.c, db.state.c
    with db.write(ledger.engine) as conn:  # the ledger's lock order: state, days, periods
        if period == "all":
            conn.execute(update(db.state).where(s.student == student).values(minute_requests=0))
            conn.execute(delete(db.days).where(d.student == student))
            conn.execute(delete(db.periods).where(p.student == student))
        elif period == "day":
            conn.execute(update(db.days).where(d.student == student, d.day == day_of(now)).values(images=0))
        else:
            key = f"week:{week_of(now)}" if period == "week" else "total"
            conn.execute(update(db.periods).where(p.student == student, p.period == key).values(images=0))
    what = {"day": "today's images", "week": "this week's images", "total": "the term's images",
            "all": "every count (day, week, term, assignments, this minute)"}[period]
    flight = f"; {released} request(s) in flight released" if released else ""
    return f"{student}: {what} given back{flight}."


def block(engine: Engine, student: str, blocked: bool = True) -> str:
    """Block (or unblock) a student: a blocked student's requests get 403 student_blocked."""
    check_student(student)
    s = db.state.c
    with db.write(engine) as conn:
        conn.execute(db.upsert(engine, db.state, {"student": student, "in_flight": 0, "minute": 0,
                                                   "minute_requests": 0, "blocked": blocked},
                               set_={"blocked": blocked}, where=s.student == student))
    return f"{student} is {'blocked: their requests are refused' if blocked else 'unblocked'}."


def remove(engine: Engine, student: str) -> str:
    """Remove a standalone student: their token stops working at once (their records stay)."""
    check_student(student)
    with db.write(engine) as conn:
        gone = conn.execute(delete(db.students).where(db.students.c.name == student)).rowcount
    if not gone:
        raise ValueError(f"there is no student {student!r} with a token on this gateway")
    return f"{student} removed: their token no longer works (their records stay in the reports)."


def purge_prompts(engine: Engine) -> int:
    """Forget every stored prompt (``store_prompts = false``): how many records had one."""
    r = db.requests.c
    with db.write(engine) as conn:
        return conn.execute(update(db.requests).where(r.prompt.is_not(None)).values(prompt=None)).rowcount
