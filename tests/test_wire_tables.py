"""Table tests of the wire rules (http/wire.py, http/messages.py): retries, delays, error mapping and body
parsing as pure functions of plain inputs — what mutation testing (tools/mutation.sh) asks of them.
"""

from __future__ import annotations

import json

import pytest

from wisgate_nb import errors
from wisgate_nb.http import wire

KEY = "sk-wire-0123456789abcdef"


# ---- which answers are retried, and after how long ----------------------------------------------------------


@pytest.mark.parametrize(("status", "connection", "retried"), [
    (None, True, True), (None, False, False), (200, True, True), (400, False, False), (404, False, False),
    (407, False, False), (408, False, True), (409, False, True), (410, False, False), (429, False, True),
    (499, False, False), (500, False, True), (503, False, True), (599, False, True),
])
def test_retryable_status_like_the_official_client(status, connection, retried):
    assert wire.retryable_status(status, is_connection_error=connection) is retried


@pytest.mark.parametrize(("attempt", "expected"), [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0),
                                                   (500, 8.0), (-3, 0.5)])
def test_backoff_doubles_from_half_a_second_up_to_eight(attempt, expected):
    assert wire.retry_delay(attempt, {}, rng=lambda: 0.0) == expected
    assert wire.retry_delay(attempt, None, rng=lambda: 1.0) == expected * 0.75  # jitter takes off up to a quarter


@pytest.mark.parametrize(("headers", "message", "expected"), [
    ({"retry-after-ms": "1500"}, None, 1.5),
    ({"Retry-After-Ms": "250", "retry-after": "9"}, None, 0.25),  # the milliseconds win
    ({"retry-after": "3"}, None, 3.0),
    ({"retry-after": "60"}, None, 60.0),
    ({"retry-after": "61"}, None, 0.5),  # longer than a cell should wait: backoff
    ({"retry-after": "0"}, None, 0.5),
    ({"retry-after": "-2"}, None, 0.5),
    ({"retry-after": "nan"}, None, 0.5),
    ({"retry-after-ms": "inf", "retry-after": "2"}, None, 2.0),
    ({"retry-after": "soon"}, None, 0.5),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, None, 10.0),  # an HTTP date, 10 s after "now"
    ({"retry-after": "Wed, 21 Oct 2015 07:28:10 -0000"}, None, 0.5),  # a date without a time zone: unknown
    ({"retry-after": "Wed, 21 Oct 99999 07:28:10 GMT"}, None, 0.5),
    ({"retry-after": "Wed, 21 Oct 9999999999999999999 07:28:10 GMT"}, None, 0.5),  # OverflowError, not a crash
    ({}, "Rate limit reached. Please try again in 5 seconds.", 5.0),
    ({}, "try again in 1.5s", 1.5),
    ({}, "Retry again in 250ms", 0.25),
    ({}, "try again in 20 milliseconds", 0.02),
    ({}, "try again in 2 minutes", 60.0),  # capped: not worth waiting longer in a cell
    ({}, "try again in 1 min", 60.0),
    ({}, "try again in 0.5 minutes", 30.0),
    ({}, "try again in 0 seconds", 0.5),
    ({"retry-after": "2"}, "try again in 5 seconds", 2.0),  # the header first
    ({}, "try again later", 0.5),
])
def test_the_server_says_how_long_to_wait(headers, message, expected):
    now = 1445412480.0  # 2015-10-21 07:28:00 GMT
    assert wire.retry_delay(0, headers, now=now, rng=lambda: 0.0, message=message) == pytest.approx(expected)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"x-request-id": " req_1 "}, "req_1"),
    ({"X-Request-Id": "req_2", "cf-ray": "ray"}, "req_2"),
    ({"request-id": "r3"}, "r3"),
    ({"x-litellm-call-id": "lite"}, "lite"),
    ({"x-request-id": "  ", "apim-request-id": "apim"}, "apim"),
    ({"cf-ray": "ray", "x-amzn-requestid": "amzn"}, "ray"),
    ({"x-amzn-requestid": "amzn"}, "amzn"),
    ({}, None), (None, None),
])
def test_the_request_id_comes_from_the_first_id_header(headers, expected):
    assert wire.request_id_of(headers) == expected


