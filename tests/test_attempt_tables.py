"""Table tests of one attempt's parts — http/attempt.py: reading an event stream of partial images, and fetching
an image answered as a URL — called directly with httpx responses and an httpx.MockTransport (no server).
Written so that mutation testing (README, "Mutation testing") finds no change they miss.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import json

import httpx
import pytest
from PIL import Image

from wisgate_nb import errors
from wisgate_nb.http.attempt import USER_AGENT, Progress, consume_events, fetch_url

SECRET = "sk-attempt-tables-secret"


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(buffer, format="PNG")
    return buffer.getvalue()


B64 = base64.b64encode(png()).decode()


def sse(*events) -> bytes:
    """An event stream: each event (name or None, data as a dict or text)."""
    return "".join((f"event: {name}\n" if name else "") + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
                   for name, data in events).encode()


def stream(body: bytes, **headers) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream", **headers}, content=body,
                          request=httpx.Request("POST", "https://api.example/v1/images/generations"))


def consume(response, on_partial=None, progress=None, max_body_bytes=10**6):
    progress = progress or Progress(request_id="req-1", request_id_header="x-request-id")
    return asyncio.run(consume_events(response, on_partial, progress, max_body_bytes=max_body_bytes,
                                      max_pixels=10**6, secret=SECRET)), progress


COMPLETED = {"type": "image_generation.completed", "b64_json": B64, "created_at": 1700, "size": "4x3",
             "revised_prompt": f"a fox {SECRET}", "usage": {"total_tokens": 3}, "quality": f"high {SECRET}"}


def test_a_stream_gives_its_previews_as_they_come_and_keeps_the_completed_image():
    previews = []
    body = sse((None, {"type": "image_generation.partial_image", "b64_json": B64, "partial_image_index": 5}),
               (None, ""),  # a keep-alive: skipped, the stream goes on
               ("image_generation.partial_image", {"b64_json": B64}),  # its kind named by the event, no index
               (None, COMPLETED), (None, "[DONE]"))
    raw, progress = consume(stream(body), lambda index, blob: previews.append((index, (blob.width, blob.height))))
    assert previews == [(5, (4, 3)), (1, (4, 3))]  # the index the server gave, else the event's place
    assert (progress.events, progress.images) == (3, 3)
    assert raw.streamed and (raw.request_id, raw.request_id_header) == ("req-1", "x-request-id")
    assert raw.items == [{**COMPLETED, "revised_prompt": "a fox ***", "quality": "high ***"}]  # the key masked
    assert raw.top == {"created": 1700, "size": "4x3", "usage": {"total_tokens": 3}, "quality": "high ***"}


def test_the_last_completed_event_gives_the_answers_own_fields():
    first = {"type": "image_generation.completed", "url": "https://img.example/1.png", "created_at": 1}
    last = {"type": "image_generation.completed", "url": "https://img.example/2.png", "revised_prompt": "r"}
    raw, _ = consume(stream(sse((None, first), (None, last))))
    assert raw.items == [first, last]
    assert raw.top == {"created": None}  # no created_at: None; the image's own fields are not the answer's


def test_a_completed_event_without_an_image_names_the_request():
    with pytest.raises(errors.ResponseFormatError) as info:
        consume(stream(sse((None, {"type": "image_generation.completed", "size": "4x3"}))))
    assert str(info.value).startswith("image 1 has neither b64_json nor url")
    assert info.value.request_id == "req-1"


def test_a_preview_callback_that_raises_is_logged_and_the_stream_goes_on(caplog):
    def broken(index, blob):
        raise RuntimeError("the callback broke")

    body = sse((None, {"type": "image_generation.partial_image", "b64_json": B64}), (None, COMPLETED))
    with caplog.at_level("WARNING", logger="wisgate_nb.http.client"):
        raw, _ = consume(stream(body), broken)
    assert raw.items[0]["b64_json"] == B64
    (record,) = [r for r in caplog.records if r.name == "wisgate_nb.http.client"]
    assert record.getMessage() == "a wisgate_nb callback raised; the request goes on"
    assert record.exc_info[1].args == ("the callback broke",)


def test_a_gzipped_stream_is_read_once_decoded():
    body = sse((None, COMPLETED))
    raw, _ = consume(stream(gzip.compress(body), **{"content-encoding": "gzip"}))
    assert raw.items[0]["b64_json"] == B64


@pytest.mark.parametrize(("event", "status", "code"), [
    (("error", {"message": f"boom {SECRET}", "code": "server_error"}), 500, "server_error"),  # named by the event
    ((None, {"type": "error", "error": {"message": f"boom {SECRET}", "code": "rate_limit_exceeded"}}), 429,
     "rate_limit_exceeded"),
    ((None, {"error": {"message": f"boom {SECRET}", "type": "invalid_request_error"}}), 400, None),  # only an error
    (("error", {"type": "image_generation.failed", "message": f"boom {SECRET}"}), 500, None),  # the event's name says
])
def test_an_error_event_is_the_error_it_says_with_the_key_masked(event, status, code):
    body = sse((None, {"type": "image_generation.partial_image", "b64_json": B64}), event)
    with pytest.raises(errors.APIStatusError) as info:
        consume(stream(body, **{"x-request-id": "req-err"}))
    assert (info.value.status_code, info.value.code, info.value.message) == (status, code, "boom ***")
    assert info.value.request_id == "req-err"  # from the stream's headers


def test_a_stream_without_a_completed_image_is_a_format_error():
    with pytest.raises(errors.ResponseFormatError) as info:
        consume(stream(sse((None, {"type": "image_generation.partial_image", "b64_json": B64}))))
    assert str(info.value) == "the stream ended without a completed image"


def test_a_preview_without_image_data_is_no_image():
    with pytest.raises(errors.ResponseFormatError) as info:
        consume(stream(sse((None, {"type": "image_generation.partial_image"}), (None, COMPLETED))), print)
    assert str(info.value) == ("the image cannot be decoded: it is not PNG, JPEG, WebP or GIF data "
                               "(it starts with b'')")


def test_a_stream_over_the_cap_is_refused():
    with pytest.raises(errors.ResponseFormatError, match="over the 100-byte cap"):
        consume(stream(sse((None, COMPLETED))), max_body_bytes=100)


# ---- fetch_url ----


def fetch(url, handler, timeout=httpx.Timeout(7.0)):
    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            return await fetch_url(http, {"url": url}, timeout, 10**6)

    return asyncio.run(go())


@pytest.mark.parametrize("url", ["http://img.example/a.png", "https://img.example/a.png?sig=s3cret"])
def test_an_image_url_is_fetched_without_the_key_and_logged_without_its_query(url, caplog):
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, content=b"image bytes")

    with caplog.at_level("DEBUG", logger="wisgate_nb.http.client"):
        assert fetch(url, handler) == b"image bytes"
    (request,) = seen
    assert (request.method, str(request.url)) == ("GET", url)
    assert request.headers["user-agent"] == USER_AGENT
    assert "authorization" not in request.headers
    assert request.extensions["timeout"]["read"] == 7.0
    assert [r.getMessage() for r in caplog.records if r.name == "wisgate_nb.http.client"] == [
        "GET https://img.example/a.png -> HTTP 200".replace("https", url.split(":")[0])]


def test_an_image_url_follows_redirects():
    def handler(request):
        if request.url.path == "/old.png":
            return httpx.Response(302, headers={"location": "https://cdn.example/new.png"})
        return httpx.Response(200, content=b"moved")

    assert fetch("https://img.example/old.png", handler) == b"moved"


@pytest.mark.parametrize("status", [300, 404, 500, 199])
def test_an_image_url_that_does_not_answer_2xx_is_a_format_error(status):
    with pytest.raises(errors.ResponseFormatError) as info:
        fetch("https://img.example/a.png", lambda request: httpx.Response(status, content=b"no"))
    assert str(info.value) == f"the image URL answered HTTP {status}"


@pytest.mark.parametrize(("url", "message"), [
    ("http://[::1/a.png", "an image URL is malformed"),
    (None, "an image URL is malformed"),
    ("ftp://img.example/a.png", "an image URL has scheme 'ftp': only http and https are fetched"),
    ("file:///etc/passwd", "an image URL has scheme 'file': only http and https are fetched"),
    ("https:///a.png", "an image URL has scheme 'https': only http and https are fetched"),  # no host
])
def test_a_bad_image_url_is_refused_before_anything_is_fetched(url, message):
    with pytest.raises(errors.ResponseFormatError) as info:
        fetch(url, lambda request: pytest.fail("nothing may be fetched"))
    assert str(info.value) == message
