"""Rate limits: the pacer's rules with a frozen clock, the demo server's limit, and sweeps that wait
for the limit instead of failing (on loopback)."""

from __future__ import annotations

import math

import httpx
import pytest

from wisgate_nb import errors
from wisgate_nb.emulator.limits import admit, duration, images_asked, limit_headers
from wisgate_nb.http.pacer import (
    CUT,
    PROBE_FIRST_S,
    PROBE_GROWTH,
    Pacer,
    budgets_from,
    cost_of,
    limit_kind,
    parse_duration,
    wait_words,
)

ONE = cost_of(1)


def limited(**headers) -> dict:
    return {f"x-ratelimit-{k.replace('_', '-', 1)}": str(v) for k, v in headers.items()}


# ---- pure rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "seconds"), [
    ("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3s", 3723.0), ("0.5", 0.5), ("1.25s", 1.25),
    ("", None), (None, None), ("soon", None), ("-1", None), ("3x", None), ("nan", None),
])
def test_reset_durations_are_read_as_the_api_writes_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("seconds", [0.02, 0.5, 1.0, 1.5, 59.9, 61.0, 360.0])
def test_the_demo_servers_durations_read_back(seconds):
    assert parse_duration(duration(seconds)) == pytest.approx(seconds, abs=0.6)


def test_budgets_need_remaining_and_reset():
    found = budgets_from(limited(limit_requests=20, remaining_requests=3, reset_requests="2s",
                                 remaining_images=5), now=100.0)
    assert set(found) == {"requests"}
    assert (found["requests"].limit, found["requests"].remaining, found["requests"].until) == (20, 3, 102.0)


@pytest.mark.parametrize(("status", "code", "message", "headers", "kind"), [
    (429, "rate_limit_exceeded", "Rate limit reached", {}, "rate"),
    (429, None, "busy", {}, "rate"),
    (429, "insufficient_quota", "used up", {}, None),
    (429, "quota_exceeded", "used up", {}, None),
    (429, "rate_limit_exceeded", "slow", {"x-should-retry": "false"}, None),
    (429, "too_many_concurrent", "wait", {}, "concurrency"),
    # the classroom gateway: quota_exceeded and x-should-retry: false, but these free up by themselves
    (429, "quota_exceeded", "Quota exceeded: max_concurrent is 2 for ana and 2 requests are still running",
     {"x-should-retry": "false"}, "concurrency"),
    (429, "quota_exceeded", "Quota exceeded: requests_per_minute is 5 for ana and 5 requests were sent",
     {"x-should-retry": "false"}, "rate"),
    (429, "quota_exceeded", "Quota exceeded: images_per_day is 20 for ana", {"x-should-retry": "false"}, None),
    (500, None, "boom", {}, None), (503, None, "too many concurrent requests", {}, None),
])
def test_which_refusals_are_waited_out(status, code, message, headers, kind):
    from wisgate_nb.http.wire import error_from_response

    body = httpx.Response(status, json={"error": {"message": message, "code": code}}).content
    assert limit_kind(error_from_response(status, body, headers)) == kind


def test_a_used_up_window_makes_requests_wait_for_its_reset():
    pacer = Pacer()
    tickets = [pacer.started(ONE, 0.0) for _ in range(3)]
    pacer.finished(tickets[0], 0.5, limited(limit_requests=3, remaining_requests=1, reset_requests="1.5s"), "ok")
    pacer.finished(tickets[1], 0.5, limited(limit_requests=3, remaining_requests=0, reset_requests="1.5s"), "ok")
    pacer.finished(tickets[2], 0.6, limited(limit_requests=3, remaining_requests=2, reset_requests="1.4s"), "ok")
    assert pacer.wait_for(ONE, 0.7) == pytest.approx(1.3)  # the lowest count of the window wins
    assert pacer.wait_for(ONE, 2.0) == 0  # the window reset: the whole limit again
    tickets = [pacer.started(ONE, 2.0) for _ in range(3)]
    assert pacer.wait_for(ONE, 2.0) is None  # used up, the new window's reset not told: wait for an answer
    pacer.finished(tickets[0], 2.5, limited(limit_requests=3, remaining_requests=0, reset_requests="1.5s"), "ok")
    assert pacer.wait_for(ONE, 2.5) == pytest.approx(1.5)