# ---- an error answer, mapped once ---------------------------------------------------------------------------


def _error(status: int, body, headers=None, **kwargs) -> errors.APIStatusError:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return wire.error_from_response(status, data, headers or {}, **kwargs)


def test_the_error_envelope_gives_class_message_code_and_request_id():
    exc = _error(429, {"error": {"message": "Slow down", "type": "requests", "code": "rate_limit_exceeded"}},
                 {"x-request-id": "req_9", "retry-after": "2", "x-should-retry": "true"})
    assert type(exc) is errors.RateLimitError
    assert (exc.status_code, exc.message, exc.code, exc.request_id, exc.request_id_header, exc.retry_after,
            exc.server_says_retry) == (429, "Slow down", "rate_limit_exceeded", "req_9", "x-request-id", 2.0, True)


@pytest.mark.parametrize(("body", "message", "code"), [
    ({"error": {"message": "bad size", "code": None}}, "bad size", None),
    ({"error": {"message": "bad size", "code": ""}}, "bad size", None),
    ({"error": {"message": "bad size", "code": 400}}, "bad size", "400"),
    ({"error": {"message": "bad size", "code": True}}, "bad size", None),
    ({"error": {"message": "no", "type": "moderation_blocked"}}, "no", "moderation_blocked"),
    ({"error": {"message": "no", "type": "content_policy_violation", "code": ""}}, "no", "content_policy_violation"),
    ({"error": {"message": "no", "type": "invalid_request_error"}}, "no", None),
    ({"error": {"message": "   ", "code": "x"}}, "no message", "x"),
    ({"error": {"message": 42}}, "no message", None),
    ({"error": {"code": "c" * 150}}, "no message", "c" * 100 + "…"),
    ({"error": "a plain string"}, "a plain string", None),
    ({"message": "top level"}, "top level", None),
    ({"detail": "FastAPI style"}, "FastAPI style", None),
    ({"error": "  ", "message": "the next one"}, "the next one", None),
    ({"error": {"message": "line one\n  line two"}}, "line one line two", None),
])
def test_every_shape_of_error_body_gives_a_message(body, message, code):
    exc = _error(400, body)
    assert (exc.message, exc.code) == (message, code)


@pytest.mark.parametrize(("body", "headers", "message"), [
    (b"", {}, "the server sent an empty body"),
    (b"  \n", {}, "the server sent an empty body"),
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", {}, "the server sent an HTML page instead of JSON "
     "(502 Bad Gateway)"),
    (b"Bad Gateway", {"Content-Type": "text/html"}, "the server sent an HTML page instead of JSON (Bad Gateway)"),
    (b"upstream timed out", {}, "the server sent a body that is not JSON (upstream timed out)"),
    (b"[1, 2]", {}, "the server sent a body that is not JSON ([1, 2])"),
    (f"refused {KEY}".encode(), {}, "the server sent a body that is not JSON (refused ***)"),
    (json.dumps({"error": f"refused {KEY}"}).encode(), {}, "refused ***"),
    (json.dumps({"error": {"message": f"bad key {KEY}"}}).encode(), {}, "bad key ***"),
])
def test_a_body_that_is_not_the_envelope_is_described_and_the_key_masked(body, headers, message):
    assert _error(502, body, headers, redact=KEY).message == message


