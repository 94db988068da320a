"""Table tests of the gateway's quota ledger itself (gateway/ledger.py) — a ``Ledger`` over a SQLite file with a
clock the test sets: each limit at its exact boundary, the refusal's words, settlement, release, the sweep, the
day and week rollover — written so that mutation testing (README, "Mutation testing") finds no change these miss.

No gateway, no server: the same statements the gateway runs, on the same database engine (gateway/db.py).
"""

from __future__ import annotations

import calendar
import re

import pytest
from sqlalchemy import select, update

from wisgate_nb.gateway import db
from wisgate_nb.gateway.lease import Lease
from wisgate_nb.gateway.ledger import Ledger, Refusal, day_of, new_request_id, next_reset
from wisgate_nb.gateway.settings import Limits
from wisgate_nb.gateway.terms import Assignment


def utc(*parts: int) -> float:
    """Epoch seconds of a UTC date and time (year, month, day[, hour, minute, second])."""
    return float(calendar.timegm((*parts, *(0,) * (6 - len(parts)))))


NOW = utc(2025, 11, 26, 10, 30, 15)  # a Wednesday in ISO week 2025-W48
MIDNIGHT = utc(2025, 11, 27)  # the next 00:00 UTC
MONDAY = utc(2025, 12, 1)  # the next ISO week starts
LAB = Assignment("lab3", utc(2025, 11, 26, 9), utc(2025, 11, 26, 12), 3)
LAB1 = Assignment("lab3", LAB.start, LAB.end, 1)
META = {"route": "generations", "model": "gpt-image-1", "size": "256x256", "n": 1, "stream": False, "prompt": "a cat"}
TTL = 300.0


class Clock:
    def __init__(self, t: float = NOW):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def ledger(tmp_path):
    engine = db.connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    yield Ledger(engine, Clock())
    engine.dispose()


def counts(ledger: Ledger) -> dict:
    """Every count the ledger keeps, as plain dictionaries."""
    with ledger.engine.connect() as conn:
        return {
            "days": {(r.student, r.day): r.images for r in conn.execute(select(db.days))},
            "periods": {(r.student, r.period): r.images for r in conn.execute(select(db.periods))},
            "class": {r.day: r.images for r in conn.execute(select(db.class_days))},
            "in_flight": {r.student: r.in_flight for r in conn.execute(select(db.state))},
        }


def request_row(ledger: Ledger, rid: str):
    with ledger.engine.connect() as conn:
        return conn.execute(select(db.requests).where(db.requests.c.id == rid)).one()


def reserve(ledger: Ledger, student: str = "s", limits: Limits = Limits(), class_cap: int | None = None, n: int = 1,
            assignment: Assignment | None = None, ttl: float = TTL, groups: tuple[str, ...] = ()):
    return ledger.reserve(student, limits, class_cap, n, dict(META, n=n), ttl, assignment, groups)


# ---- the limits of images, each at its exact boundary ----------------------------------------------------------

# (limit's name in the refusal, student limits, class cap, assignment, when it resets)
IMAGE_LIMITS = [
    ("images_per_day", Limits(images_per_day=3), None, None, MIDNIGHT),
    ("images_per_week", Limits(images_per_week=3), None, None, MONDAY),
    ("images_total", Limits(images_total=3), None, None, None),
    ("assignment lab3", Limits(), None, LAB, LAB.end),
    ("class images_per_day", Limits(), 3, None, MIDNIGHT),
]


@pytest.mark.parametrize(("name", "limits", "class_cap", "assignment", "resets"), IMAGE_LIMITS)
def test_exactly_at_a_limit_is_allowed_one_over_is_refused_and_changes_nothing(ledger, name, limits, class_cap,
                                                                              assignment, resets):
    assert isinstance(reserve(ledger, "s", limits, class_cap, 2, assignment), str)
    assert isinstance(reserve(ledger, "s", limits, class_cap, 1, assignment), str)  # 3 of 3: exactly at the limit
    before = counts(ledger)
    refused = reserve(ledger, "s", limits, class_cap, 1, assignment)
    assert refused == Refusal(name, 3, 3, resets, NOW)
    assert counts(ledger) == before  # every step of the refused reservation was rolled back


