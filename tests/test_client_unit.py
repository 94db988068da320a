"""client.py without a network: pure-function tables, then exact requests over httpx.MockTransport."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import io
import json
import logging
import re
import struct
import time
import warnings
import zlib

import httpx
import pytest
from bounds import CANCEL_S
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from wisgate_nb import errors
from wisgate_nb import options as params
from wisgate_nb.http.client import (
    ImageBlob,
    ImagesClient,
    decode_image,
    error_from_response,
    load_image_input,
    parse_images_body,
    retry_delay,
    retryable_status,
)

KEY = "sk-test-0123456789abcdef"
BASE = "http://api.test/v1"


def image_bytes(size=(8, 8), fmt="PNG", mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "red").save(buffer, format=fmt)
    return buffer.getvalue()


PNG = image_bytes()
B64 = base64.b64encode(PNG).decode()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares a size but carries no pixels: what a decompression bomb looks like up front."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def ok_body(**extra) -> dict:
    return {"created": 1713833628, "data": [{"b64_json": B64}], **extra}


def run(coro):
    return asyncio.run(coro)


def make_client(handler, **kwargs):
    """A client over MockTransport whose sleeps are recorded instead of waited (its clock moves by them)."""
    sleeps: list[float] = []
    clock = [1000.0]

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)
        clock[0] += delay

    kwargs.setdefault("api_key", KEY)
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ImagesClient(base_url=BASE, http_client=http, sleep=fake_sleep, clock=lambda: clock[0], **kwargs), sleeps


class Server:
    """A MockTransport handler that answers from a list and records every request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request):
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer


def multipart_parts(request: httpx.Request) -> list[tuple[str, str | None, str, bytes]]:
    """(name, filename, content type, payload) of each part of a multipart request."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.message_from_bytes(head + request.content, policy=email.policy.HTTP)
    return [(part.get_param("name", header="content-disposition"), part.get_filename(),
             part.get_content_type(), part.get_payload(decode=True)) for part in message.iter_parts()]


def sse(*events: tuple[str | None, dict | str]) -> bytes:
    out = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {data if isinstance(data, str) else json.dumps(data)}\n\n")
    return "".join(out).encode()


def partial(index: int, kind: str = "image_generation") -> tuple[str, dict]:
    return f"{kind}.partial_image", {"type": f"{kind}.partial_image", "b64_json": B64, "partial_image_index": index}


def completed(kind: str = "image_generation") -> tuple[str, dict]:
    return f"{kind}.completed", {"type": f"{kind}.completed", "b64_json": B64, "created_at": 1620000000,
                                 "size": "1024x1024", "quality": "high", "background": "opaque",
                                 "output_format": "png", "usage": {"total_tokens": 100}}


def event_stream(body: bytes, status: int = 200) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "text/event-stream"}, content=body)


# ---- pure functions: retry rules --------------------------------------------------------------

@pytest.mark.parametrize(
    ("status", "connection", "expected"),
    [
        (None, True, True), (None, False, False), (408, False, True), (409, False, True), (429, False, True),
        (500, False, True), (502, False, True), (503, False, True), (504, False, True), (400, False, False),
        (401, False, False), (403, False, False), (404, False, False), (422, False, False), (200, False, False),
    ],
)
def test_retryable_status(status, connection, expected):
    assert retryable_status(status, is_connection_error=connection) is expected


NOW = 1445412475.0  # five seconds before Wed, 21 Oct 2015 07:28:00 GMT


@pytest.mark.parametrize(
    ("attempt", "headers", "rng", "expected"),
    [
        (0, None, 0.0, 0.5),
        (1, None, 0.0, 1.0),
        (2, {}, 0.0, 2.0),
        (3, {}, 0.0, 4.0),
        (4, {}, 0.0, 8.0),
        (5, {}, 0.0, 8.0),
        (10_000, {}, 0.0, 8.0),
        (0, None, 1.0, 0.375),  # jitter takes off at most a quarter
        (2, None, 0.5, 1.75),
        (0, {"retry-after": "4"}, 0.9, 4.0),
        (0, {"Retry-After": "2.5"}, 0.0, 2.5),
        (0, {"RETRY-AFTER": "60"}, 0.0, 60.0),
        (0, {"retry-after": "61"}, 0.0, 0.5),  # too long: back off instead
        (0, {"retry-after": "0"}, 0.0, 0.5),
        (0, {"retry-after": "-3"}, 0.0, 0.5),
        (0, {"retry-after": "soon"}, 0.0, 0.5),
        (0, {"retry-after": "nan"}, 0.0, 0.5),
        (0, {"retry-after-ms": "1500", "retry-after": "9"}, 0.0, 1.5),
        (0, {"Retry-After-Ms": "junk", "retry-after": "9"}, 0.0, 9.0),
        (0, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0, 5.0),
        (1, {"retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"}, 0.0, 1.0),  # in the past
        (1, {"retry-after": "Wed, 21 Oct 2015 08:28:00 GMT"}, 0.0, 1.0),  # an hour away: too long
    ],
)
def test_retry_delay(attempt, headers, rng, expected):
    assert retry_delay(attempt, headers, now=NOW, rng=lambda: rng) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("headers", "message", "expected"),
    [
        ({}, "No deployments available. Try again in 5 seconds.", 5.0),
        ({}, "Rate limit reached. Please try again in 1.5s.", 1.5),
        ({}, "Please try again in 20ms.", 0.02),
        ({}, "retry again in 3 secs", 3.0),
        ({}, "Try again in 1 second", 1.0),
        ({}, "try again in 2 minutes", 60.0),  # capped
        ({}, "Try again in 90 seconds", 60.0),
        ({}, "Try again later.", 0.5),  # no number: the backoff
        ({}, "Try again in 0 seconds", 0.5),
        ({}, None, 0.5),
        ({"retry-after": "2"}, "Try again in 5 seconds", 2.0),  # the header comes first
        ({"retry-after": "300"}, "Try again in 5 seconds", 5.0),  # a header too long to honour, then the words
    ],
)
def test_retry_delay_takes_a_wait_named_in_the_message(headers, message, expected):
    assert retry_delay(0, headers, now=NOW, rng=lambda: 0.0, message=message) == pytest.approx(expected)


@given(st.integers(min_value=-5, max_value=10**6),
       st.dictionaries(st.sampled_from(["retry-after", "Retry-After-Ms", "x"]), st.text(max_size=40)),
       st.floats(min_value=0, max_value=1))
def test_retry_delay_is_always_a_sane_wait(attempt, headers, rng):
    assert 0 <= retry_delay(attempt, headers, now=NOW, rng=lambda: rng) <= 60


# ---- pure functions: error mapping ------------------------------------------------------------

def envelope(message="went wrong", code=None, type_="invalid_request_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (400, envelope(code="invalid_value"), errors.BadRequestError, "invalid_value"),
        (400, envelope(code="moderation_blocked"), errors.ContentPolicyError, "moderation_blocked"),
        (400, envelope(type_="content_policy_violation"), errors.ContentPolicyError, "content_policy_violation"),
        (401, envelope(code="invalid_api_key"), errors.AuthenticationError, "invalid_api_key"),
        (403, envelope(), errors.PermissionDeniedError, None),
        (404, envelope(code="model_not_found"), errors.NotFoundError, "model_not_found"),
        (422, envelope(), errors.BadRequestError, None),
        (429, envelope(code="rate_limit_exceeded"), errors.RateLimitError, "rate_limit_exceeded"),
        (429, envelope(code="quota_exceeded"), errors.QuotaExceededError, "quota_exceeded"),
        (429, envelope(code="insufficient_quota"), errors.QuotaExceededError, "insufficient_quota"),
        (429, envelope(code="billing_hard_limit_reached"), errors.QuotaExceededError, "billing_hard_limit_reached"),
        (500, envelope(type_="server_error"), errors.InternalServerError, None),
        (503, b"", errors.InternalServerError, None),
        (418, envelope(), errors.APIStatusError, None),
        # behind proxies that rewrite or drop the code, the message says what it was
        (400, envelope("Your request was rejected by the safety system.", code="400"), errors.ContentPolicyError, "400"),
        (400, envelope("Flagged by moderation", type_=None), errors.ContentPolicyError, None),
        (422, envelope("violates our content policy"), errors.ContentPolicyError, None),
        (400, envelope("Invalid size '13x13'", code="400"), errors.BadRequestError, "400"),
        (429, envelope("You exceeded your current quota, please check your plan", code="429"),
         errors.QuotaExceededError, "429"),
        (429, envelope("insufficient_quota: credits used up"), errors.QuotaExceededError, None),
        (429, envelope("Rate limit reached. Please try again in 2s.", code="429"), errors.RateLimitError, "429"),
        # a telling code wins over the words
        (429, envelope("You exceeded your current quota.", code="rate_limit_exceeded"), errors.RateLimitError,
         "rate_limit_exceeded"),
        (400, envelope("moderation settings: low or auto", code="invalid_value"), errors.BadRequestError,
         "invalid_value"),
    ],
)
def test_error_from_response_maps_status_and_code(status, body, cls, code):
    exc = error_from_response(status, body, {"X-Request-ID": "req_1"})
    assert type(exc) is cls
    assert (exc.status_code, exc.code, exc.request_id) == (status, code, "req_1")


NGINX_502 = (b"<html><head><title>502 Bad Gateway</title><style>b{}</style></head><body><center><h1>502 Bad"
             b" Gateway</h1></center><hr><center>nginx</center></body></html>")


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (envelope("Invalid size"), {}, "Invalid size"),
        (b'{"error": "plain string error"}', {}, "plain string error"),
        (b'{"message": "top-level message"}', {}, "top-level message"),
        (b'{"detail": "fastapi style"}', {}, "fastapi style"),
        (b'{"error": {"code": "x"}}', {}, "no message"),
        (b"", {}, "an empty body"),
        (b"   \n", {}, "an empty body"),
        (b"upstream connect error", {"content-type": "text/plain"}, "not JSON (upstream connect error)"),
        (NGINX_502, {"Content-Type": "text/html"},
         "an HTML page instead of JSON (502 Bad Gateway 502 Bad Gateway nginx)"),
        (b"<p>" + b"a" * 500 + b"</p>", {}, "(" + "a" * 200 + "…)"),
    ],
)
def test_error_from_response_finds_the_message(body, headers, message):
    exc = error_from_response(502, body, headers)
    assert message in exc.message
    assert "<" not in exc.message


def test_error_from_response_carries_retry_after_and_masks_the_key():
    exc = error_from_response(429, envelope(f"key {KEY} is over quota"), {"retry-after": "7"}, redact=KEY)
    assert exc.retry_after == 7.0
    assert KEY not in str(exc) and "***" in str(exc)


@pytest.mark.parametrize(
    ("headers", "body", "request_id", "source"),
    [
        ({"X-Request-ID": "req_1"}, envelope(), "req_1", "x-request-id"),
        ({"request-id": "r2"}, envelope(), "r2", "request-id"),
        ({"x-litellm-call-id": "c3"}, envelope(), "c3", "x-litellm-call-id"),
        ({"apim-request-id": "a4"}, envelope(), "a4", "apim-request-id"),
        ({"x-ms-request-id": "m5"}, envelope(), "m5", "x-ms-request-id"),
        ({"CF-Ray": "8c1d2e3f4a5b6c7d-IAD"}, envelope(), "8c1d2e3f4a5b6c7d-IAD", "cf-ray"),
        ({"x-amzn-RequestId": "z7"}, envelope(), "z7", "x-amzn-requestid"),
        ({"cf-ray": "ray", "x-request-id": "first"}, envelope(), "first", "x-request-id"),  # most specific wins
        ({"x-request-id": "  "}, envelope(), None, None),
        ({}, json.dumps({"error": {"message": "m", "request_id": "in-body"}}).encode(), "in-body", "body"),
        ({}, json.dumps({"error": {"message": "m"}, "request_id": "top"}).encode(), "top", "body"),
        ({}, envelope(), None, None),
    ],
)
def test_request_ids_come_from_every_common_header_or_the_body(headers, body, request_id, source):
    exc = error_from_response(500, body, headers)
    assert (exc.request_id, exc.request_id_header) == (request_id, source)


@pytest.mark.parametrize(
    ("status", "body", "text", "hint"),
    [
        (500, envelope("boom", code="500"), "HTTP 500: boom", "the server failed; try again in a moment"),
        (429, envelope("slow", code="429"), "HTTP 429: slow", "slow down: too many requests or quota reached"),
        (400, envelope("bad size", code="invalid_value"), "HTTP 400 (invalid_value): bad size",
         "check the options and the prompt"),
        (400, envelope("Invalid API key provided", code="400"), "HTTP 400: Invalid API key provided",
         errors.KEY_HINT),
        (400, envelope("Authentication Error, no credentials"), "HTTP 400: Authentication Error", errors.KEY_HINT),
        (403, envelope("Unauthorized: bearer token rejected"), "HTTP 403: Unauthorized", errors.KEY_HINT),
        (403, envelope("model not allowed"), "HTTP 403: model not allowed",
         "the key is not allowed to use this model or endpoint"),
    ],
)
def test_messages_say_the_status_once_and_give_the_key_hint_when_it_is_about_the_key(status, body, text, hint):
    exc = error_from_response(status, body, {})
    assert str(exc).startswith(text) and exc.hint == hint
    assert str(exc).count(str(status)) == 1


def _b64(size: int) -> str:
    return base64.b64encode(bytes(range(256)) * (size // 256 + 1)).decode()[:size]


@pytest.mark.parametrize(
    ("body", "starts"),
    [
        # a proxy's JSON error that quotes a whole stream: bigger than the old 64 KiB cap
        (json.dumps({"error": {"message": "Received: " + _b64(76_000), "code": "500"}}).encode(), "Received: [base64"),
        # bigger than the 1 MiB cap: read that far, the message salvaged from the start
        (json.dumps({"error": {"message": "Upstream said no: " + _b64(1_300_000), "code": "500"}}).encode(),
         "Upstream said no: [base64"),
        (b"<html>" + _b64(90_000).encode() + b"</html>", "the server sent an HTML page instead of JSON ([base64"),
    ],
)
def test_big_error_bodies_are_read_and_quoted_short_without_base64(body, starts):
    client, _ = make_client(Server(httpx.Response(500, content=body, headers={"content-type": "application/json"})),
                            max_retries=0)
    with pytest.raises(errors.InternalServerError) as info:
        run(client.generate({"model": "m", "prompt": "p"}))
    message = info.value.message
    assert message.startswith(starts), message[:200]
    assert len(message) <= 301 and not re.search(r"[A-Za-z0-9+/]{40,}", str(info.value))


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain words stay", "plain words stay"),
        ("a" * 400, "a" * 300 + "…"),
        ("x " + "-" * 100, "x " + "-" * 100),  # not base64: no digits, no letters of both cases
        ("img " + _b64(100) + " end", "img [base64 data] end"),
        ("key sk-SECRET-KEY-1 here", "key *** here"),
        ("two\nlines\t and   spaces", "two lines and spaces"),
    ],
)
def test_quote_masks_the_key_drops_base64_and_cuts(text, quoted):
    from wisgate_nb.http.messages import quote

    assert quote(text, redact="sk-SECRET-KEY-1") == quoted


@given(st.integers(min_value=100, max_value=599), st.binary(max_size=300),
       st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=4))
def test_error_from_response_never_raises(status, body, headers):
    assert isinstance(error_from_response(status, body, headers), errors.APIStatusError)


# ---- pure functions: bodies and images --------------------------------------------------------

def test_parse_images_body_tolerates_unknown_and_missing_fields():
    body = json.dumps({"data": [{"b64_json": B64, "revised_prompt": "r", "new": 1}, {"url": "https://x/y.png"}],
                       "size": "1024x1024", "future_field": {"a": 1}}).encode()
    items, top = parse_images_body(body, {"x-request-id": "r"})
    assert [item.get("revised_prompt") for item in items] == ["r", None]
    assert top == {"size": "1024x1024", "future_field": {"a": 1}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"<!doctype html><html><body>Login</body></html>", "an HTML page instead of JSON (Login)"),
        (b"", "an empty body"),
        (b"[1, 2]", "not an object"),
        (b'{"created": 1}', "no images"),
        (b'{"data": []}', "no images"),
        (b'{"data": "abc"}', "no images"),
        (b'{"data": [{"revised_prompt": "only"}]}', "image 1 has neither b64_json nor url"),
        (b'{"data": [{"b64_json": ""}]}', "neither"),
        (b'{"data": [7]}', "neither"),
        (b'{"error": {"message": "quota"}}', "with an error: quota"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_parse_images_body_refuses(body, message):
    with pytest.raises(errors.ResponseFormatError, match=re.escape(message)) as info:
        parse_images_body(body, {"X-Request-Id": "req_9"})
    assert info.value.request_id == "req_9"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_item = st.dictionaries(st.sampled_from(["b64_json", "url", "revised_prompt", "x"]), _json, max_size=3)
_doc = st.fixed_dictionaries({}, optional={"data": st.lists(_item, max_size=3) | _json, "created": _json,
                                           "usage": _json, "error": _json})


@given(st.binary(max_size=200) | _doc.map(lambda d: json.dumps(d).encode()) | _json.map(lambda d: json.dumps(d).encode()))
def test_parse_images_body_only_raises_response_format_errors(body):
    try:
        items, top = parse_images_body(body, {})
    except errors.ResponseFormatError:
        return
    assert items and all(isinstance(item, dict) for item in items)
    assert isinstance(top, dict) and "data" not in top


@pytest.mark.parametrize(("fmt", "name"), [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp"), ("GIF", "gif")])
def test_decode_image_reports_format_and_size(fmt, name):
    blob = decode_image(image_bytes((12, 7), fmt), max_pixels=1000, revised_prompt="rp")
    assert (blob.format, blob.width, blob.height, blob.revised_prompt) == (name, 12, 7, "rp")
    assert "data" not in repr(blob)  # the repr never dumps megabytes of bytes


@pytest.mark.parametrize(
    ("data", "max_pixels", "message"),
    [
        (b"not an image at all", 10**6, "cannot be decoded"),
        (PNG[: len(PNG) // 2], 10**6, "cannot be decoded"),  # truncated
        (image_bytes((20, 20), "JPEG")[:-200], 10**6, "cannot be decoded"),
        (PNG, 63, "too many pixels"),  # our own cap
        (png_header(1000, 1000), 10**7, "cannot be decoded"),  # a header and no pixels
        (png_header(10_000, 10_000), 10**12, "too many pixels"),  # Pillow would only warn here
        (png_header(100_000, 100_000), 10**12, "too many pixels"),  # Pillow raises here
        (png_header(10_000, 10_000), 50_000_000, "too many pixels"),
    ],
)
def test_decode_image_refuses_without_leaking_pillow_warnings(data, max_pixels, message):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(errors.ResponseFormatError, match=message):
            decode_image(data, max_pixels=max_pixels)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


# ---- load_image_input -------------------------------------------------------------------------

def test_load_image_input_from_paths(tmp_path):
    path = tmp_path / "photo.jpeg"
    path.write_bytes(image_bytes(fmt="JPEG"))
    assert load_image_input(path) == ("photo.jpeg", path.read_bytes(), "image/jpeg")
    assert load_image_input(str(path))[0] == "photo.jpeg"


@pytest.mark.parametrize(
    ("data", "default", "expected_name", "mime"),
    [
        (image_bytes(fmt="PNG"), "image.png", "image.png", "image/png"),
        (image_bytes(fmt="JPEG"), "image.png", "image.jpg", "image/jpeg"),
        (image_bytes(fmt="WEBP"), "mask.png", "mask.webp", "image/webp"),
        (bytearray(image_bytes(fmt="PNG")), "mask.png", "mask.png", "image/png"),
    ],
)
def test_load_image_input_sniffs_bytes(data, default, expected_name, mime):
    assert load_image_input(data, default_name=default) == (expected_name, bytes(data), mime)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "CMYK", "I;16"])
def test_load_image_input_sends_pil_images_as_png(mode):
    name, data, mime = load_image_input(Image.new(mode, (5, 4)))
    assert (name, mime) == ("image.png", "image/png")
    with Image.open(io.BytesIO(data)) as im:
        assert (im.format, im.size) == ("PNG", (5, 4))


def test_load_image_input_accepts_a_blob():
    blob = decode_image(PNG, max_pixels=100)
    assert load_image_input(blob) == ("image.png", PNG, "image/png")


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("/no/such/file.png", "not found"),
        ("https://example.com/a.png", "URLs are not accepted"),
        (b"plain text, not an image", "cannot be decoded"),
        (image_bytes(fmt="GIF"), "GIF: send PNG, JPEG or WEBP"),
        (image_bytes(fmt="BMP"), "BMP: send PNG, JPEG or WEBP"),
        (42, "a file path, bytes or a PIL image"),
        (None, "a file path, bytes or a PIL image"),
    ],
)
def test_load_image_input_refuses(image, message):
    with pytest.raises(errors.ConfigurationError, match=message):
        load_image_input(image)


def test_load_image_input_refuses_a_directory(tmp_path):
    with pytest.raises(errors.ConfigurationError, match="cannot read image file"):
        load_image_input(tmp_path)


# ---- exact requests ---------------------------------------------------------------------------

def test_generation_sends_exactly_the_json_body_and_the_key():
    server = Server(httpx.Response(200, json=ok_body(usage={"total_tokens": 5}, size="1024x1024", later=1),
                                   headers={"X-REQUEST-ID": "req_abc"}))
    client, _ = make_client(server)
    payload = params.build_generation_payload("a cat", model="gpt-image-2", n=1, size="1024x1024",
                                              quality=None, background="transparent", stream=None)
    result = run(client.generate(payload))
    (request,) = server.requests
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/images/generations")
    assert json.loads(request.content) == {"model": "gpt-image-2", "prompt": "a cat", "n": 1,
                                           "size": "1024x1024", "background": "transparent"}
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.extensions["timeout"] == {"connect": 10.0, "read": 120.0, "write": 120.0, "pool": 120.0}
    assert result.request_id == "req_abc"
    assert result.usage == {"total_tokens": 5}
    assert result.created == 1713833628
    assert result.meta == {"size": "1024x1024", "later": 1}
    assert (result.attempts, result.streamed) == (1, False)
    assert result.images == (ImageBlob(PNG, "png", 8, 8),)


def test_no_key_means_no_authorization_header_and_short_timeouts_apply():
    server = Server(httpx.Response(200, json={"data": [{"b64_json": B64}]}))
    client, _ = make_client(server, api_key=None, timeout=5)
    result = run(client.generate({"model": "m", "prompt": "p", "quality": None}))
    (request,) = server.requests
    assert "authorization" not in request.headers
    assert json.loads(request.content) == {"model": "m", "prompt": "p"}
    assert request.extensions["timeout"]["connect"] == 5.0
    assert result.created is None and result.usage is None


def test_edit_with_one_image_and_a_mask_is_multipart():
    server = Server(httpx.Response(200, json=ok_body()))
    client, _ = make_client(server)
    fields = params.build_generation_payload("add a hat", endpoint="edits", model="gpt-image-1", n=2,
                                             quality=None)
    image = load_image_input(image_bytes(fmt="JPEG"))
    mask = load_image_input(Image.new("RGBA", (8, 8)), default_name="mask.png")
    run(client.edit(fields, [image], mask))
    (request,) = server.requests
    assert str(request.url) == f"{BASE}/images/edits"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = multipart_parts(request)
    assert [(name, filename, ctype) for name, filename, ctype, _ in parts] == [
        ("model", None, "text/plain"), ("prompt", None, "text/plain"), ("n", None, "text/plain"),
        ("image", "image.jpg", "image/jpeg"), ("mask", "mask.png", "image/png"),
    ]
    assert [payload for _, _, _, payload in parts[:3]] == [b"gpt-image-1", b"add a hat", b"2"]
    assert parts[3][3] == image[1] and parts[4][3] == mask[1]


def test_edit_with_several_images_uses_the_array_name():
    server = Server(httpx.Response(200, json=ok_body()))
    client, _ = make_client(server)
    images = [("a.png", PNG, "image/png"), ("b.webp", image_bytes(fmt="WEBP"), "image/webp")]
    run(client.edit({"model": "m", "prompt": "merge"}, images))
    parts = multipart_parts(server.requests[0])
    assert [(name, filename, ctype) for name, filename, ctype, _ in parts[2:]] == [
        ("image[]", "a.png", "image/png"), ("image[]", "b.webp", "image/webp")]


@pytest.mark.parametrize(
    ("images", "mask", "message"),
    [
        ([], None, "at least one image"),
        ([], ("mask.png", PNG, "image/png"), "mask was given without an image"),
        ([("a.png", PNG, "image/png")] * 17, None, "at most 16"),
    ],
)
def test_invalid_edits_send_nothing(images, mask, message):
    server = Server(httpx.Response(200, json=ok_body()))
    client, _ = make_client(server)
    with pytest.raises(errors.ConfigurationError, match=message):
        run(client.edit({"model": "m", "prompt": "p"}, images, mask))
    assert server.requests == []


@pytest.mark.parametrize("extra", [{"seed": b"bytes"}, {"weight": float("nan")}, {"obj": object()}])
def test_options_json_cannot_carry_send_nothing(extra):
    server = Server(httpx.Response(200, json=ok_body()))
    client, _ = make_client(server)
    with pytest.raises(errors.ConfigurationError, match="cannot be sent as JSON"):
        run(client.generate({"model": "m", "prompt": "p", **extra}))
    assert server.requests == []


def test_edit_fields_given_as_python_values_are_sent_as_form_text():
    """The registry's encoding (``options.form_fields``) is what goes out: lists and dicts as JSON, not Python."""
    server = Server(httpx.Response(200, json=ok_body()))
    client, _ = make_client(server)
    run(client.edit({"model": "m", "prompt": "p", "n": 2, "stream": False, "user": None,
                     "extra": {"a": [1, True, None]}}, [("a.png", PNG, "image/png")]))
    assert [(name, payload) for name, _, _, payload in multipart_parts(server.requests[0])][:5] == [
        ("model", b"m"), ("prompt", b"p"), ("n", b"2"), ("stream", b"false"), ("extra", b'{"a":[1,true,null]}')]