def test_images_count_against_an_images_limit():
    pacer = Pacer()
    pacer.finished(pacer.started(cost_of(2), 0.0), 0.1,
                   limited(limit_images=5, remaining_images=3, reset_images="10s"), "ok")
    assert pacer.wait_for(cost_of(3), 0.2) == 0
    pacer.started(cost_of(3), 0.2)
    assert pacer.wait_for(cost_of(1), 0.3) == pytest.approx(9.8)


def test_retry_after_blocks_everyone_and_the_message_is_the_last_resort():
    pacer = Pacer()
    pacer.finished(pacer.started(ONE, 0.0), 1.0, {"retry-after-ms": "2500"}, "rate")
    assert pacer.wait_for(ONE, 1.0) == pytest.approx(2.5) and pacer.wait_for(ONE, 3.5) == 0
    pacer.finished(pacer.started(ONE, 4.0), 4.0, {}, "rate", "Please try again in 3s.")
    assert pacer.wait_for(ONE, 4.0) == pytest.approx(3.0)


def test_a_429_without_a_hint_sends_one_probe_at_growing_intervals():
    pacer = Pacer()
    tickets = [pacer.started(ONE, 0.0) for _ in range(4)]
    for ticket in tickets:  # a burst of refusals moves the interval once
        pacer.finished(ticket, 0.0, {}, "rate")
    assert pacer.wait_for(ONE, 0.0) == pytest.approx(PROBE_FIRST_S)
    probe = pacer.started(ONE, PROBE_FIRST_S)
    assert probe.probe and pacer.wait_for(ONE, 0.26) == pytest.approx(0.04)  # the others wait for the probe
    pacer.finished(probe, 0.35, {}, "rate")  # refused after 0.1 s
    assert pacer.wait_for(ONE, 0.35) == pytest.approx(PROBE_GROWTH * PROBE_FIRST_S)
    probe = pacer.started(ONE, 0.7)
    assert pacer.wait_for(ONE, 0.875) == pytest.approx(0.125)  # three round trips of a refusal
    pacer.finished(probe, 0.95, {}, "ok")  # it passed: everyone goes (as many as the concurrency allows)
    assert pacer.wait_for(ONE, 0.95) == 0 and not pacer.probing


def test_a_probe_not_refused_within_three_refusal_round_trips_lets_the_others_go():
    pacer = Pacer()
    pacer.finished(pacer.started(ONE, 0.0), 0.2, {}, "rate")
    probe = pacer.started(ONE, 0.45)
    assert pacer.wait_for(ONE, 0.5) == pytest.approx(0.55)
    assert pacer.wait_for(ONE, 1.05) == 0 and not pacer.probing  # its images may take a minute: no need to wait
    pacer.finished(probe, 1.1, {}, "rate")  # a late refusal: probing again, at a longer interval
    assert pacer.probing and pacer.wait_for(ONE, 1.1) == pytest.approx(PROBE_GROWTH * PROBE_FIRST_S)


def test_concurrency_is_cut_gently_from_the_second_refused_round_and_grows_with_successes():
    pacer = Pacer()
    burst = [pacer.started(ONE, 0.0) for _ in range(20)]
    for ticket in burst:  # one round: sent together, refused together
        pacer.finished(ticket, 0.5, {"retry-after": "1"}, "rate")
    assert pacer.concurrency is None
    second = [pacer.started(ONE, 1.5) for _ in range(20)]
    for ticket in second:
        pacer.finished(ticket, 1.6, {"retry-after": "1"}, "rate")
    assert pacer.concurrency == pytest.approx(CUT * 20)  # cut once for the round, not twenty times
    third = [pacer.started(ONE, 2.6) for _ in range(18)]
    pacer.finished(third[0], 2.7, {"retry-after": "1"}, "rate")
    assert pacer.concurrency == pytest.approx(CUT * CUT * 20)
    for ticket in third[1:]:  # sent before the last 429: their successes say nothing new
        pacer.finished(ticket, 3.0, {}, "ok")
    assert pacer.concurrency == pytest.approx(CUT * CUT * 20) and pacer.strikes == 3
    for ticket in [pacer.started(ONE, 3.7) for _ in range(10)]:
        pacer.finished(ticket, 4.0, {}, "ok")
    assert pacer.concurrency == pytest.approx(_grown(CUT * CUT * 20, 11)[-1]) and pacer.strikes == 0


