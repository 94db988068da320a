"""Table tests of the rate-limit pacer's rules — http/pacer.py — beyond tests/test_rate_limits.py: a request's
cost, the budgets a request does not touch, the waits a 429 names, the concurrency's floor, the waiters woken
when a request ends, and the error of a wait too long. A frozen clock (every rule takes ``now``); no server.
Written so that mutation testing (README, "Mutation testing") finds no change they miss.
"""

from __future__ import annotations

import asyncio

import pytest

from wisgate_nb import errors
from wisgate_nb.http.pacer import (
    PROBE_FIRST_S,
    PROBE_GROWTH,
    Budget,
    Pacer,
    Ticket,
    budgets_from,
    cost_of,
    images_asked,
    limit_kind,
    over_wait,
    parse_duration,
)

ONE = cost_of(1)


@pytest.mark.parametrize(("n", "cost"), [
    (1, {"requests": 1, "images": 1}), (4, {"requests": 1, "images": 4}), (0, {"requests": 1, "images": 1}),
])
def test_a_request_costs_one_request_and_its_images(n, cost):
    assert cost_of(n) == cost


@pytest.mark.parametrize(("content", "n"), [
    ({"json": {"prompt": "p", "n": 3}}, 3),
    ({"data": {"prompt": "p", "n": "2"}}, 2),  # an edit's multipart fields are text
    ({"json": {"prompt": "p"}}, 1),
    ({"json": {"n": None}}, 1),
    ({"json": {"n": 0}}, 1),
    ({"json": {"n": "many"}}, 1),
    ({"json": {"n": [2]}}, 1),
    ({"json": {}, "data": {"n": 4}}, 4),
    ({}, 1),
])
def test_the_images_a_request_asks_for(content, n):
    assert images_asked(content) == n


def refusal(code=None, message="slow down"):
    return errors.RateLimitError(message, status_code=429, code=code)


@pytest.mark.parametrize(("exc", "kind"), [
    (refusal(code="max_concurrent_reached"), "concurrency"),  # said by the code alone
    (refusal(code=None, message="concurrency limit of 4"), "concurrency"),
    (refusal(code=None, message=None), "rate"),
])
def test_a_refusal_is_read_from_its_code_and_its_message(exc, kind):
    assert limit_kind(exc) == kind


def test_a_started_request_gets_a_ticket_and_spends_only_what_it_costs():
    pacer = Pacer(budgets={"requests": Budget(10, 5, 60.0), "tokens": Budget(None, 7, 60.0)})
    assert pacer.started(ONE, 2.0) == Ticket({"requests": 1, "images": 1}, False, 2.0)
    assert (pacer.budgets["requests"].remaining, pacer.budgets["tokens"].remaining) == (4, 7)  # no tokens spent
    assert pacer.in_flight == 1


@pytest.mark.parametrize(("remaining", "cost", "wait"), [
    (1, {"requests": 1}, 0.0),   # a budget the request does not touch need only not be used up
    (0, {"requests": 1}, 8.0),
    (2, {"tokens": 3}, 8.0),     # more than is left: wait for the reset
    (3, {"tokens": 3}, 0.0),
    (1, {"tokens": 0}, 0.0),
])
def test_a_budget_lets_through_what_is_left_of_it(remaining, cost, wait):
    pacer = Pacer(budgets={"tokens": Budget(100, remaining, 10.0)})
    assert pacer.wait_for(cost, 2.0) == wait


def test_a_budget_reset_without_a_limit_is_forgotten_and_the_others_still_count():
    pacer = Pacer(budgets={"requests": Budget(None, 0, 1.0), "images": Budget(5, 0, 9.0)})
    assert pacer.wait_for(ONE, 2.0) == 7.0
    assert list(pacer.budgets) == ["images"]


def test_a_learned_concurrency_of_one_lets_one_through():
    pacer = Pacer(concurrency=1.5)
    pacer.started(ONE, 0.0)
    assert pacer.wait_for(ONE, 0.0) is None
    pacer.concurrency = 2.0
    assert pacer.wait_for(ONE, 0.0) == 0.0


@pytest.mark.parametrize("in_flight", [0, 1])
def test_a_concurrency_refusal_keeps_at_least_one_slot(in_flight):
    pacer = Pacer()
    tickets = [pacer.started(ONE, 0.0) for _ in range(in_flight + 1)]
    pacer.finished(tickets[0], 0.1, {}, "concurrency")
    assert pacer.concurrency == 1.0
    assert pacer.limited == 1


def test_a_small_concurrency_grows_by_a_whole_slot_per_success():
    pacer = Pacer(concurrency=1.0)
    pacer.finished(pacer.started(ONE, 0.0), 1.0, {}, "ok")
    assert pacer.concurrency == 2.0
    pacer.finished(pacer.started(ONE, 1.0), 2.0, {}, "ok")
    assert pacer.concurrency == 2.5