@pytest.mark.parametrize(
    ("base_url", "api_key", "kwargs"),
    [("ftp://x/v1", None, {}), ("", None, {}), (None, None, {}), (BASE, "has space", {}),
     (BASE, "ключ", {}), (BASE, None, {"timeout": 0}), (BASE, None, {"max_retries": -1}),
     (BASE, None, {"max_retries": True})],
)
def test_bad_client_settings_are_refused(base_url, api_key, kwargs):
    with pytest.raises(errors.ConfigurationError) as info:
        ImagesClient(base_url=base_url, api_key=api_key, **kwargs)
    assert api_key is None or api_key not in str(info.value)


# ---- retries ----------------------------------------------------------------------------------

def test_5xx_is_retried_then_succeeds_with_status_words():
    server = Server(httpx.Response(500, json={"error": {"message": "boom"}}),
                    httpx.Response(503, text="<html>down</html>"), httpx.Response(200, json=ok_body()))
    client, sleeps = make_client(server)
    words: list[str] = []
    result = run(client.generate({"model": "m", "prompt": "p"}, on_status=words.append))
    assert result.attempts == 3 and len(server.requests) == 3
    assert len(sleeps) == 2 and 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0
    assert re.fullmatch(r"HTTP 500 \(server error\): waiting 0\.\d+ s, retry 1 of 2", words[0])
    assert re.fullmatch(r"HTTP 503 \(server error\): waiting [\d.]+ s, retry 2 of 2", words[1])