def test_refused_probes_do_not_cut_the_concurrency():
    pacer = Pacer()
    pacer.finished(pacer.started(ONE, 0.0), 0.1, {}, "rate")
    for _ in range(5):
        now = pacer.blocked_until
        pacer.finished(pacer.started(ONE, now), now + 0.01, {}, "rate")
    assert pacer.concurrency is None and pacer.strikes == 1


def _grown(start: float, successes: int) -> list[float]:
    values = [start]
    for _ in range(successes - 1):
        values.append(values[-1] + 1 / values[-1])
    return values


def test_a_concurrency_refusal_keeps_in_flight_what_was_let_through():
    pacer = Pacer()
    tickets = [pacer.started(ONE, 0.0) for _ in range(6)]
    pacer.finished(tickets[5], 0.0, {}, "concurrency")
    assert pacer.concurrency == 5 and pacer.wait_for(ONE, 0.0) is None  # wait for one to end
    pacer.finished(tickets[0], 1.0, {}, "ok")
    assert pacer.wait_for(ONE, 1.0) == 0


@pytest.mark.parametrize(("seconds", "words"), [
    (0.2, "waiting for the rate limit (~1 s)"), (4.0, "waiting for the rate limit (~4 s)"),
    (None, "waiting for the rate limit (a request in flight to finish)"),
])
def test_the_words_of_a_wait(seconds, words):
    assert wait_words(seconds) == words


# ---- the demo server's limit -----------------------------------------------------------------

def test_the_demo_server_counts_a_fixed_window():
    windows, limits = {}, {"requests": 2, "images": 3}
    assert admit(windows, limits, {"requests": 1, "images": 2}, 0.0, 1.0) is None
    assert admit(windows, limits, {"requests": 1, "images": 2}, 0.1, 1.0) == ("images", pytest.approx(0.9))
    assert admit(windows, limits, {"requests": 1, "images": 1}, 0.2, 1.0) is None
    assert admit(windows, limits, {"requests": 1, "images": 1}, 0.3, 1.0) == ("requests", pytest.approx(0.7))
    assert admit(windows, limits, {"requests": 1, "images": 1}, 1.0, 1.0) is None  # a new window
    headers = dict(limit_headers(windows, limits, 1.25, 1.0))
    assert headers[b"x-ratelimit-remaining-requests"] == b"1" and headers[b"x-ratelimit-reset-requests"] == b"750ms"


@pytest.mark.parametrize(("body", "kind", "n"), [
    (b'{"prompt": "p", "n": 3}', "application/json", 3), (b'{"prompt": "p"}', "application/json", 1),
    (b'--b\r\nContent-Disposition: form-data; name="n"\r\n\r\n4\r\n--b--', "multipart/form-data", 4),
    (b"not json", "application/json", 1),
])
def test_the_demo_server_reads_how_many_images_are_asked(body, kind, n):
    assert images_asked(body, kind) == n


@pytest.fixture
def limited_server(server):
    config = server.emulator.config
    yield server
    config.rpm = config.ipm = None
    config.rate_window, config.ratelimit_headers = 60.0, True