def test_a_cut_never_goes_below_one_slot():
    pacer = Pacer(concurrency=1.0, strikes=1, last_429=0.0)
    pacer.finished(pacer.started(ONE, 1.0), 1.5, {"retry-after": "1"}, "rate")
    assert pacer.concurrency == 1.0 and pacer.strikes == 2


def test_each_refusal_waited_out_is_counted():
    pacer = Pacer()
    tickets = [pacer.started(ONE, 0.0) for _ in range(4)]
    pacer.finished(tickets[0], 0.5, {}, "concurrency")
    pacer.finished(tickets[1], 0.6, {"retry-after": "1"}, "rate")
    pacer.finished(tickets[2], 0.7, {}, "concurrency")
    pacer.finished(tickets[3], 0.8, {}, "other")
    assert pacer.limited == 3


def test_a_success_sent_at_the_moment_of_the_last_refusal_says_nothing_new():
    pacer = Pacer()
    first, second = pacer.started(ONE, 0.0), pacer.started(ONE, 0.0)
    pacer.finished(first, 0.0, {}, "rate")  # refused at once: probing from now
    pacer.finished(second, 0.2, {}, "ok")
    assert pacer.probing and pacer.strikes == 1


def test_a_refusal_sent_at_the_moment_of_the_last_is_the_same_round():
    pacer = Pacer()
    first, second = pacer.started(ONE, 1.0), pacer.started(ONE, 1.0)
    pacer.finished(first, 1.0, {"retry-after": "1"}, "rate")
    pacer.finished(second, 1.3, {"retry-after": "1"}, "rate")
    assert pacer.strikes == 1


def test_each_refusal_of_a_burst_keeps_the_quickest_round_trip():
    pacer = Pacer()
    tickets = [pacer.started(ONE, 0.0) for _ in range(3)]
    for ticket, now in zip(tickets, (0.4, 0.2, 0.6)):
        pacer.finished(ticket, now, {"retry-after": "1"}, "rate")
    assert pacer.refusal_s == 0.2


def test_a_refused_probe_goes_again_at_the_longer_interval_not_later():
    pacer = Pacer()
    pacer.finished(pacer.started(ONE, 0.0), 0.1, {}, "rate")  # a 429 without a hint: probe at 0.1 + 0.25
    assert pacer.wait_for(ONE, 0.35) == 0.0
    probe = pacer.started(ONE, 0.35)
    pacer.finished(probe, 0.85, {}, "rate")  # refused after 0.5 s: the next probe PROBE_FIRST_S × GROWTH later
    again = 0.85 + PROBE_FIRST_S * PROBE_GROWTH
    assert pacer.wait_for(ONE, again - 0.01) == pytest.approx(0.01)
    assert pacer.wait_for(ONE, again) == 0.0  # the probe is back: no grace to wait for


def test_a_concurrency_refusal_with_nothing_of_ours_in_flight_asks_again_later():
    pacer = Pacer()
    pacer.finished(pacer.started(ONE, 2.0), 2.5, {}, "concurrency")
    assert pacer.probing and pacer.blocked_until == 2.5 + PROBE_FIRST_S
    assert pacer.probe_delay == PROBE_FIRST_S * PROBE_GROWTH


@pytest.mark.parametrize(("headers", "message", "blocked_until"), [
    ({"retry-after": "3"}, "try again in 20s", 13.0),
    ({"retry-after": "0"}, "Please try again in 5s", 15.0),  # a zero says nothing: the message's words
    ({"retry-after-ms": "1500"}, None, 11.5),
    ({}, "Please try again in 2s", 12.0),
])
def test_a_429_waits_as_long_as_it_says(headers, message, blocked_until):
    pacer = Pacer()
    pacer.finished(pacer.started(ONE, 9.0), 10.0, headers, "rate", message)
    assert pacer.blocked_until == blocked_until
    assert not pacer.probing


@pytest.mark.parametrize(("remaining", "reset", "blocked_until"), [
    (0, "4s", 14.0),       # the window used up: wait for its reset
    (0, "2s", 12.0),
    (1, "4s", 16.0),       # not used up: the message's 6 s
])
def test_a_429_from_a_used_up_window_waits_for_its_reset(remaining, reset, blocked_until):
    pacer = Pacer()
    headers = {"x-ratelimit-remaining-requests": str(remaining), "x-ratelimit-reset-requests": reset}
    pacer.finished(pacer.started(ONE, 9.0), 10.0, headers, "rate", "try again in 6s")
    assert pacer.blocked_until == blocked_until