def test_429_retry_after_is_waited_out_without_using_a_retry():
    server = Server(*[httpx.Response(429, headers={"retry-after": "4"}, json={"error": {"message": "slow"}})] * 3,
                    httpx.Response(200, json=ok_body()))
    client, sleeps = make_client(server, max_retries=0)
    words: list[str] = []
    result = run(client.generate({"model": "m", "prompt": "p"}, on_status=words.append))
    assert sleeps == [4.0] * 3 and result.attempt_statuses == ("429", "429", "429", "200")
    assert words == [word for total in (4, 8, 12) for word in  # the time waited in all, across the 429s
                     ("waiting for the rate limit (~4 s)", f"sent after {total} s waiting for the rate limit")]


def test_a_rate_limit_wait_longer_than_rate_limit_wait_fails_with_the_429():
    server = Server(httpx.Response(429, headers={"retry-after": "30"}, json={"error": {"message": "slow down"}}),
                    httpx.Response(200, json=ok_body()))
    client, sleeps = make_client(server, rate_limit_wait=20)
    with pytest.raises(errors.RateLimitError) as info:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert len(server.requests) == 1 and sleeps == []
    assert "rate_limit_wait=20 s" in str(info.value) and "slow down" in str(info.value)


def test_a_429_without_a_hint_is_probed_until_rate_limit_wait():
    server = Server(httpx.Response(429, json={"error": {"message": "busy"}}))
    client, sleeps = make_client(server, rate_limit_wait=60)
    with pytest.raises(errors.RateLimitError) as info:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert sleeps[:3] == [0.25, 0.3125, 0.390625] and max(sleeps) == 8.0 and sum(sleeps) <= 60
    assert len(server.requests) == len(sleeps) + 1 and info.value.attempts == len(server.requests)