@pytest.mark.parametrize(("name", "limits", "class_cap", "assignment", "resets"), IMAGE_LIMITS)
def test_a_first_request_is_held_to_the_limit_too(ledger, name, limits, class_cap, assignment, resets):
    """The first request of a day / week / term inserts its row: the limit must hold there as well."""
    assert reserve(ledger, "s", limits, class_cap, 4, assignment) == Refusal(name, 3, 0, resets, NOW)
    assert counts(ledger) == {"days": {}, "periods": {}, "class": {}, "in_flight": {}}
    assert isinstance(reserve(ledger, "s", limits, class_cap, 3, assignment), str)  # exactly the limit, at once


def test_a_reservation_counts_everywhere_and_its_record_says_what_it_holds(ledger):
    ledger.process = "p_test"
    rid = reserve(ledger, "s", Limits(images_per_day=9), 9, 2, LAB, ttl=120.0, groups=("math", "lab"))
    assert re.fullmatch(r"gw_[0-9a-f]{24}", rid)
    assert counts(ledger) == {
        "days": {("s", "2025-11-26"): 2}, "class": {"2025-11-26": 2}, "in_flight": {"s": 1},
        "periods": {("s", "week:2025-W48"): 2, ("s", "total"): 2, ("s", "assignment:lab3"): 2}}
    row = request_row(ledger, rid)
    assert (row.student, row.day, row.started_at, row.outcome, row.reserved, row.expires_at, row.images, row.week,
            row.assignment, row.process) == ("s", "2025-11-26", NOW, "reserved", 2, NOW + 120.0, 0, "2025-W48",
                                             "lab3", "p_test")
    assert (row.route, row.model, row.size, row.n, row.stream, row.prompt) == (
        "generations", "gpt-image-1", "256x256", 2, False, "a cat")
    with ledger.engine.connect() as conn:
        assert conn.execute(select(db.state.c.groups)).scalar() == "math\nlab"
    assert isinstance(reserve(ledger, "s"), str)  # no assignment: no assignment row, the others count on
    assert counts(ledger)["periods"] == {("s", "week:2025-W48"): 3, ("s", "total"): 3, ("s", "assignment:lab3"): 2}
    assert request_row(ledger, reserve(ledger, "s")).process == "p_test"


def test_the_class_cap_counts_every_student(ledger):
    assert isinstance(reserve(ledger, "a", class_cap=3, n=2), str)
    assert isinstance(reserve(ledger, "b", class_cap=3, n=1), str)
    assert reserve(ledger, "c", class_cap=3) == Refusal("class images_per_day", 3, 3, MIDNIGHT, NOW)
    assert counts(ledger)["days"] == {("a", "2025-11-26"): 2, ("b", "2025-11-26"): 1}


@pytest.mark.parametrize(("limits", "class_cap", "assignment", "refused_by"), [
    (Limits(images_per_day=1, images_per_week=1, images_total=1), 1, LAB1, "images_per_day"),
    (Limits(images_per_week=1, images_total=1), 1, LAB1, "images_per_week"),
    (Limits(images_total=1), 1, LAB1, "images_total"),
    (Limits(), 1, LAB1, "assignment lab3"),
])
def test_when_several_limits_are_full_the_first_in_order_is_named(ledger, limits, class_cap, assignment, refused_by):
    assert reserve(ledger, "s", limits, class_cap, 2, assignment).limit == refused_by  # too many at once
    assert isinstance(reserve(ledger, "s", limits, class_cap, 1, assignment), str)
    assert reserve(ledger, "s", limits, class_cap, 1, assignment).limit == refused_by  # full after one


# ---- the limits of requests: max_concurrent, requests_per_minute, a block ----------------------------------------