def test_a_used_up_window_ending_now_is_no_hint():
    pacer = Pacer(budgets={"requests": Budget(3, 0, 10.0), "images": Budget(9, 0, 13.0)})
    ticket = pacer.started({"requests": 0, "images": 0}, 9.0)
    pacer.finished(ticket, 10.0, {}, "rate", None)
    assert pacer.blocked_until == 13.0  # the longest of the windows still used up


def test_a_request_that_ends_wakes_whoever_waits():
    async def scenario():
        pacer = Pacer()
        ticket = pacer.started(ONE, 0.0)
        waiting = asyncio.ensure_future(pacer.changed(asyncio.sleep(30)))
        await asyncio.sleep(0)
        assert len(pacer._waiters) == 1
        pacer.finished(ticket, 0.1, {}, "ok")
        for _ in range(3):  # a few turns of the loop, far less than the 30 s sleep
            await asyncio.sleep(0)
        done = waiting.done()
        waiting.cancel()
        assert done
        assert pacer._waiters == []
        await pacer.changed(asyncio.sleep(0))  # a sleep that ends first: its waiter is dropped too
        assert pacer._waiters == []

    asyncio.run(scenario())


@pytest.mark.parametrize(("wait", "limit", "refused", "message"), [
    (None, 600.0, None, "the rate limit would keep this request waiting longer than rate_limit_wait=600 s "
                        "(a request in flight to finish)"),
    (0.2, 0.5, None, "the rate limit would keep this request waiting longer than rate_limit_wait=0.5 s (~1 s)"),
    (61.2, 60.0, errors.RateLimitError("Rate limit reached", status_code=429, code="rate_limit_exceeded",
                                       request_id="req-7", request_id_header="x-request-id"),
     "the rate limit would keep this request waiting longer than rate_limit_wait=60 s (~62 s); "
     "the server said: Rate limit reached"),
])
def test_a_wait_too_long_is_a_rate_limit_error_that_says_why(wait, limit, refused, message):
    error = over_wait(wait, limit, refused)
    assert isinstance(error, errors.RateLimitError)
    assert error.message == message
    assert error.status_code == 429
    assert (error.code, error.request_id, error.request_id_header) == (
        (refused.code, refused.request_id, refused.request_id_header) if refused else (None, None, None))


@pytest.mark.parametrize(("text", "seconds"), [("0", 0.0), ("0s", 0.0), ("1s later", None), ("2m junk", None),
                                               ("5s5", None)])
def test_a_reset_of_zero_is_now_and_trailing_words_are_no_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_a_negative_remaining_count_is_no_budget():
    headers = {"x-ratelimit-remaining-requests": "-1", "x-ratelimit-reset-requests": "1s",
               "x-ratelimit-remaining-images": "4", "x-ratelimit-reset-images": "1s"}
    assert budgets_from(headers, 0.0) == {"images": Budget(None, 4, 1.0)}


def headers_of(remaining, reset, limit=None):
    told = {"x-ratelimit-remaining-requests": str(remaining), "x-ratelimit-reset-requests": reset}
    return told | ({"x-ratelimit-limit-requests": str(limit)} if limit is not None else {})


@pytest.mark.parametrize(("limit", "kept"), [(20, 20), (None, 10)])
def test_in_the_same_window_the_lowest_count_and_reset_and_the_last_limit_told(limit, kept):
    pacer = Pacer(budgets={"requests": Budget(10, 4, 8.0)})
    pacer.finished(pacer.started({}, 1.0), 2.0, headers_of(6, "3s", limit), "ok")
    assert pacer.budgets == {"requests": Budget(kept, 4, 5.0)}


def test_at_its_reset_a_window_is_new():
    pacer = Pacer(budgets={"requests": Budget(10, 0, 5.0)})
    pacer.finished(pacer.started({}, 4.0), 5.0, headers_of(9, "10s", 10), "ok")
    assert pacer.budgets == {"requests": Budget(10, 9, 15.0)}


def test_a_window_that_ends_as_the_429_comes_is_no_hint():
    pacer = Pacer(budgets={"requests": Budget(3, 0, 10.0)})
    pacer.finished(pacer.started({"requests": 0}, 9.0), 10.0, {}, "rate", "try again in 2s")
    assert pacer.blocked_until == 12.0


def test_a_refused_probe_with_nothing_else_in_flight_moves_the_interval_on():
    pacer = Pacer()
    pacer.finished(pacer.started(ONE, 0.0), 0.1, {}, "rate")  # probing: the first probe at 0.35
    probe = pacer.started(ONE, 0.35)
    pacer.finished(probe, 0.45, {}, "concurrency")
    assert pacer.blocked_until == 0.45 + PROBE_FIRST_S * PROBE_GROWTH
    assert pacer.probing and not pacer.probe_out