def test_an_error_body_cut_short_is_salvaged_and_its_id_may_come_from_the_body():
    cut = b'{"error": {"message": "too big \\u2014 ' + b"x" * 50 + b'", "code": "big", "request_id": "r'
    exc = _error(500, cut)
    assert (exc.message, exc.code) == ("too big — " + "x" * 50, "big")
    exc = _error(500, {"error": {"message": "m", "request_id": "body_id"}})
    assert (exc.request_id, exc.request_id_header) == ("body_id", "body")
    exc = _error(500, {"error": {"message": "m", "request_id": "body_id"}}, {"x-request-id": "hdr"})
    assert (exc.request_id, exc.request_id_header) == ("hdr", "x-request-id")
    exc = _error(500, {"message": "m", "requestId": "top"})
    assert (exc.request_id, exc.request_id_header) == ("top", "body")
    exc = _error(500, b"<html>no id</html>", {"x-should-retry": "false", "retry-after": "0"})
    assert (exc.request_id, exc.server_says_retry, exc.retry_after) == (None, False, None)


@pytest.mark.parametrize(("headers", "retry_after"), [
    ({"retry-after-ms": "500"}, 0.5), ({"retry-after": "inf"}, None), ({"retry-after": "-1"}, None), ({}, None),
])
def test_an_error_carries_the_wait_the_server_named(headers, retry_after):
    assert _error(429, {"error": {"message": "wait"}}, headers).retry_after == retry_after


def test_an_http_date_is_read_against_the_clock():
    exc = _error(503, {"error": {"message": "down"}}, {"retry-after": "Wed, 21 Oct 2099 07:28:00 GMT"})
    assert exc.retry_after > 60 * 60 * 24 * 365 * 50  # decades from now: read against today, not a fixed "now"


@pytest.mark.parametrize(("status", "body", "cls"), [
    (400, {"error": {"message": "x"}}, errors.BadRequestError),
    (422, {"error": {"message": "x"}}, errors.BadRequestError),
    (400, {"error": {"message": "x", "code": "moderation_blocked"}}, errors.ContentPolicyError),
    (401, {"error": {"message": "x"}}, errors.AuthenticationError),
    (403, {"error": {"message": "x"}}, errors.PermissionDeniedError),
    (404, {"error": {"message": "x"}}, errors.NotFoundError),
    (429, {"error": {"message": "x", "code": "insufficient_quota"}}, errors.QuotaExceededError),
    (418, {"error": {"message": "x"}}, errors.APIStatusError),
    (503, {"error": {"message": "x"}}, errors.InternalServerError),
])
def test_the_status_picks_the_class(status, body, cls):
    assert type(_error(status, body)) is cls


# ---- a 200 answer -------------------------------------------------------------------------------------------


def test_a_200_body_gives_its_images_and_the_rest():
    body = json.dumps({"created": 1, "data": [{"b64_json": "aGk="}, {"url": "https://x/y.png"}],
                       "usage": {"total_tokens": 3}}).encode()
    items, top = wire.parse_images_body(body, {})
    assert items == [{"b64_json": "aGk="}, {"url": "https://x/y.png"}]
    assert top == {"created": 1, "usage": {"total_tokens": 3}}


@pytest.mark.parametrize(("body", "message"), [
    (b"<html>Sign in</html>", "the server answered 200 with an HTML page instead of JSON (Sign in)"),
    (f"key {KEY}".encode(), "the server answered 200 with a body that is not JSON (key ***)"),
    (f"  \n<html><p>Sign in, {KEY}</p></html>".encode(), "the server answered 200 with an HTML page instead of JSON "
                                                       "(Sign in, ***)"),
    (b"[]", "the response is JSON but not an object"),
    (json.dumps({"error": {"message": f"quota {KEY}"}}).encode(), "the server answered 200 with an error: quota ***"),
    (b'{"data": []}', "the response holds no images"),
    (b'{"data": {}}', "the response holds no images"),
    (b'{"created": 1}', "the response holds no images"),
    (b'{"data": [{"b64_json": "aGk="}, {"b64_json": ""}]}', "image 2 has neither b64_json nor url"),
    (b'{"data": [{"url": 5}]}', "image 1 has neither b64_json nor url"),
    (b'{"data": ["aGk="]}', "image 1 has neither b64_json nor url"),
])
def test_a_200_that_holds_no_images_says_what_it_held(body, message):
    with pytest.raises(errors.ResponseFormatError) as info:
        wire.parse_images_body(body, {"x-request-id": "req_5"}, redact=KEY)
    assert info.value.args[0] == message or str(info.value).startswith(message)
    assert info.value.request_id == "req_5"
    if not message.startswith(("the response holds", "image ")):  # the image checks name the id only
        assert info.value.request_id_header == "x-request-id"


