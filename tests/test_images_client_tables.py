"""ImagesClient (http/client.py) as tables over httpx.MockTransport, each well under a second: what ``quota()`` and
``check()`` send and say, the debug log of a request's life (never the key, never a URL's secrets), what the pacer is
told, and what an attempt log holds when a request is cancelled."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from test_client_unit import B64, BASE, KEY, PNG, STREAMED, Server, make_client, ok_body, run, sse

from wisgate_nb import errors
from wisgate_nb.http import client as client_module
from wisgate_nb.http.quota import QUOTA_TIMEOUT_S, QuotaLeft
from wisgate_nb.http.tls import tls_context

LOGGER = "wisgate_nb.http.client"
GEN = BASE + "/images/generations"
QUOTA_DOC = {"remaining": {"images_today": 17}, "limits": {"images_per_day": 20}, "used": {"images_today": 3},
             "resets_at": "2026-12-08T00:00:00Z", "student": "ada"}


def timeouts(request: httpx.Request) -> set:
    return set(request.extensions["timeout"].values())


def debug_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


# ---- quota(): a gateway's "images left today", never an error ----

def test_quota_asks_the_gateway_with_the_key_and_a_short_timeout():
    server = Server(httpx.Response(200, json=QUOTA_DOC))
    http = httpx.AsyncClient(transport=httpx.MockTransport(server), timeout=60)  # not the quota's own
    client = client_module.ImagesClient(base_url=BASE, api_key=KEY, http_client=http)
    assert run(client.quota()) == QuotaLeft(17, 20, 3, "2026-12-08T00:00:00Z", "ada")
    (request,) = server.requests
    assert (request.method, str(request.url)) == ("GET", BASE + "/quota")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "application/json"
    assert timeouts(request) == {QUOTA_TIMEOUT_S}


@pytest.mark.parametrize("answer, why", [
    (httpx.Response(404, json={"error": "no such route"}), None),  # a plain endpoint: no gateway
    (httpx.Response(200, text="not json"), None),
    (httpx.ConnectError("refused"), "ConnectError"),
    (httpx.ReadTimeout("slow"), "ReadTimeout"),
])
def test_quota_is_none_when_there_is_none_and_says_why_only_in_the_debug_log(answer, why, caplog):
    client, _ = make_client(Server(answer))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert run(client.quota()) is None
    assert debug_lines(caplog) == ([f"quota not available: {why}"] if why else [])


# ---- check(): %wisgate_doctor's "does the endpoint answer?" ----

@pytest.mark.parametrize("status, rid, said", [
    (200, "req_1", "yes: HTTP 200 in 1500 ms (request id req_1)"),
    (204, None, "yes: HTTP 204 in 1500 ms"),
    (399, None, "yes: HTTP 399 in 1500 ms"),
    (400, None, "it answers HTTP 400 to GET /models (image requests may still work)"),
    (401, "req_2", "it answers, but refuses the key: HTTP 401 (request id req_2)"),
    (401, None, "it answers, but refuses the key: HTTP 401"),
    (402, "req_3", "it answers HTTP 402 to GET /models (request id req_3) (image requests may still work)"),
    (503, None, "it answers HTTP 503 to GET /models (image requests may still work)"),
])
def test_check_says_in_words_how_the_endpoint_answers(status, rid, said, monkeypatch, caplog):
    clock = [500.0]
    monkeypatch.setattr(client_module.time, "perf_counter", lambda: clock[0])

    def answer(request):
        clock[0] += 1.5  # the round trip takes a second and a half
        return httpx.Response(status, json={"data": []}, headers={"x-request-id": rid} if rid else {})

    client, _ = make_client(Server(answer))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert run(client.check()) == said
    assert debug_lines(caplog) == [f"GET {BASE}/models -> HTTP {status} (request id {rid})"]


@pytest.mark.parametrize("timeout, sent", [(120.0, 10.0), (3.0, 3.0), (10.5, 10.0)])
def test_check_sends_a_plain_get_of_models_with_at_most_ten_seconds(timeout, sent):
    server = Server(httpx.Response(200, json={"data": []}))
    client, _ = make_client(server, timeout=timeout)
    run(client.check())
    (request,) = server.requests
    assert (request.method, str(request.url)) == ("GET", BASE + "/models")
    assert request.headers["accept"] == "application/json" and request.headers["authorization"] == f"Bearer {KEY}"
    assert timeouts(request) == {sent}


def test_check_logs_the_url_without_its_secrets(caplog):
    server = Server(httpx.Response(200, json={"data": []}))
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    client = client_module.ImagesClient(base_url="https://user:pw@api.test/v1", api_key=KEY, http_client=http)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client.check())
    assert debug_lines(caplog) == ["GET https://api.test/v1/models -> HTTP 200 (request id None)"]


# ---- what every request sends ----

@pytest.mark.parametrize("payload, accept", [({"model": "m", "prompt": "p"}, "application/json"),
                                             (STREAMED, "text/event-stream")])
def test_the_headers_are_sent_under_their_usual_names(payload, accept):
    server = Server(httpx.Response(200, json=ok_body()))
    client, _ = make_client(server)
    run(client.generate(payload))
    names = [name for name, _ in server.requests[0].headers.raw]
    assert {b"Accept", b"User-Agent", b"Authorization"} <= set(names)
    assert server.requests[0].headers["accept"] == accept
    assert server.requests[0].headers["user-agent"] == client_module.USER_AGENT


def test_a_client_without_a_key_sends_no_authorization_and_its_repr_says_none():
    server = Server(httpx.Response(200, json=ok_body()))
    client, _ = make_client(server, api_key=None)
    run(client.generate({"model": "m", "prompt": "p"}))
    assert "authorization" not in server.requests[0].headers
    assert repr(client) == f"ImagesClient(base_url='{BASE}', api_key=None, timeout=120, max_retries=2)"


def test_the_repr_hides_the_key_and_the_urls_secrets():
    client = client_module.ImagesClient(base_url="https://user:pw@api.test/v1?sig=s3cret", api_key=KEY,
                                        timeout=30, max_retries=1)
    assert repr(client) == "ImagesClient(base_url='https://api.test/v1', api_key='***', timeout=30, max_retries=1)"


def test_a_client_makes_its_own_pool_with_the_timeouts_and_limits_it_was_given():
    client = client_module.ImagesClient(base_url=BASE, api_key=KEY, timeout=30)
    http = client._http()
    try:
        assert http.timeout == httpx.Timeout(30.0, connect=10.0)
        pool = http._transport._pool
        assert (pool._max_connections, pool._max_keepalive_connections) == (20, 10)
        assert client._http() is http  # one pool, made once
        assert pool._ssl_context is tls_context()  # the process's CAs, loaded once
    finally:
        run(client.aclose())


# ---- a request's life in the debug log ----

def test_a_retried_request_logs_each_attempt_and_why_it_is_retried(caplog):
    said: list[str] = []
    server = Server(httpx.Response(503, json={"error": {"message": "busy"}}, headers={"x-request-id": "r1"}),
                    httpx.Response(200, json=ok_body(), headers={"x-request-id": "r2"}))
    client, sleeps = make_client(server)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client.generate({"model": "m", "prompt": "p"}, on_status=said.append))
    assert debug_lines(caplog) == [
        f"POST {GEN} (attempt 1)", f"POST {GEN} -> HTTP 503 (request id r1, attempt 1)",
        f"retrying {GEN}: {said[0]}",
        f"POST {GEN} (attempt 2)", f"POST {GEN} -> HTTP 200 (request id r2, attempt 2)"]
    assert len(sleeps) == 1


def test_a_stream_the_endpoint_refuses_is_logged_once_as_asked_again_without_streaming(caplog):
    server = Server(httpx.Response(500, json={}), httpx.Response(200, json=ok_body()))
    client, _ = make_client(server)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        result = run(client.generate(STREAMED))
    assert f"{GEN}: {result.stream_fallback}; asking once without streaming" in debug_lines(caplog)
    assert result.stream_fallback == "HTTP 500 to a streamed request"


def test_a_logged_url_never_shows_its_user_or_query(caplog):
    server = Server(httpx.Response(500, json={}), httpx.Response(200, json=ok_body()))
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))

    async def no_wait(_):
        return None

    client = client_module.ImagesClient(base_url="https://user:pw@api.test/v1", api_key=KEY, http_client=http,
                                        sleep=no_wait)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client.generate({"model": "m", "prompt": "p"}))
    lines = debug_lines(caplog)
    assert len(lines) == 5 and all("https://api.test/v1/images/generations" in line for line in lines)
    assert not any("pw" in line or KEY in line for line in lines)


# ---- how long a retry waits: what the failed answer said ----

@pytest.mark.parametrize("answer, slept", [
    (httpx.Response(503, json={}, headers={"retry-after": "3"}), 3.0),
    (httpx.Response(503, json={"error": {"message": "overloaded, try again in 4 seconds"}}), 4.0),
])
def test_a_retry_waits_as_long_as_the_failed_answer_asks(answer, slept):
    client, sleeps = make_client(Server(answer, httpx.Response(200, json=ok_body())))
    run(client.generate({"model": "m", "prompt": "p"}))
    assert sleeps == [slept]


# ---- what the pacer is told ----

def spent_window(reset: str, **kwargs):
    """A client whose first request was answered 200 with the endpoint's request window used up until ``reset``."""
    spent = {"x-ratelimit-limit-requests": "5", "x-ratelimit-remaining-requests": "0",
             "x-ratelimit-reset-requests": reset}
    server = Server(httpx.Response(200, json=ok_body(), headers=spent), httpx.Response(200, json=ok_body()))
    client, sleeps = make_client(server, **kwargs)
    run(client.generate({"model": "m", "prompt": "p"}))
    return client, sleeps, server


