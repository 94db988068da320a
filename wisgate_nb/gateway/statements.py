"""The ledger's statements, built once per database with bound parameters (SQLAlchemy caches their compiled
form; building them per request costs more than running them).

Each ``take_*`` is one atomic ``INSERT ... ON CONFLICT DO UPDATE ... WHERE <the limit allows>``
that returns its row's key only when it took what it asked for.
"""

from __future__ import annotations

from sqlalchemy import Engine, and_, bindparam, case, insert, or_, update

from . import db

__all__ = ["Statements"]


class Statements:
    """Prepared statements of the quota ledger for one engine's dialect."""

    def __init__(self, engine: Engine):
        b = bindparam
        s, d, c, r, p = db.state.c, db.days.c, db.class_days.c, db.requests.c, db.periods.c
        self.take_state = db.upsert(
            engine, db.state, {"student": b("p_student"), "in_flight": 1, "minute": b("p_minute"), "minute_requests": 1,
                               "groups": b("p_groups")},
            set_={"in_flight": s.in_flight + 1, "minute": b("p_minute"), "groups": b("p_groups"),
                  "minute_requests": case((s.minute == b("p_minute"), s.minute_requests + 1), else_=1)},
            where=and_(~s.blocked, s.in_flight < b("p_max_concurrent"),
                       or_(s.minute != b("p_minute"), s.minute_requests < b("p_per_minute"))),
        ).returning(s.student)
        self.take_day = db.upsert(
            engine, db.days, {"student": b("p_student"), "day": b("p_day"), "images": b("p_n")},
            set_={"images": d.images + b("p_n")}, where=d.images + b("p_n") <= b("p_per_day"),
        ).returning(d.student)
        # the week, the term and (while one is open) an assignment in one statement: each row is taken only if
        # it fits its own limit; RETURNING names the rows taken
        cap = case((p.period == "total", b("p_total_cap")), (p.period == b("p_week"), b("p_week_cap")),
                   else_=b("p_assignment_cap"))
        rows = [{"student": b("p_student"), "period": b(key), "images": b("p_n")}
                for key in ("p_week", "p_total", "p_assignment")]
        self.take_periods = {
            count: db.upsert(engine, db.periods, rows[:count],
                             set_=lambda new: {"images": p.images + new.images},
                             where=lambda new: p.images + new.images <= cap).returning(p.period)
            for count in (2, 3)}
        self.take_class = db.upsert(
            engine, db.class_days, {"day": b("p_day"), "images": b("p_n")},
            set_={"images": c.images + b("p_n")}, where=c.images + b("p_n") <= b("p_class_cap"),
        ).returning(c.day)
        self.insert_request = insert(db.requests)
        self.settle = (
            update(db.requests).where(r.id == b("p_rid"), r.outcome == "reserved")
            .values(outcome=b("p_outcome"), images=b("p_images"), status=b("p_status"),
                    total_tokens=b("p_tokens"), latency_ms=b("p_latency"), request_id=b("p_request_id"),
                    error_code=b("p_error_code"), error=b("p_error"))
            .returning(r.student, r.day, r.reserved, r.week, r.assignment)
        )
        self.expire = (
            update(db.requests).where(r.id == b("p_rid"), r.outcome == "reserved")
            .values(outcome="expired", error=b("p_why"))
            .returning(r.student, r.day, r.reserved, r.week, r.assignment)
        )
        self.late_images = update(db.requests).where(r.id == b("p_rid")).values(images=b("p_images"),
                                                                              status=b("p_status"))
        self.leave = update(db.state).where(s.student == b("p_student")).values(in_flight=s.in_flight - 1)
        self.give_back_day = (update(db.days).where(d.student == b("p_student"), d.day == b("p_day"))
                              .values(images=d.images - b("p_n")))
        self.give_back_periods = (update(db.periods).where(
            p.student == b("p_student"), p.period.in_([b("p_week"), "total", b("p_assignment")]))
            .values(images=p.images - b("p_n")))
        self.give_back_class = update(db.class_days).where(c.day == b("p_day")).values(images=c.images - b("p_n"))