def test_a_200_is_described_by_its_content_type_too():
    from wisgate_nb.errors import ResponseFormatError

    headers = {"content-type": "text/html; charset=utf-8"}
    with pytest.raises(ResponseFormatError, match=r"200 with an HTML page instead of JSON \(Sign in\)"):
        wire.parse_images_body(b"Sign in", headers)
    with pytest.raises(ResponseFormatError, match=r"200 with an error: the server sent an HTML page"):
        wire.parse_images_body(b'{"error": 5}', headers)


# ---- what is retried, and what falls back to no streaming ---------------------------------------------------


@pytest.mark.parametrize(("exc", "retried"), [
    (errors.RateLimitError("x", status_code=429), True),
    (errors.RateLimitError("x", status_code=429, server_says_retry=False), False),
    (errors.BadRequestError("x", status_code=400, server_says_retry=True), True),
    (errors.BadRequestError("x", status_code=400), False),
    (errors.InternalServerError("x", status_code=500), True),
    (errors.QuotaExceededError("x", status_code=429, server_says_retry=True), False),
    (errors.APIConnectionError("down"), True),
    (errors.APITimeoutError("slow"), True),
    (errors.ResponseFormatError("odd"), False),
])
def test_what_is_retried(exc, retried):
    assert wire.is_retryable(exc) is retried


@pytest.mark.parametrize(("exc", "events", "reason"), [
    (errors.InternalServerError("x", status_code=500), 0, "HTTP 500 to a streamed request"),
    (errors.InternalServerError("x", status_code=503), 1, None),
    (errors.BadRequestError("streaming is not supported", status_code=400), 0, "the server said it does not stream"),
    (errors.BadRequestError("this model does not support stream", status_code=400), 1,
     "the server said it does not stream"),
    (errors.BadRequestError("bad size", status_code=400), 0, None),
    (errors.RateLimitError("streaming is not supported", status_code=429), 0, None),
    (errors.BadRequestError("Stream mode unavailable", status_code=400), 0, "the server said it does not stream"),
    (errors.ResponseFormatError("not an event stream"), 0, "the answer to a streamed request was not an event stream"),
    (errors.ResponseFormatError("not an event stream"), 2, None),
    (errors.APIConnectionError("down"), 0, None),
])
def test_when_a_stream_is_asked_again_without_streaming(exc, events, reason):
    assert wire.stream_fallback_reason(exc, events=events) == reason
    if events == 0:
        assert wire.stream_fallback_reason(exc) == reason  # no event yet, unless told


@pytest.mark.parametrize(("exc", "delay", "words"), [
    (errors.RateLimitError("x", status_code=429), 0.5, "HTTP 429 (rate limit): waiting 0.5 s, retry 1 of 2"),
    (errors.APIStatusError("x", status_code=408), 2.0, "HTTP 408 (request timeout): waiting 2 s, retry 1 of 2"),
    (errors.APIStatusError("x", status_code=409), 1.25, "HTTP 409 (conflict): waiting 1.2 s, retry 1 of 2"),
    (errors.InternalServerError("x", status_code=502), 0.123, "HTTP 502 (server error): waiting 0.12 s, retry 1 of 2"),
    (errors.APIStatusError("x", status_code=418), 8.0, "HTTP 418 (error): waiting 8 s, retry 1 of 2"),
    (errors.APITimeoutError("slow"), 1.5, "timed out: retry 1 of 2 in 1.5 s"),
    (errors.APIConnectionError("down"), 0.75, "connection failed: retry 1 of 2 in 0.75 s"),
    (errors.APIConnectionError("down"), 12.5, "connection failed: retry 1 of 2 in 12.5 s"),
])
def test_retry_words(exc, delay, words):
    assert wire.retry_words(exc, delay, 1, 2) == words