def test_exhausted_retries_raise_the_last_error():
    server = Server(httpx.Response(502, headers={"x-request-id": "req_last"}, text="Bad Gateway"))
    client, sleeps = make_client(server, max_retries=3)
    with pytest.raises(errors.InternalServerError) as info:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert len(server.requests) == 4 and len(sleeps) == 3
    assert info.value.status_code == 502 and info.value.request_id == "req_last"


@pytest.mark.parametrize("code", ["quota_exceeded", "insufficient_quota", "billing_hard_limit_reached"])
def test_quota_refusals_are_never_retried(code):
    server = Server(httpx.Response(429, json={"error": {"message": "used up", "code": code}}))
    client, sleeps = make_client(server)
    with pytest.raises(errors.QuotaExceededError) as info:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert len(server.requests) == 1 and sleeps == []
    assert info.value.code == code and isinstance(info.value, errors.RateLimitError)


@pytest.mark.parametrize(
    ("status", "should", "requests"),
    [(400, "true", 3), (409, "false", 1), (503, "false", 1), (503, "FALSE", 1), (503, "maybe", 3), (429, "false", 1)],
)
def test_x_should_retry_is_honoured(status, should, requests):
    server = Server(httpx.Response(status, headers={"x-should-retry": should}, json={"error": {"message": "no"}}))
    client, sleeps = make_client(server)
    with pytest.raises(errors.APIStatusError) as info:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert len(server.requests) == requests and len(sleeps) == requests - 1
    assert info.value.attempt_statuses == (str(status),) * requests


def test_quota_refusals_are_not_retried_even_if_a_header_says_so():
    server = Server(httpx.Response(429, headers={"x-should-retry": "true"},
                                   json={"error": {"message": "used up", "code": "insufficient_quota"}}))
    client, sleeps = make_client(server)
    with pytest.raises(errors.QuotaExceededError):
        run(client.generate({"model": "m", "prompt": "p"}))
    assert len(server.requests) == 1 and sleeps == []


def test_a_429_that_names_its_wait_is_waited_for():
    server = Server(httpx.Response(429, json={"error": {"message": "Cooling down. Try again in 5 seconds.",
                                                        "code": "429"}}),
                    httpx.Response(200, json=ok_body()))
    client, sleeps = make_client(server)
    result = run(client.generate({"model": "m", "prompt": "p"}))
    assert sleeps == [5.0] and result.attempt_statuses == ("429", "200")


@pytest.mark.parametrize(
    ("answers", "statuses", "cls"),
    [
        ([httpx.ConnectError("refused")], ("connection",) * 3, errors.APIConnectionError),
        ([httpx.ReadTimeout("slow")], ("timeout",) * 3, errors.APITimeoutError),
        ([httpx.Response(500, json={}), httpx.ConnectError("x"), httpx.Response(502, text="bad")],
         ("500", "connection", "502"), errors.InternalServerError),
        ([httpx.Response(200, text="{oops")], ("200",), errors.ResponseFormatError),
        ([httpx.Response(200, json={"data": [{"b64_json": "bm90IGFuIGltYWdl"}]})], ("200",),
         errors.ResponseFormatError),
    ],
)
def test_errors_carry_every_attempt_and_its_status(answers, statuses, cls):
    server = Server(*answers)
    client, _ = make_client(server)
    log: list[str] = []
    with pytest.raises(cls) as info:
        run(client.generate({"model": "m", "prompt": "p"}, attempt_log=log))
    assert info.value.attempt_statuses == statuses == tuple(log)
    assert info.value.attempts == len(statuses)