def test_a_success_tells_the_pacer_its_rate_limit_headers_and_the_next_request_waits_for_them(caplog):
    client, sleeps, server = spent_window("2s")
    said: list[str] = []
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client.generate({"model": "m", "prompt": "p"}, on_status=said.append))
    assert sleeps == [2.0] and len(server.requests) == 2
    assert said[-1] == "sent after 2 s waiting for the rate limit"
    assert said[0] in debug_lines(caplog)


def test_a_short_wait_for_the_rate_limit_is_said_as_one_second():
    client, sleeps, server = spent_window("0.4s")
    said: list[str] = []
    run(client.generate({"model": "m", "prompt": "p"}, on_status=said.append))
    assert sleeps == [pytest.approx(0.4)] and said[-1] == "sent after 1 s waiting for the rate limit"


@pytest.mark.parametrize("reset, limit, raises", [("2s", 2.0, False), ("0.4s", 0.5, False), ("2s", 1.9, True),
                                                   ("2s", 0.5, True)])
def test_a_wait_up_to_rate_limit_wait_is_waited_and_a_longer_one_refused(reset, limit, raises):
    client, sleeps, server = spent_window(reset, rate_limit_wait=limit)
    if not raises:
        run(client.generate({"model": "m", "prompt": "p"}))
        assert sleeps == [pytest.approx(float(reset[:-1]))] and len(server.requests) == 2
        return
    with pytest.raises(errors.RateLimitError, match=f"rate_limit_wait={limit:g} s \\(~2 s\\)"):
        run(client.generate({"model": "m", "prompt": "p"}))
    assert sleeps == [] and len(server.requests) == 1