# ---- stream events ------------------------------------------------------------------------------------------


def test_stream_events_are_json_objects():
    assert wire.event_json(' {"type": "x"} ') == {"type": "x"}
    assert wire.event_json("") is None and wire.event_json(" [DONE] ") is None
    for bad in ("[1]", "not json", '"text"'):
        with pytest.raises(errors.ResponseFormatError) as info:
            wire.event_json(bad)
        assert str(info.value) == "a stream event is not a JSON object"


@pytest.mark.parametrize(("event", "cls", "status", "message"), [
    ({"type": "error", "error": {"message": "m", "code": "rate_limit_exceeded"}}, errors.RateLimitError, 429, "m"),
    ({"type": "error", "error": {"message": "m", "type": "invalid_request_error"}}, errors.BadRequestError, 400, "m"),
    ({"type": "error", "error": {"message": "m", "code": "insufficient_quota"}}, errors.QuotaExceededError, 429, "m"),
    ({"type": "error", "error": {"message": "m", "code": "invalid_api_key"}}, errors.AuthenticationError, 401, "m"),
    ({"type": "error", "error": {"message": "m", "status": 403}}, errors.PermissionDeniedError, 403, "m"),
    ({"type": "error", "status": 404, "error": {"message": "m"}}, errors.NotFoundError, 404, "m"),
    ({"type": "error", "error": {"message": "m", "status": 200}}, errors.InternalServerError, 500, "m"),
    ({"type": "error", "error": {"message": "m", "status": 400}}, errors.BadRequestError, 400, "m"),
    ({"type": "error", "error": {"message": "m", "status": 599}}, errors.InternalServerError, 599, "m"),
    ({"type": "error", "error": {"message": "m", "status": 600}}, errors.InternalServerError, 500, "m"),
    ({"type": "error", "error": {"message": "m", "status": True}}, errors.InternalServerError, 500, "m"),
    ({"type": "error", "error": {"message": "m", "code": "unheard_of"}}, errors.InternalServerError, 500, "m"),
    ({"type": "error", "message": f"no key {KEY}", "code": "permission_error"}, errors.PermissionDeniedError, 403,
     "no key ***"),
    ({"type": "error", "error": f"plain {KEY}"}, errors.InternalServerError, 500, "plain ***"),
])
def test_a_stream_error_event_maps_like_an_error_body(event, cls, status, message):
    exc = wire.stream_error(event, {"x-request-id": "req_s"}, KEY)
    assert (type(exc), exc.status_code, exc.message, exc.request_id) == (cls, status, message, "req_s")


# ---- http/messages.py: server text as a message may quote it ------------------------------------------------

B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk" + "Aa1" * 10


@pytest.mark.parametrize(("text", "limit", "quoted"), [
    ("short", 300, "short"),
    ("  many\n\tspaces   here ", 300, "many spaces here"),
    ("x" * 10, 10, "x" * 10),
    ("x" * 11, 10, "x" * 10 + "…"),
    ("word " * 5, 12, "word word wo…"),
    ("abc  " + "d" * 20, 4, "abc…"),
    (f"data {B64} end", 300, "data [base64 data] end"),
    ("a" * 80, 300, "a" * 80),  # a long plain word is not image data
    ("-" * 70, 300, "-" * 70),
    ("ABCDEFGH" * 10, 300, "ABCDEFGH" * 10),  # no lower case, no digits
    ("abcdefg1" * 10, 300, "abcdefg1" * 10),  # no upper case
    ("ABCDefgh" * 10, 300, "ABCDefgh" * 10),  # no digits
    (f"key {KEY} in a long line " + "z" * 300, 30, "key *** in a long line zzzzzzz…"),
    (12345, 300, "12345"),
])
def test_quote_keeps_server_text_short_one_line_and_without_images(text, limit, quoted):
    from wisgate_nb.http.messages import quote

    assert quote(text, limit, redact=KEY) == quoted