@pytest.mark.parametrize(("status", "cls"), [(400, errors.BadRequestError), (401, errors.AuthenticationError),
                                             (403, errors.PermissionDeniedError), (404, errors.NotFoundError),
                                             (422, errors.BadRequestError)])
def test_client_errors_are_never_retried(status, cls):
    server = Server(httpx.Response(status, json={"error": {"message": "no", "code": None}}))
    client, sleeps = make_client(server)
    with pytest.raises(cls):
        run(client.generate({"model": "m", "prompt": "p"}))
    assert len(server.requests) == 1 and sleeps == []


@pytest.mark.parametrize(
    ("exc", "cls", "words"),
    [
        (httpx.ConnectError("refused"), errors.APIConnectionError, r"connection failed: retry 1 of 2 in 0\.\d+ s"),
        (httpx.RemoteProtocolError("peer closed"), errors.APIConnectionError, r"connection failed: retry 1 of 2"),
        (httpx.ReadTimeout("slow"), errors.APITimeoutError, r"timed out: retry 1 of 2 in 0\.\d+ s"),
        (httpx.ConnectTimeout("slow"), errors.APITimeoutError, r"timed out: retry 1 of 2"),
    ],
)
def test_transport_errors_are_retried_then_translated(exc, cls, words):
    server = Server(exc)
    client, sleeps = make_client(server)
    said: list[str] = []
    with pytest.raises(cls) as info:
        run(client.generate({"model": "m", "prompt": "p"}, on_status=said.append))
    assert type(info.value) is cls
    assert info.value.__cause__ is exc
    assert len(server.requests) == 3 and len(sleeps) == 2
    assert re.match(words, said[0])


def test_a_failing_status_callback_does_not_break_the_request(caplog):
    server = Server(httpx.ConnectError("refused"), httpx.Response(200, json=ok_body()))
    client, _ = make_client(server)

    def explode(text):
        raise RuntimeError("display is gone")

    with caplog.at_level(logging.WARNING, logger="wisgate_nb.http.client"):
        result = run(client.generate({"model": "m", "prompt": "p"}, on_status=explode))
    assert result.attempts == 2
    assert "callback raised" in caplog.text


def test_cancellation_aborts_at_once_and_is_not_retried():
    calls = []

    async def hang(request):
        calls.append(request)
        await asyncio.sleep(60)

    client, sleeps = make_client(hang)

    async def main():
        task = asyncio.create_task(client.generate({"model": "m", "prompt": "p"}))
        while not calls:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started

    assert run(main()) < CANCEL_S
    assert len(calls) == 1 and sleeps == []


# ---- response checks --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, text="{oops", headers={"x-request-id": "rq"}), "not JSON"),
        (httpx.Response(200, html="<html><body>Sign in</body></html>", headers={"x-request-id": "rq"}),
         "an HTML page instead of JSON (Sign in)"),
        (httpx.Response(200, json={"created": 1, "data": []}, headers={"x-request-id": "rq"}), "no images"),
        (httpx.Response(200, json={"data": [{"b64_json": B64[:-7]}]}, headers={"x-request-id": "rq"}),
         "base64"),
        (httpx.Response(200, json={"data": [{"b64_json": base64.b64encode(b"GIF89a junk").decode()}]},
                        headers={"x-request-id": "rq"}), "cannot be decoded"),
        (httpx.Response(200, json={"data": [{"b64_json": base64.b64encode(png_header(30000, 30000)).decode()}]},
                        headers={"x-request-id": "rq"}), "too many pixels"),
    ],
)
def test_bad_200_bodies_raise_response_format_error_with_request_id(response, message):
    server = Server(response)
    client, sleeps = make_client(server)
    with pytest.raises(errors.ResponseFormatError, match=re.escape(message)) as info:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert info.value.request_id == "rq"
    assert len(server.requests) == 1 and sleeps == []  # a bad body is not retried


def test_pixel_cap_is_the_clients_setting():
    client, _ = make_client(Server(httpx.Response(200, json=ok_body())), max_pixels=63)
    with pytest.raises(errors.ResponseFormatError, match="too many pixels"):
        run(client.generate({"model": "m", "prompt": "p"}))


def test_declared_oversized_body_is_refused_before_reading():
    client, _ = make_client(Server(httpx.Response(200, content=b"x" * 5000)), max_body_bytes=1000)
    with pytest.raises(errors.ResponseFormatError, match="5,000 bytes, over the 1,000-byte cap"):
        run(client.generate({"model": "m", "prompt": "p"}))


def test_undeclared_oversized_body_stops_reading_at_the_cap():
    consumed = []

    async def chunks():
        for i in range(1000):
            consumed.append(i)
            yield b"x" * 1024

    client, _ = make_client(lambda request: httpx.Response(200, content=chunks()), max_body_bytes=10_000)
    with pytest.raises(errors.ResponseFormatError, match="over the 10,000-byte cap"):
        run(client.generate({"model": "m", "prompt": "p"}))
    assert len(consumed) <= 11


def test_url_images_are_fetched_without_the_key():
    def handler(request):
        if request.method == "GET":
            return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
        return httpx.Response(200, json={"created": 5, "data": [{"url": "https://files.test/img.png?sig=1",
                                                                   "revised_prompt": "a cat, photographed"}]})

    server = Server(handler)
    client, _ = make_client(server)
    result = run(client.generate({"model": "dall-e-3", "prompt": "a cat"}))
    post, get = server.requests
    assert str(get.url) == "https://files.test/img.png?sig=1"
    assert "authorization" not in get.headers and post.headers["authorization"] == f"Bearer {KEY}"
    assert result.images == (ImageBlob(PNG, "png", 8, 8, "a cat, photographed"),)