def test_max_concurrent_counts_the_requests_in_flight(ledger):
    limits = Limits(max_concurrent=2)
    first, _ = reserve(ledger, limits=limits), reserve(ledger, limits=limits)  # exactly at the limit
    before = counts(ledger)
    assert reserve(ledger, limits=limits) == Refusal("max_concurrent", 2, 2, NOW + 1.0, NOW)
    assert counts(ledger) == before
    assert ledger.settle(first, outcome="ok", images=1) is True
    assert isinstance(reserve(ledger, limits=limits), str)  # one finished: a slot is free
    assert isinstance(reserve(ledger, "other", limits=limits), str)  # another student has their own
    assert counts(ledger)["in_flight"] == {"s": 2, "other": 1}


def test_requests_per_minute_counts_this_minute_and_frees_up_with_the_next(ledger):
    limits = Limits(requests_per_minute=2)
    for _ in range(2):
        ledger.settle(reserve(ledger, limits=limits), outcome="ok", images=1)  # settled: still sent this minute
    minute_end = utc(2025, 11, 26, 10, 31)
    assert reserve(ledger, limits=limits) == Refusal("requests_per_minute", 2, 2, minute_end, NOW)
    ledger.clock.t = minute_end - 0.001
    assert reserve(ledger, limits=limits).limit == "requests_per_minute"
    ledger.clock.t = minute_end
    assert isinstance(reserve(ledger, limits=limits), str)
    assert isinstance(reserve(ledger, limits=limits), str)
    assert reserve(ledger, limits=limits) == Refusal("requests_per_minute", 2, 2, minute_end + 60, minute_end)


@pytest.mark.parametrize(("limits", "refusal"), [
    (Limits(max_concurrent=0), Refusal("max_concurrent", 0, 0, NOW + 1.0, NOW)),
    (Limits(requests_per_minute=0), Refusal("requests_per_minute", 0, 0, utc(2025, 11, 26, 10, 31), NOW)),
    (Limits(max_concurrent=0, requests_per_minute=0), Refusal("max_concurrent", 0, 0, NOW + 1.0, NOW)),
])
def test_a_limit_of_zero_requests_refuses_every_request(ledger, limits, refusal):
    assert reserve(ledger, limits=limits) == refusal
    assert counts(ledger) == {"days": {}, "periods": {}, "class": {}, "in_flight": {}}
    ledger.settle(reserve(ledger), outcome="ok", images=1)  # a row of an earlier minute, nothing in flight
    ledger.clock.t = NOW + 60
    assert reserve(ledger, limits=limits) == Refusal(refusal.limit, 0, 0, refusal.resets_at + 60, NOW + 60)


def test_a_request_of_a_limit_of_one_is_allowed_once(ledger):
    assert isinstance(reserve(ledger, limits=Limits(max_concurrent=1, requests_per_minute=1)), str)


def test_a_blocked_student_is_refused_whatever_their_limits(ledger):
    ledger.settle(reserve(ledger), outcome="ok", images=1)
    with db.write(ledger.engine) as conn:
        conn.execute(update(db.state).values(blocked=True))
    assert reserve(ledger) == Refusal("blocked", 0, 0, None, NOW)
    assert reserve(ledger, limits=Limits(max_concurrent=0)) == Refusal("blocked", 0, 0, None, NOW)
    assert isinstance(reserve(ledger, "other"), str)


# ---- settling: keep what came back, give back the rest, once ------------------------------------------------------