def test_a_429_waited_past_rate_limit_wait_is_raised_with_what_the_server_said():
    refusal = httpx.Response(429, json={"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
                             headers={"retry-after": "30", "x-request-id": "req_429"})
    client, sleeps = make_client(Server(refusal), rate_limit_wait=10)
    with pytest.raises(errors.RateLimitError) as caught:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert "(~30 s); the server said: slow down" in caught.value.message
    assert (caught.value.request_id, caught.value.code) == ("req_429", "rate_limit_exceeded")
    assert caught.value.attempt_statuses == ("429",) and sleeps == []


def test_the_default_rate_limit_wait_is_ten_minutes():
    assert client_module.ImagesClient(base_url=BASE).rate_limit_wait == 600.0


# ---- a cancelled request ----

def cancelled(client) -> list[str]:
    """Start a request, cancel it 50 ms later: its attempt log."""
    log: list[str] = []

    async def go():
        task = asyncio.create_task(client.generate({"model": "m", "prompt": "p"}, attempt_log=log))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(go())
    return log


def test_a_cancelled_request_ends_its_attempt_log_with_cancelled_and_frees_its_pacer_slot():
    async def never(request):
        await asyncio.sleep(30)

    client, _ = make_client(never)
    assert cancelled(client) == ["cancelled"] and client.pacer.in_flight == 0


# ---- answers outside 2xx, and the key echoed back ----

@pytest.mark.parametrize("status", [300, 302])
def test_an_answer_outside_2xx_is_an_error_not_an_image(status):
    client, _ = make_client(Server(httpx.Response(status, json=ok_body())), max_retries=0)
    with pytest.raises(errors.APIStatusError) as caught:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert caught.value.status_code == status


def test_a_key_the_server_echoes_in_its_request_id_or_body_is_never_kept():
    echo = httpx.Response(200, json=ok_body(note=f"key {KEY}", usage={"k": KEY}), headers={"x-request-id": KEY})
    client, _ = make_client(Server(echo))
    result = run(client.generate({"model": "m", "prompt": "p"}))
    kept = json.dumps([result.request_id, result.meta, result.usage], default=str)
    assert KEY not in kept and result.request_id is not None


def test_a_request_id_reaches_the_result_with_the_header_it_came_from():
    answer = httpx.Response(200, json=ok_body(), headers={"x-request-id": "req_9"})
    client, _ = make_client(Server(answer))
    result = run(client.generate({"model": "m", "prompt": "p"}))
    assert (result.request_id, result.request_id_header) == ("req_9", "x-request-id")


# ---- the answer's images, checked: counts, URLs, request ids, the key in their words ----

def image_server(*items: dict, image=None, headers=None):
    """An endpoint answering ``items`` as its data, and a file host answering ``image`` (an httpx answer or error)."""
    def answer(request):
        if request.url.host == "files.test":
            if isinstance(image, Exception):
                raise image
            return image
        return httpx.Response(200, json={"created": 5, "data": list(items)}, headers=headers or {})
    return Server(answer)


def test_an_image_that_is_not_base64_text_is_fetched_from_its_url_within_the_clients_timeout():
    server = image_server({"b64_json": 5, "url": "https://files.test/a.png"}, image=httpx.Response(200, content=PNG))
    client, _ = make_client(server, timeout=30)
    result = run(client.generate({"model": "m", "prompt": "p"}))
    assert result.images[0].data == PNG
    fetched = server.requests[1]
    assert str(fetched.url) == "https://files.test/a.png" and timeouts(fetched) == {30.0, 10.0}


def test_an_image_url_that_cannot_be_fetched_is_a_connection_error_with_the_answers_request_id():
    server = image_server({"url": "https://files.test/a.png"}, image=httpx.ConnectError("no route"),
                          headers={"x-request-id": "req_5"})
    client, _ = make_client(server)
    with pytest.raises(errors.APIConnectionError) as caught:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert (caught.value.request_id, caught.value.request_id_header) == ("req_5", "x-request-id")


def test_an_image_that_does_not_decode_carries_the_answers_request_id_and_its_header():
    server = image_server({"b64_json": "bm90IGFuIGltYWdl"}, headers={"x-request-id": "req_6"})
    client, _ = make_client(server)
    with pytest.raises(errors.WisGateError) as caught:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert (caught.value.request_id, caught.value.request_id_header) == ("req_6", "x-request-id")


def test_more_images_than_asked_are_refused_with_the_request_id():
    server = image_server({"b64_json": B64}, {"b64_json": B64}, headers={"x-request-id": "req_7"})
    client, _ = make_client(server)
    with pytest.raises(errors.ResponseFormatError, match="2 images for n=1") as caught:
        run(client.generate({"model": "m", "prompt": "p", "n": 1}))
    assert caught.value.request_id == "req_7" and caught.value.attempt_statuses == ("200",)


def test_a_usage_that_is_not_an_object_is_dropped():
    client, _ = make_client(Server(httpx.Response(200, json=ok_body(usage="lots"))))
    assert run(client.generate({"model": "m", "prompt": "p"})).usage is None


def test_a_key_echoed_in_a_revised_prompt_is_masked():
    body = {"created": 5, "data": [{"b64_json": B64, "revised_prompt": f"a cat, key {KEY}"}]}
    client, _ = make_client(Server(httpx.Response(200, json=body)))
    (image,) = run(client.generate({"model": "m", "prompt": "p"})).images
    assert image.revised_prompt.startswith("a cat, key ") and KEY not in image.revised_prompt


@pytest.mark.parametrize("answer", [
    httpx.Response(200, text=f"<html>proxy error for {KEY}</html>", headers={"content-type": "text/html"}),
    httpx.Response(200, content=sse(("error", {"error": {"message": f"bad key {KEY}"}})),
                   headers={"content-type": "text/event-stream"}),
])
def test_a_key_echoed_in_a_broken_answer_never_reaches_the_error(answer):
    client, _ = make_client(Server(answer), max_retries=0)
    with pytest.raises(errors.WisGateError) as caught:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert KEY not in str(caught.value) and KEY not in repr(caught.value.__dict__)


def test_an_html_page_instead_of_json_is_described_as_html():
    page = httpx.Response(200, text="Bad gateway: upstream closed", headers={"content-type": "text/html"})
    client, _ = make_client(Server(page), max_retries=0)
    with pytest.raises(errors.ResponseFormatError, match="HTML"):
        run(client.generate({"model": "m", "prompt": "p"}))


# ---- one attempt's time, and what a cancel leaves the pacer ----

def test_an_attempt_is_bounded_as_a_whole_by_the_timeout():
    async def slow(request):
        await asyncio.sleep(5)

    client, _ = make_client(slow, timeout=0.05, max_retries=0)
    with pytest.raises(errors.APITimeoutError):
        run(client.generate({"model": "m", "prompt": "p"}))


class Stalls(httpx.AsyncByteStream):
    """A body that starts and then never ends."""

    async def __aiter__(self):
        yield b'{"data": ['
        await asyncio.sleep(30)


def test_a_request_cancelled_mid_body_still_tells_the_pacer_its_rate_limit_headers():
    spent = {"x-ratelimit-limit-requests": "5", "x-ratelimit-remaining-requests": "0",
             "x-ratelimit-reset-requests": "20s", "content-type": "application/json"}
    client, _ = make_client(Server(httpx.Response(200, headers=spent, stream=Stalls())))
    assert cancelled(client) == ["cancelled"]
    assert client.pacer.wait_for({"requests": 1}, client._clock()) == pytest.approx(20.0)


def test_a_success_after_a_429_ends_the_pacers_round_of_refusals():
    refusal = httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"retry-after": "1"})
    client, _ = make_client(Server(refusal, httpx.Response(200, json=ok_body())))
    result = run(client.generate({"model": "m", "prompt": "p"}))
    assert result.attempt_statuses == ("429", "200")
    assert (client.pacer.strikes, client.pacer.probing) == (0, False)