@pytest.mark.parametrize("headers", [True, False])
def test_the_demo_server_answers_429_past_its_limit(limited_server, headers):
    from conftest import TEST_KEY

    config = limited_server.emulator.config
    config.rpm, config.rate_window, config.ratelimit_headers = 2, 30.0, headers
    with httpx.Client(base_url=limited_server.base_url, headers={"Authorization": f"Bearer {TEST_KEY}"}) as http:
        answers = [http.post("/images/generations", json={"prompt": "p", "size": "64x64"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    refused = answers[2]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded" and refused.json()["error"]["type"] == "requests"
    if headers:
        assert answers[0].headers["x-ratelimit-remaining-requests"] in ("0", "1")
        assert 29 <= float(refused.headers["retry-after-ms"]) / 1000 <= 30
        assert refused.headers["x-ratelimit-limit-requests"] == "2" and "try again in" in refused.text
    else:
        assert not [h for h in refused.headers if h.startswith(("x-ratelimit", "retry-after"))]
        assert "try again" not in refused.text
    assert [r.fault for r in limited_server.emulator.image_requests] == [None, None, "rate_limit"]


@pytest.mark.parametrize("headers", [True, False])
def test_a_sweep_over_the_limit_waits_for_it_and_loses_nothing(limited_server, session, headers):
    config = limited_server.emulator.config
    config.rpm, config.rate_window, config.ratelimit_headers = 4, 1.0, headers
    session.config.max_concurrency, session.config.max_retries = 8, 0
    statuses: list[str] = []
    requests = [session.prepare(f"prompt {i}", size="64x64") for i in range(12)]
    results = session.run_many(requests, on_done=lambda i, r: statuses.append(type(r).__name__))
    assert [type(r).__name__ for r in results] == ["Generation"] * 12, statuses
    served = [r for r in limited_server.emulator.image_requests if r.status == 200]
    assert len(served) == 12
    refused = [r for r in limited_server.emulator.image_requests if r.fault == "rate_limit"]
    if headers:  # the headers said when the window reset: at most the first burst meets a 429
        assert len(refused) <= 4
    assert all(row.status == "ok" for row in session.history.records)


def test_an_images_limit_counts_the_images_of_each_request(limited_server, session):
    config = limited_server.emulator.config
    config.ipm, config.rate_window = 4, 1.0
    session.config.max_concurrency, session.config.max_retries = 4, 0
    results = session.run_many([session.prepare(f"pair {i}", size="64x64", n=2) for i in range(4)])
    assert [len(r.images) for r in results] == [2, 2, 2, 2]
    assert len([r for r in limited_server.emulator.image_requests if r.status == 200]) == 4
    assert len([r for r in limited_server.emulator.image_requests if r.fault == "rate_limit"]) <= 2


def test_a_request_that_would_wait_longer_than_rate_limit_wait_fails(limited_server, session):
    config = limited_server.emulator.config
    config.rpm, config.rate_window = 1, 30.0
    session.config.rate_limit_wait = 5
    session.run(session.prepare("first", size="64x64"))
    with pytest.raises(errors.RateLimitError, match=r"rate_limit_wait=5 s"):
        session.run(session.prepare("second", size="64x64"))
    assert [r.status for r in session.history.records] == ["ok", "error"]
    assert not math.isnan(session.history.records[-1].latency_s or 0)


def test_a_gateways_max_concurrent_refusal_is_waited_out_not_failed():
    import asyncio

    from wisgate_nb.http.client import ImagesClient

    refusal = {"error": {"message": "Quota exceeded: max_concurrent is 2 for ana and 2 requests are still running; "
                                    "try again when one finishes", "type": "insufficient_quota",
                         "code": "quota_exceeded"}}
    answers = [httpx.Response(429, headers={"x-should-retry": "false"}, json=refusal),
               httpx.Response(200, json={"data": [{"b64_json": _PNG_B64}]})]
    sleeps: list[float] = []
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answers.pop(0)))
    client = ImagesClient(base_url="http://gateway.test/v1", api_key="k", http_client=http, max_retries=0,
                          sleep=sleep, clock=lambda: clock[0])
    result = asyncio.run(client.generate({"model": "m", "prompt": "p"}))
    assert result.attempt_statuses == ("429", "200") and sleeps == [PROBE_FIRST_S]


def _png_b64() -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


_PNG_B64 = _png_b64()


def test_a_cut_starts_from_what_was_in_flight_when_the_learned_cap_grew_above_it():
    pacer = Pacer(concurrency=50.0, strikes=1)
    tickets = [pacer.started(ONE, 0.0) for _ in range(10)]
    pacer.finished(tickets[0], 0.5, {"retry-after": "1"}, "rate")
    assert pacer.concurrency == pytest.approx(CUT * 10)


def test_the_emulator_command_takes_the_limit_options():
    from wisgate_nb.cli import _parser, emulator_config

    config = emulator_config(_parser().parse_args(
        ["emulator", "--rpm", "5", "--ipm", "12", "--rate-window", "2.5", "--no-ratelimit-headers"]))
    assert (config.rpm, config.ipm, config.rate_window, config.ratelimit_headers) == (5, 12, 2.5, False)
    default = emulator_config(_parser().parse_args(["emulator"]))
    assert (default.rpm, default.ipm, default.rate_window, default.ratelimit_headers) == (None, None, 60.0, True)