@pytest.mark.parametrize(
    ("url", "get_status", "message"),
    [
        ("ftp://files.test/a.png", 200, "scheme 'ftp'"),
        ("file:///etc/passwd", 200, "scheme 'file'"),
        ("data:image/png;base64," + B64, 200, "scheme 'data'"),
        ("https://files.test/gone.png", 404, "answered HTTP 404"),
    ],
)
def test_bad_image_urls_raise_response_format_error(url, get_status, message):
    def handler(request):
        if request.method == "GET":
            return httpx.Response(get_status, content=PNG)
        return httpx.Response(200, json={"data": [{"url": url}]}, headers={"x-request-id": "rq"})

    server = Server(handler)
    client, _ = make_client(server)
    with pytest.raises(errors.ResponseFormatError, match=re.escape(message)) as info:
        run(client.generate({"model": "m", "prompt": "p"}))
    assert info.value.request_id == "rq"
    assert all(r.method == "POST" or r.url.host == "files.test" for r in server.requests)


# ---- streaming --------------------------------------------------------------------------------

def test_partials_are_delivered_before_the_stream_ends():
    order: list[str] = []

    class GatedStream(httpx.AsyncByteStream):
        """Sends a partial, then waits until the client has shown it before finishing."""

        def __init__(self, gate: asyncio.Event):
            self.gate = gate

        async def __aiter__(self):
            yield sse(partial(0))
            await asyncio.wait_for(self.gate.wait(), 5)
            order.append("server: sending completed")
            yield sse(completed())

    async def main():
        gate = asyncio.Event()
        server = Server(lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"},
                                                       stream=GatedStream(gate)))
        client, _ = make_client(server)

        def on_partial(index, blob):
            order.append(f"client: partial {index} {blob.format}")
            gate.set()

        result = await client.generate({"model": "m", "prompt": "p", "stream": True, "partial_images": 1},
                                       on_partial=on_partial)
        return server, result

    server, result = run(main())
    assert order == ["client: partial 0 png", "server: sending completed"]
    assert server.requests[0].headers["accept"] == "text/event-stream"
    assert json.loads(server.requests[0].content)["stream"] is True
    assert result.streamed and result.images == (ImageBlob(PNG, "png", 8, 8),)
    assert result.usage == {"total_tokens": 100} and result.created == 1620000000
    assert result.meta == {"size": "1024x1024", "quality": "high", "background": "opaque", "output_format": "png"}


def test_edit_streams_use_the_image_edit_events():
    server = Server(event_stream(sse(partial(0, "image_edit"), partial(1, "image_edit"), completed("image_edit"))))
    client, _ = make_client(server)
    seen: list[int] = []

    async def on_partial(index, blob):  # async callbacks are awaited
        seen.append(index)

    fields = params.build_generation_payload("p", endpoint="edits", model="m", stream=True, partial_images=2)
    result = run(client.edit(fields, [("a.png", PNG, "image/png")], on_partial=on_partial))
    assert seen == [0, 1] and result.streamed
    assert ("stream", None, "text/plain", b"true") in multipart_parts(server.requests[0])


def test_a_failing_partial_callback_does_not_break_the_stream():
    client, _ = make_client(Server(event_stream(sse(partial(0), completed()))))
    result = run(client.generate({"model": "m", "prompt": "p", "stream": True},
                                 on_partial=lambda i, b: 1 / 0))
    assert len(result.images) == 1


@pytest.mark.parametrize(
    ("events", "cls", "code"),
    [
        ((("error", {"error": {"message": "blocked", "type": "image_generation_user_error",
                               "code": "moderation_blocked"}}),), errors.ContentPolicyError, "moderation_blocked"),
        ((partial(0), (None, {"type": "error", "code": "rate_limit_exceeded", "message": "slow"})),
         errors.RateLimitError, "rate_limit_exceeded"),
        ((partial(0), ("error", {"error": {"message": "internal", "type": "server_error", "code": None}})),
         errors.InternalServerError, None),
    ],
)
def test_stream_error_events_raise_the_mapped_error(events, cls, code):
    server = Server(event_stream(sse(*events)))
    client, sleeps = make_client(server)
    with pytest.raises(cls) as info:
        run(client.generate({"model": "m", "prompt": "p", "stream": True}, on_partial=lambda i, b: None))
    assert info.value.code == code
    assert len(server.requests) == 1 and sleeps == []


def test_stream_without_completed_event_is_a_format_error():
    client, _ = make_client(Server(event_stream(sse(partial(0), (None, "[DONE]")))))
    with pytest.raises(errors.ResponseFormatError, match="without a completed image"):
        run(client.generate({"model": "m", "prompt": "p", "stream": True}))


def test_stream_request_answered_with_json_falls_back():
    client, _ = make_client(Server(httpx.Response(200, json=ok_body())))
    result = run(client.generate({"model": "m", "prompt": "p", "stream": True}))
    assert not result.streamed and len(result.images) == 1
    assert result.stream_fallback == "the endpoint answered without streaming"


def test_stream_is_retried_before_the_first_event_only():
    class DiesAfterOneEvent(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield sse(partial(0))
            raise httpx.ReadError("connection reset")

    server = Server(httpx.Response(429, json={"error": {"message": "busy"}}),
                    httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=DiesAfterOneEvent()))
    client, sleeps = make_client(server)
    with pytest.raises(errors.APIConnectionError):
        run(client.generate({"model": "m", "prompt": "p", "stream": True}, on_partial=lambda i, b: None))
    assert len(server.requests) == 2 and len(sleeps) == 1


STREAMED = {"model": "m", "prompt": "p", "stream": True, "partial_images": 2}


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        (httpx.Response(500, json={"error": {"message": "x" * 10, "code": "500"}}), "HTTP 500 to a streamed request"),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), "HTTP 502 to a streamed request"),
        (httpx.Response(200, text="not an event stream"), "not an event stream"),
        (httpx.Response(400, json={"error": {"message": "Streaming is not supported for this model"}}),
         "does not stream"),
        (httpx.Response(422, json={"error": {"message": "this deployment does not support stream=true"}}),
         "does not stream"),
        (event_stream(sse(("error", {"error": {"message": "stream not supported", "type": "invalid_request_error"}}))),
         "does not stream"),
        (event_stream(b""), "not an event stream"),
    ],
)
def test_a_stream_that_fails_before_any_image_is_asked_once_without_streaming(first, reason):
    server = Server(first, httpx.Response(200, json=ok_body()))
    client, sleeps = make_client(server, max_retries=0)
    said: list[str] = []
    result = run(client.generate(STREAMED, on_partial=lambda i, b: None, on_status=said.append))
    streamed, plain = server.requests
    assert json.loads(streamed.content)["stream"] is True and streamed.headers["accept"] == "text/event-stream"
    assert json.loads(plain.content) == {"model": "m", "prompt": "p"} and plain.headers["accept"] == "application/json"
    assert reason in result.stream_fallback and not result.streamed
    assert result.attempts == 2 and sleeps == [] and "without streaming" in said[0]