# ---- edits go through the same loop ----

def test_an_edit_reports_its_retries_and_its_attempts():
    server = Server(httpx.Response(503, json={}), httpx.Response(200, json=ok_body()))
    client, _ = make_client(server)
    said, log = [], []
    run(client.edit({"model": "m", "prompt": "p"}, [("a.png", PNG, "image/png")], on_status=said.append,
                    attempt_log=log))
    assert log == ["503", "200"] and len(said) == 1 and "503" in said[0]


def test_a_wait_for_a_request_in_flight_gives_up_when_rate_limit_wait_runs_out():
    """Under a concurrency limit of one, a second request waits for the first; rate_limit_wait bounds that too."""
    release = asyncio.Event()

    async def answer(request):
        await release.wait()
        return httpx.Response(200, json=ok_body())

    client, sleeps = make_client(answer, rate_limit_wait=0.5)
    client.pacer.concurrency = 1.0  # what a gateway's concurrency refusal teaches it

    async def go():
        first = asyncio.create_task(client.generate({"model": "m", "prompt": "p"}))
        await asyncio.sleep(0.02)
        with pytest.raises(errors.RateLimitError, match=r"\(a request in flight to finish\)"):
            await client.generate({"model": "m", "prompt": "p"})
        release.set()
        return await first

    assert run(go()).attempts == 1 and sleeps == [0.5]