@pytest.mark.parametrize(("outcome", "images", "kept"), [
    ("ok", 5, 3),  # more than asked (an upstream that over-delivers): the counts keep the reservation, no more
    ("ok", 3, 3),  # all came back
    ("ok", 1, 1),  # fewer: the other two are given back
    ("error", 0, 0),  # an error: all given back
    ("cancelled", 0, 0),
])
def test_settling_keeps_what_the_upstream_returned_and_gives_back_the_rest(ledger, outcome, images, kept):
    rid = reserve(ledger, "s", Limits(images_per_day=3), 5, 3, LAB)
    assert ledger.settle(rid, outcome=outcome, images=images, status=200, total_tokens=42, request_id="req_1",
                         error_code="boom" if outcome == "error" else None, error="it broke", latency_ms=12.5) is True
    assert counts(ledger) == {
        "days": {("s", "2025-11-26"): kept}, "class": {"2025-11-26": kept}, "in_flight": {"s": 0},
        "periods": {("s", "week:2025-W48"): kept, ("s", "total"): kept, ("s", "assignment:lab3"): kept}}
    row = request_row(ledger, rid)
    assert (row.outcome, row.images, row.reserved, row.status, row.total_tokens, row.request_id, row.latency_ms,
            row.error) == (outcome, images, 3, 200, 42, "req_1", 12.5, "it broke")
    assert row.error_code == ("boom" if outcome == "error" else None)
    assert ledger.settle(rid, outcome="ok", images=3) is False  # once only: a second settlement changes nothing
    assert counts(ledger)["days"] == {("s", "2025-11-26"): kept}
    assert request_row(ledger, rid).outcome == outcome
    if kept < 3:  # what was given back can be reserved again, up to the limit exactly
        assert isinstance(reserve(ledger, "s", Limits(images_per_day=3), 5, 3 - kept, LAB), str)
        assert reserve(ledger, "s", Limits(images_per_day=3), 5, 1, LAB).limit == "images_per_day"


def test_settling_an_unknown_request_changes_nothing(ledger):
    reserve(ledger)
    before = counts(ledger)
    assert ledger.settle(new_request_id(), outcome="ok", images=1) is False
    assert counts(ledger) == before


def test_a_request_settled_the_next_day_gives_back_to_the_day_and_week_it_counted_in(ledger):
    ledger.clock.t = utc(2025, 11, 30, 23, 59, 59)  # Sunday, the last second of ISO week 48
    rid = reserve(ledger, n=3)
    ledger.clock.t = MONDAY + 5
    ledger.settle(rid, outcome="ok", images=1)
    assert counts(ledger)["days"] == {("s", "2025-11-30"): 1}
    assert counts(ledger)["class"] == {"2025-11-30": 1}
    assert counts(ledger)["periods"] == {("s", "week:2025-W48"): 1, ("s", "total"): 1}


# ---- release: expired reservations, a stopped gateway's lease -------------------------------------------------------

def test_an_expired_reservation_is_released_once_and_a_late_answer_still_counts(ledger):
    rid = reserve(ledger, "s", Limits(images_per_day=5), 5, 3, LAB, ttl=60.0)
    ledger.clock.t = NOW + 60.0  # exactly at its expiry: not yet
    assert ledger.sweep() == 0
    ledger.clock.t = NOW + 60.5
    assert ledger.sweep() == 1
    assert ledger.sweep() == 0  # once
    row = request_row(ledger, rid)
    assert (row.outcome, row.error) == ("expired", "the reservation expired (the gateway stopped or hung)")
    assert counts(ledger)["days"] == {("s", "2025-11-26"): 0}
    assert counts(ledger)["in_flight"] == {"s": 0}
    # the answer came after all, with 2 images: they count (the student has them), nothing is in flight
    assert ledger.settle(rid, outcome="ok", images=2, status=200) is False
    assert counts(ledger) == {
        "days": {("s", "2025-11-26"): 2}, "class": {"2025-11-26": 2}, "in_flight": {"s": 0},
        "periods": {("s", "week:2025-W48"): 2, ("s", "total"): 2, ("s", "assignment:lab3"): 2}}
    row = request_row(ledger, rid)
    assert (row.outcome, row.images, row.status) == ("expired", 2, 200)


def test_a_late_answer_without_images_or_for_a_settled_request_counts_nothing(ledger):
    rid = reserve(ledger, ttl=1.0)
    ledger.clock.t = NOW + 2
    ledger.sweep()
    assert ledger.settle(rid, outcome="error", images=0, status=500) is False
    assert (request_row(ledger, rid).status, counts(ledger)["days"]) == (None, {("s", "2025-11-26"): 0})
    done = reserve(ledger, n=2)
    ledger.settle(done, outcome="ok", images=2)
    assert ledger.settle(done, outcome="ok", images=2) is False  # settled, not expired: nothing more counts
    assert counts(ledger)["days"] == {("s", "2025-11-26"): 2}