@pytest.mark.parametrize(
    "first",
    [httpx.Response(429, json={"error": {"message": "slow"}}), httpx.ConnectError("refused"),
     httpx.Response(400, json={"error": {"message": "Invalid size"}})],
)
def test_other_stream_failures_do_not_fall_back(first):
    server = Server(first, event_stream(sse(partial(0), completed())))
    client, _ = make_client(server)
    try:
        result = run(client.generate(STREAMED, on_partial=lambda i, b: None))
    except errors.BadRequestError:
        assert len(server.requests) == 1
        return
    assert result.streamed and result.stream_fallback is None
    assert all(json.loads(r.content).get("stream") is True for r in server.requests)


def test_the_fallback_happens_once_then_the_usual_retries():
    server = Server(httpx.Response(500, json={}), httpx.Response(503, json={}), httpx.Response(503, json={}),
                    httpx.Response(200, json=ok_body()))
    client, sleeps = make_client(server, max_retries=2)
    result = run(client.generate(STREAMED))
    assert [json.loads(r.content).get("stream") for r in server.requests] == [True, None, None, None]
    assert result.attempt_statuses == ("500", "503", "503", "200") and len(sleeps) == 2


def test_an_edit_stream_falls_back_without_its_stream_fields():
    server = Server(httpx.Response(500, json={}), httpx.Response(200, json=ok_body()))
    client, _ = make_client(server)
    fields = params.build_generation_payload("p", endpoint="edits", model="m", stream=True, partial_images=2)
    result = run(client.edit(fields, [("a.png", PNG, "image/png")]))
    names = [[name for name, *_ in multipart_parts(r)] for r in server.requests]
    assert "stream" in names[0] and "partial_images" in names[0]
    assert "stream" not in names[1] and "partial_images" not in names[1] and "image" in names[1]
    assert result.stream_fallback == "HTTP 500 to a streamed request"


def test_a_client_told_the_endpoint_does_not_stream_asks_for_the_final_image():
    server = Server(httpx.Response(200, json=ok_body()))
    client, _ = make_client(server, streaming=False)
    result = run(client.generate(STREAMED))
    (request,) = server.requests
    assert "stream" not in json.loads(request.content) and request.headers["accept"] == "application/json"
    assert result.stream_fallback and result.attempts == 1


def test_a_first_event_that_is_another_error_is_not_replayed():
    server = Server(event_stream(sse(("error", {"error": {"message": "worker crashed", "type": "server_error"}}))))
    client, sleeps = make_client(server)
    with pytest.raises(errors.InternalServerError):
        run(client.generate(STREAMED, on_partial=lambda i, b: None))
    assert len(server.requests) == 1 and sleeps == []


def test_an_error_after_a_partial_is_neither_retried_nor_fallen_back():
    server = Server(event_stream(sse(partial(0), ("error", {"error": {"message": "stream not supported",
                                                                      "type": "server_error"}}))))
    client, sleeps = make_client(server)
    with pytest.raises(errors.InternalServerError) as info:
        run(client.generate(STREAMED, on_partial=lambda i, b: None))
    assert len(server.requests) == 1 and sleeps == [] and info.value.attempt_statuses == ("200",)


def test_oversized_stream_is_cut_at_the_cap():
    body = sse(*[partial(i % 3) for i in range(200)], completed())
    client, _ = make_client(Server(event_stream(body)), max_body_bytes=len(body) // 10)
    with pytest.raises(errors.ResponseFormatError, match="byte cap"):
        run(client.generate({"model": "m", "prompt": "p", "stream": True}))


# ---- the key stays secret ---------------------------------------------------------------------

def test_the_key_never_shows_in_repr_errors_or_logs(caplog):
    server = Server(httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {KEY}.",
                                                        "type": "invalid_request_error", "code": "invalid_api_key"}},
                                   headers={"x-request-id": "req_k"}))
    client, _ = make_client(server)
    with caplog.at_level(logging.DEBUG, logger="wisgate_nb.http.client"), pytest.raises(errors.AuthenticationError) as info:
        run(client.generate({"model": "m", "prompt": "p"}))
    for text in (repr(client), str(client), repr(vars(client)), str(info.value), repr(info.value), caplog.text):
        assert KEY not in text
    assert "api_key='***'" in repr(client)
    assert f"POST {BASE}/images/generations -> HTTP 401 (request id req_k, attempt 1)" in caplog.text


def test_check_asks_for_the_model_list_with_the_key():
    server = Server(httpx.Response(200, json={"object": "list", "data": [{"id": "a"}]}, headers={"x-request-id": "r"}))
    client, _ = make_client(server)
    assert re.fullmatch(r"yes: HTTP 200 in \d+ ms \(request id r\)", run(client.check()))
    (request,) = server.requests
    assert (request.method, str(request.url)) == ("GET", f"{BASE}/models")
    assert request.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(("status", "words"), [(401, "refuses the key: HTTP 401"), (404, "answers HTTP 404")])
def test_check_describes_http_errors(status, words):
    client, _ = make_client(Server(httpx.Response(status, json={"error": {"message": "no"}})))
    assert words in run(client.check())


def test_check_raises_connection_errors_without_retrying():
    server = Server(httpx.ConnectError("refused"))
    client, sleeps = make_client(server)
    with pytest.raises(errors.APIConnectionError):
        run(client.check())
    assert len(server.requests) == 1 and sleeps == []


def test_aclose_leaves_a_borrowed_client_open():
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=ok_body())))
    client = ImagesClient(base_url=BASE, http_client=http)
    run(client.aclose())
    assert not http.is_closed

    async def own():
        owned = ImagesClient(base_url=BASE)
        inner = owned._http()
        await owned.aclose()
        return inner.is_closed

    assert run(own())


def test_decoding_never_touches_the_process_wide_warnings_filters(monkeypatch):
    """Images decode in several threads at once; warnings.catch_warnings() is not thread-safe (before
    Python 3.14) and would leave or drop filters of other threads."""
    import threading

    def refuse(*args, **kwargs):
        raise AssertionError("decoding changed the warnings filters")

    data = image_bytes((64, 64), "PNG")
    before = list(warnings.filters)
    monkeypatch.setattr(warnings, "catch_warnings", refuse)
    monkeypatch.setattr(warnings, "simplefilter", refuse)
    monkeypatch.setattr(warnings, "filterwarnings", refuse)
    failures = []

    def decode_many():
        try:
            for _ in range(50):
                decode_image(data, max_pixels=10**6)
            with pytest.raises(errors.ResponseFormatError, match="too many pixels"):
                decode_image(png_header(10_000, 10_000), max_pixels=10**12)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=decode_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and warnings.filters == before