def test_snippet_reads_the_words_of_a_page():
    from wisgate_nb.http.messages import snippet

    page = ("<html><head><style>p {color: red}</style><script>var k = 1;</script></head>"
            "<body><h1>Sign&nbsp;in</h1><p>to &amp; continue</p></body></html>")
    assert snippet(page) == "Sign in to & continue"
    assert snippet("<SCRIPT type='x'>hidden</SCRIPT >shown") == "shown"
    assert snippet("w " * 150) == ("w " * 100).strip() + "…"
    assert snippet(f"<p>{KEY}</p>", redact=KEY) == "***"


@pytest.mark.parametrize(("body", "found"), [
    (b'{"error": {"message": "cut \\"short\\"', {"message": 'cut "short"'}),
    (b'  {"error": {"code": "c1", "message": "m"', {"message": "m", "code": "c1"}),
    (b'{"error": {"message": "bad \\x escape"', {"message": "bad \\x escape"}),
    (b'{"error": {"code": "only a code"', None),
    (b'not json at all "message": "x"', None),
])
def test_salvage_reads_a_cut_error_body(body, found):
    from wisgate_nb.http.messages import salvage

    assert salvage(body) == found


@pytest.mark.parametrize(("headers", "value"), [
    ({"x-should-retry": "true"}, True), ({"X-Should-Retry": " FALSE "}, False), ({"x-should-retry": "maybe"}, None),
    ({}, None), (None, None), ({b"x-should-retry": "true"}, None),
])
def test_the_servers_x_should_retry(headers, value):
    from wisgate_nb.http.messages import x_should_retry

    assert x_should_retry(headers) is value


def test_loads_and_body_request_ids():
    from wisgate_nb.http.messages import body_request_id, loads

    assert loads(b'{"a": 1}') == {"a": 1} and loads(b"{") is None and loads("[" * 100_000) is None
    assert body_request_id({"error": {"requestId": " r1 "}}) == "r1"
    assert body_request_id({"x-request-id": "r2", "error": "text"}) == "r2"
    assert body_request_id({"error": {"request_id": "  "}, "request_id": "r3"}) == "r3"
    assert body_request_id({"request_id": 5}) is None and body_request_id(["r"]) is None
    assert body_request_id({"request_id": "r" * 150}) == "r" * 100 + "…"


# ---- http/checks.py: the client's settings --------------------------------------------------------------------


@pytest.mark.parametrize(("base_url", "key", "timeout", "retries", "message"), [
    ("ftp://x", None, 1, 0, "base_url must be an http(s) URL such as https://api.wisgate.ai/v1; got 'ftp://x'"),
    (None, None, 1, 0, "base_url must be an http(s) URL such as https://api.wisgate.ai/v1; got None"),
    ("https://", None, 1, 0, "base_url must be an http(s) URL such as https://api.wisgate.ai/v1; got 'https://'"),
    ("https://x", None, 0, 0, "timeout must be a positive number of seconds; got 0"),
    ("https://x", None, -1.5, 0, "timeout must be a positive number of seconds; got -1.5"),
    ("https://x", None, True, 0, "timeout must be a positive number of seconds; got True"),
    ("https://x", None, "5", 0, "timeout must be a positive number of seconds; got '5'"),
    ("https://x", None, 1, -1, "max_retries must be a whole number >= 0; got -1"),
    ("https://x", None, 1, 1.0, "max_retries must be a whole number >= 0; got 1.0"),
    ("https://x", None, 1, False, "max_retries must be a whole number >= 0; got False"),
    ("https://x", "sk two words", 1, 0, "the API key must be printable ASCII text without spaces"),
    ("https://x", "sk-é", 1, 0, "the API key must be printable ASCII text without spaces"),
    ("https://x", 12345, 1, 0, "the API key must be printable ASCII text without spaces"),
])
def test_client_settings_are_checked_before_anything_is_sent(base_url, key, timeout, retries, message):
    from wisgate_nb.http.checks import check_settings

    with pytest.raises(errors.ConfigurationError) as info:
        check_settings(base_url, key, timeout, retries)
    assert str(info.value) == message