def test_release_gives_back_whole_reservations_once(ledger):
    rids = [reserve(ledger, n=2), reserve(ledger, n=1)]
    assert ledger.release(rids + [new_request_id()], "released: why") == 2
    assert ledger.release(rids, "again") == 0
    assert counts(ledger)["days"] == {("s", "2025-11-26"): 0}
    assert counts(ledger)["in_flight"] == {"s": 0}
    assert request_row(ledger, rids[0]).error == "released: why"


def test_the_sweep_releases_a_stopped_gateways_reservations_when_its_lease_runs_out(tmp_path):
    engine = db.connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    clock = Clock()
    stopped, alive = Ledger(engine, clock), Ledger(engine, clock)
    Lease(stopped, 30.0).start()
    own = Lease(alive, 30.0)
    own.start()
    mine, theirs = reserve(alive, "a", ttl=3600), reserve(stopped, "b", ttl=31.0)  # theirs expires at the sweep
    unleased = reserve(Ledger(engine, clock), "c", ttl=3600)  # a ledger without a lease: only its expiry frees it
    clock.t = NOW + 30.0  # both leases end exactly now: still live
    assert alive.sweep() == 0
    clock.t = NOW + 31.0  # the stopped gateway's lease ran out; ours too, but we are alive and renew it
    assert own.tick() == 1
    assert [request_row(alive, rid).outcome for rid in (mine, theirs, unleased)] == ["reserved", "expired", "reserved"]
    assert request_row(alive, theirs).error == "released: the gateway holding it stopped"
    assert counts(alive)["in_flight"] == {"a": 1, "b": 0, "c": 1}
    assert Ledger(engine, clock).sweep() == 0  # a third, unleased ledger sees our renewed lease as live
    clock.t = NOW + 100.0  # our lease ran out (the database was away): our own sweep still keeps ours
    assert alive.sweep() == 0
    clock.t = NOW + 3601  # everything expired: released as expired, with its words
    assert alive.sweep() == 2
    assert request_row(alive, mine).error == "the reservation expired (the gateway stopped or hung)"
    engine.dispose()


def test_settling_without_an_assignment_leaves_an_assignment_named_none_alone(ledger):
    named_none = Assignment("None", LAB.start, LAB.end, 5)
    reserve(ledger, assignment=named_none)
    ledger.settle(reserve(ledger, n=2), outcome="error")
    assert counts(ledger)["periods"][("s", "assignment:None")] == 1


# (the limit, what the refusal names as used) — other students and other days and weeks hold counts too
@pytest.mark.parametrize(("limits", "name", "used"), [
    (Limits(images_per_day=2), "images_per_day", 2),
    (Limits(images_per_week=2), "images_per_week", 2),
    (Limits(images_total=3), "images_total", 3),
])
def test_a_refusal_names_what_this_student_used_in_this_period(ledger, limits, name, used):
    ledger.clock.t = NOW - 7 * 86400  # last week: one image each
    reserve(ledger, "a")
    reserve(ledger, "s")
    ledger.clock.t = NOW
    reserve(ledger, "a")
    reserve(ledger, "s", n=2)
    refusal = reserve(ledger, "s", limits=limits)
    assert (refusal.limit, refusal.used) == (name, used)


# ---- text made storable, records without a reservation -------------------------------------------------------------

def test_settlement_stores_text_with_nul_and_lone_surrogates_cut_to_length(ledger):
    rid = reserve(ledger)
    assert ledger.settle(rid, outcome="error", status=502, request_id="r\x00" + "i" * 300,
                         error_code="c\ud800" + "d" * 100, error="e\x00\udfff" + "x" * 900) is True
    row = request_row(ledger, rid)
    assert row.request_id == "r\ufffd" + "i" * 198
    assert row.error_code == "c?" + "d" * 62
    assert row.error == "e\ufffd?" + "x" * 497
    assert counts(ledger)["days"] == {("s", "2025-11-26"): 0}


def test_a_refused_request_is_recorded_with_storable_text_and_holds_nothing(ledger):
    ledger.record("s", {"prompt": "a\udc80b\x00", "model": "m", "size": None}, outcome="refused",
                  status=429, error_code="quota_exceeded\x00" + "q" * 80, error="no\ud83d" + "y" * 600,
                  request_id="gw_x\x00" + "z" * 300)
    with ledger.engine.connect() as conn:
        row = conn.execute(select(db.requests)).one()
    assert re.fullmatch(r"gw_[0-9a-f]{24}", row.id)
    assert (row.student, row.day, row.started_at, row.outcome, row.status, row.latency_ms, row.reserved,
            row.images) == ("s", "2025-11-26", NOW, "refused", 429, 0.0, 0, 0)
    assert (row.route, row.n, row.stream, row.prompt, row.model, row.size) == (
        "generations", 1, False, "a?b\ufffd", "m", None)  # a request's route, n and stream unless it says
    assert row.error_code == "quota_exceeded\ufffd" + "q" * 49
    assert row.error == "no?" + "y" * 497
    assert row.request_id == "gw_x\ufffd" + "z" * 195
    assert counts(ledger) == {"days": {}, "periods": {}, "class": {}, "in_flight": {}}


def test_a_record_takes_the_route_and_stream_of_its_request(ledger):
    ledger.record("s", {"route": "edits", "stream": True, "n": 2}, outcome="invalid", status=400, error_code=None,
                  error=None, request_id="gw_1")
    with ledger.engine.connect() as conn:
        row = conn.execute(select(db.requests)).one()
    assert (row.route, row.stream, row.n, row.error_code, row.error) == ("edits", True, 2, None, None)


def test_a_reservation_stores_its_prompt_storable(ledger):
    rid = ledger.reserve("s", Limits(), None, 1, dict(META, prompt="x\x00\ud800y"), TTL)
    assert request_row(ledger, rid).prompt == "x\ufffd?y"


# ---- days and weeks -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("t", "day", "reset"), [
    (NOW, "2025-11-26", MIDNIGHT),
    (utc(2025, 11, 26), "2025-11-26", MIDNIGHT),
    (MIDNIGHT - 0.001, "2025-11-26", MIDNIGHT),
    (utc(2025, 12, 31, 23, 59, 59), "2025-12-31", utc(2026, 1, 1)),
    (utc(2024, 2, 28, 12), "2024-02-28", utc(2024, 2, 29)),
])
def test_days_are_utc_days_and_reset_at_the_next_midnight(t, day, reset):
    assert (day_of(t), next_reset(t)) == (day, reset)


@pytest.mark.parametrize(("limits", "last", "first", "counted"), [
    (Limits(images_per_day=2), MIDNIGHT - 0.001, MIDNIGHT, ("days", ("s", "2025-11-27"))),
    (Limits(images_per_week=2), MONDAY - 0.001, MONDAY, ("periods", ("s", "week:2025-W49"))),
])
def test_a_full_day_or_week_frees_up_when_the_next_begins(ledger, limits, last, first, counted):
    ledger.clock.t = last
    assert isinstance(reserve(ledger, limits=limits, n=2), str)
    assert reserve(ledger, limits=limits).resets_at == first
    ledger.clock.t = first
    rid = reserve(ledger, limits=limits, n=2)
    assert isinstance(rid, str)
    table, key = counted
    assert counts(ledger)[table][key] == 2
    assert reserve(ledger, limits=limits).resets_at > first


def test_the_term_does_not_reset(ledger):
    limits = Limits(images_total=1)
    reserve(ledger, limits=limits)
    ledger.clock.t = NOW + 40 * 86400
    assert reserve(ledger, limits=limits) == Refusal("images_total", 1, 1, None, NOW + 40 * 86400)


def test_a_ledger_without_a_clock_uses_the_time_of_day(tmp_path):
    import time

    engine = db.connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    before = time.time()
    rid = Ledger(engine).reserve("s", Limits(), None, 1, dict(META), TTL)
    assert before <= request_row(Ledger(engine), rid).started_at <= time.time()
    engine.dispose()