def test_good_client_settings_come_back_clean():
    from wisgate_nb.http.checks import check_settings

    url, key = check_settings("  HTTPS://api.example/v1/ ", f" {KEY} ", 0.1, 0)
    assert (url, key.get()) == ("HTTPS://api.example/v1", KEY)
    assert check_settings("http://127.0.0.1:8000/v1", None, 5, 3) == ("http://127.0.0.1:8000/v1", None)
    assert check_settings("http://h", "", 5, 3)[1] is None
    assert check_settings("http://h/X/", None, 5, 3)[0] == "http://h/X"  # only the slash is trimmed


@pytest.mark.parametrize(("url", "safe"), [
    ("https://user:pw@api.example:8443/v1/images?sig=abc#frag", "https://api.example:8443/v1/images"),
    ("http://[::1]:8000/v1", "http://[::1]:8000/v1"),
    ("http://host/v1", "http://host/v1"),
    ("no scheme", "<invalid URL>"),
    ("http://host:99999/", "<invalid URL>"),
    ("https:///path", "<invalid URL>"),
])
def test_safe_url_leaves_out_credentials_and_queries(url, safe):
    from wisgate_nb.http.checks import safe_url

    assert safe_url(url) == safe


# ---- http/bodies.py: bodies read under caps -------------------------------------------------------------------


def _streamed(chunks: list[bytes], pulled: list[int], headers: dict | None = None):
    import httpx

    async def body():
        for chunk in chunks:
            pulled.append(len(chunk))
            yield chunk

    return httpx.Response(200, headers=headers or {}, content=body())


def _run(coro):
    import asyncio

    return asyncio.run(coro)


@pytest.mark.parametrize(("chunks", "declared", "limit", "result"), [
    ([b"ab", b"cd"], None, 4, b"abcd"),  # exactly the cap
    ([b"ab", b"cd", b"e"], None, 4, "the response is over the 4-byte cap"),
    ([b"abcd"], "4", 4, b"abcd"),
    ([b"abcd"], "5", 4, "the response is 5 bytes, over the 4-byte cap"),
    ([b"a" * 1500], "1500", 1000, "the response is 1,500 bytes, over the 1,000-byte cap"),
])
def test_a_body_is_read_up_to_its_cap(chunks, declared, limit, result):
    from wisgate_nb.http.bodies import read_body

    pulled: list[int] = []
    response = _streamed(chunks, pulled, {"content-length": declared} if declared else None)
    if isinstance(result, bytes):
        assert _run(read_body(response, limit)) == result
        return
    with pytest.raises(errors.ResponseFormatError) as info:
        _run(read_body(response, limit))
    assert str(info.value) == result
    assert pulled == ([] if declared else [len(c) for c in chunks])  # a declared size: nothing read


def test_an_error_body_is_read_only_as_far_as_its_limit():
    from wisgate_nb.http.bodies import ERROR_BODY_LIMIT, read_error_body

    pulled: list[int] = []
    chunks = [b"a" * (ERROR_BODY_LIMIT - 1), b"bc", b"never read"]
    data = _run(read_error_body(_streamed(chunks, pulled)))
    assert pulled == [ERROR_BODY_LIMIT - 1, 2]  # stopped at the limit: the third chunk is never pulled
    assert data == b"a" * (ERROR_BODY_LIMIT - 1) + b"b"
    pulled.clear()
    _run(read_error_body(_streamed([b"a" * (ERROR_BODY_LIMIT - 1), b"b", b"never read"], pulled)))
    assert pulled == [ERROR_BODY_LIMIT - 1, 1]  # exactly at the limit: done
    pulled.clear()
    assert _run(read_error_body(_streamed([b"{", b'"x"', b"}"], pulled))) == b'{"x"}' and pulled == [1, 3, 1]
