"""ImagesClient against the real demo server on a loopback socket, with injected faults."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import math
import re
import time

import pytest
from bounds import CANCEL_S, FIRST_PARTIAL_BY, NO_HANG_S, SLOW_ANSWER_S
from conftest import TEST_KEY
from PIL import Image

from wisgate_nb import errors
from wisgate_nb import options as params
from wisgate_nb.emulator import Fault
from wisgate_nb.http.client import ImagesClient, load_image_input

KEY = TEST_KEY


@pytest.fixture
def srv(server):
    """The shared demo server of conftest.py (it requires TEST_KEY), reset for each test."""
    return server


def run(srv, method: str, *args, fast_sleep: bool = False, **kwargs):
    """Call ``ImagesClient.<method>`` once, on a fresh client, in a fresh event loop."""
    client_kwargs = {k: kwargs.pop(k) for k in ("timeout", "max_retries", "api_key", "max_body_bytes")
                     if k in kwargs}
    client_kwargs.setdefault("api_key", KEY)
    sleeps: list[float] = []

    async def record_sleep(delay: float) -> None:
        sleeps.append(delay)

    async def main():
        sleep = record_sleep if fast_sleep else asyncio.sleep
        client = ImagesClient(base_url=srv.base_url, sleep=sleep, **client_kwargs)
        try:
            return await getattr(client, method)(*args, **kwargs)
        finally:
            await client.aclose()

    result = asyncio.run(main())
    return (result, sleeps) if fast_sleep else result


def payload(**options) -> dict:
    return params.build_generation_payload("a lighthouse at dusk", model="gpt-image-2", size="256x256",
                                           **options)


def statuses(srv) -> list[int | None]:
    return [r.status for r in srv.emulator.image_requests]


# ---- the happy paths --------------------------------------------------------------------------

def test_generation(srv):
    result = run(srv, "generate", payload(n=2, output_format="webp", quality=None))
    (request,) = srv.emulator.image_requests
    assert request.json == {"model": "gpt-image-2", "prompt": "a lighthouse at dusk", "size": "256x256", "n": 2,
                            "output_format": "webp"}
    assert request.headers["authorization"] == "Bearer [REDACTED]"  # it came, and the server kept it secret
    assert [(b.format, b.width, b.height) for b in result.images] == [("webp", 256, 256)] * 2
    assert result.request_id == request.request_id and result.attempts == 1
    assert result.usage["total_tokens"] > 0 and result.created


def test_check_against_the_server(srv):
    assert run(srv, "check").startswith("yes: HTTP 200")
    assert "refuses the key" in run(srv, "check", api_key="sk-wrong")


def test_url_images_are_fetched_without_the_key(srv):
    result = run(srv, "generate", payload(response_format="url"))
    assert result.images[0].format == "png"
    (get,) = [r for r in srv.emulator.requests if r.method == "GET"]
    assert "/demo-files/" in get.path and "authorization" not in get.headers


def picture(size=(256, 256), fmt="PNG", mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "teal").save(buffer, format=fmt)
    return buffer.getvalue()


def test_edit_with_one_image_and_a_mask_is_accepted(srv):
    fields = params.build_generation_payload("add a boat", endpoint="edits", model="gpt-image-2", size="256x256")
    image = load_image_input(picture(fmt="JPEG"))
    mask = load_image_input(Image.new("RGBA", (256, 256)), default_name="mask.png")
    result = run(srv, "edit", fields, [image], mask)
    (request,) = srv.emulator.image_requests
    assert request.path == "/v1/images/edits" and request.status == 200
    assert request.form["image"] == {"filename": "image.jpg", "size": len(image[1]), "content_type": "image/jpeg",
                                     "sha256": hashlib.sha256(image[1]).hexdigest()[:16]}
    assert request.form["mask"]["filename"] == "mask.png"
    assert request.form["prompt"] == "add a boat"
    assert len(result.images) == 1


def test_edit_with_several_images_is_accepted(srv):
    images = [load_image_input(picture()), load_image_input(picture(fmt="WEBP"))]
    result = run(srv, "edit", {"model": "gpt-image-2", "prompt": "merge", "size": "256x256"}, images)
    (request,) = srv.emulator.image_requests
    assert [f["filename"] for f in request.form["image[]"]] == ["image.png", "image.webp"]
    assert len(result.images) == 1


@pytest.mark.parametrize("method", ["generate", "edit"])
def test_stream_partials_arrive_before_the_result(srv, method):
    srv.emulator.config.latency = 0.8  # spread over the events: partials come well before the end
    arrivals: list[tuple[int, float]] = []
    started = time.monotonic()

    def on_partial(index, blob):
        assert blob.width == 256
        arrivals.append((index, time.monotonic() - started))

    if method == "generate":
        result = run(srv, "generate", payload(stream=True, partial_images=2), on_partial=on_partial)
    else:
        fields = params.build_generation_payload("add snow", endpoint="edits", model="gpt-image-2", size="256x256",
                                                 stream=True, partial_images=2)
        result = run(srv, "edit", fields, [load_image_input(picture())], on_partial=on_partial)
    finished = time.monotonic() - started
    assert [index for index, _ in arrivals] == [0, 1]
    assert arrivals[0][1] < FIRST_PARTIAL_BY * finished  # the first partial came while the stream still had ~2/3 to go
    assert result.streamed and len(result.images) == 1


# ---- faults: retried --------------------------------------------------------------------------

@pytest.mark.parametrize("retry_after", [1.5, 3.0])
def test_429_retry_after_is_honoured(srv, retry_after):
    srv.emulator.schedule(Fault("status", status=429, retry_after=retry_after))
    words: list[str] = []
    result = run(srv, "generate", payload(), on_status=words.append)
    first, second = srv.emulator.image_requests
    ratio = (second.timestamp - first.timestamp) / retry_after
    assert 0.9 <= ratio <= 1.1, ratio
    assert words[0] == f"waiting for the rate limit (~{math.ceil(retry_after)} s)" and len(words) == 2
    assert re.fullmatch(r"sent after \d s waiting for the rate limit", words[1]), words
    assert result.attempts == 2 and statuses(srv) == [429, 200]


def test_5xx_is_retried_then_succeeds(srv):
    srv.emulator.schedule(Fault("status", status=503), Fault("html", status=502))
    result, sleeps = run(srv, "generate", payload(), fast_sleep=True)
    assert result.attempts == 3 and statuses(srv) == [503, 502, 200]
    assert len(sleeps) == 2 and sleeps[0] <= 0.5 < sleeps[1] <= 1.0


def test_exhausted_retries_raise_internal_server_error(srv):
    srv.emulator.schedule(*[Fault("status", status=500)] * 3)
    with pytest.raises(errors.InternalServerError) as info:
        run(srv, "generate", payload(), fast_sleep=True)
    assert statuses(srv) == [500, 500, 500]
    assert info.value.request_id == srv.emulator.image_requests[-1].request_id


def test_html_error_page_message(srv):
    srv.emulator.schedule(Fault("html"))
    with pytest.raises(errors.InternalServerError) as info:
        run(srv, "generate", payload(), max_retries=0)
    assert "HTTP 502: the server sent an HTML page instead of JSON (502 Bad Gateway 502 Bad Gateway nginx)" in str(
        info.value)


def test_dropped_connection_is_retried(srv):
    srv.emulator.schedule(Fault("drop"))
    result, sleeps = run(srv, "generate", payload(), fast_sleep=True)
    assert result.attempts == 2 and len(srv.emulator.image_requests) == 2 and len(sleeps) == 1


def test_dropped_connections_exhaust_into_a_connection_error(srv):
    srv.emulator.schedule(*[Fault("drop")] * 3)
    with pytest.raises(errors.APIConnectionError) as info:
        run(srv, "generate", payload(), fast_sleep=True)
    assert not isinstance(info.value, errors.APITimeoutError)
    assert len(srv.emulator.image_requests) == 3



def test_read_timeout_is_retried(srv):
    srv.emulator.schedule(Fault("slow", delay=SLOW_ANSWER_S))
    started = time.monotonic()
    result, sleeps = run(srv, "generate", payload(), timeout=0.5, fast_sleep=True)
    assert time.monotonic() - started < SLOW_ANSWER_S  # the timeout ended the first attempt
    assert result.attempts == 2 and len(sleeps) == 1


def test_timeouts_exhaust_into_api_timeout_error(srv):
    srv.emulator.schedule(Fault("slow", delay=SLOW_ANSWER_S), Fault("slow", delay=SLOW_ANSWER_S))
    started = time.monotonic()
    with pytest.raises(errors.APITimeoutError, match=r"no answer within 0\.4 s"):
        run(srv, "generate", payload(), timeout=0.4, max_retries=1, fast_sleep=True)
    assert time.monotonic() - started < SLOW_ANSWER_S and len(srv.emulator.image_requests) == 2  # neither answer awaited


# ---- errors that are never retried ------------------------------------------------------------

def test_wrong_key_is_401_and_not_retried(srv):
    with pytest.raises(errors.AuthenticationError) as info:
        run(srv, "generate", payload(), api_key="sk-wrong-key-0000", fast_sleep=True)
    assert len(srv.emulator.image_requests) == 1
    assert info.value.code == "invalid_api_key" and "sk-wrong-key-0000" not in str(info.value)


@pytest.mark.parametrize(("kwargs", "cls"), [
    ({"prompt": "a forbidden picture"}, errors.ContentPolicyError),
    ({"background": "transparent", "output_format": "jpeg"}, errors.BadRequestError),  # the server's to judge
])
def test_400s_are_not_retried(srv, kwargs, cls):
    body = {**payload(), **kwargs}
    with pytest.raises(cls) as info:
        run(srv, "generate", body, fast_sleep=True)
    assert len(srv.emulator.image_requests) == 1 and info.value.status_code == 400


def test_injected_400_is_not_retried(srv):
    srv.emulator.schedule(Fault("status", status=400))
    with pytest.raises(errors.BadRequestError):
        run(srv, "generate", payload(), fast_sleep=True)
    assert statuses(srv) == [400]


# ---- bodies that break the contract -----------------------------------------------------------

@pytest.mark.parametrize(("kind", "message"), [
    ("bad_json", "not JSON"),
    ("no_images", "no images"),
    ("truncated_b64", "base64"),
    ("undecodable", "cannot be decoded"),
    ("bomb", "too many pixels"),
    ("url_404", "answered HTTP 404"),
    ("url_scheme", "scheme 'file'"),
])
def test_broken_bodies_are_response_format_errors(srv, kind, message):
    srv.emulator.schedule(Fault(kind))
    with pytest.raises(errors.ResponseFormatError, match=message) as info:
        run(srv, "generate", payload(), fast_sleep=True)
    (request,) = srv.emulator.image_requests  # never retried
    assert info.value.request_id == request.request_id


def test_a_200_megabyte_body_is_refused_without_reading_it(srv):
    srv.emulator.schedule(Fault("huge", size_mb=200))
    started = time.monotonic()
    with pytest.raises(errors.ResponseFormatError, match="over the 104,857,600-byte cap"):
        run(srv, "generate", payload())
    assert time.monotonic() - started < NO_HANG_S  # refused from its Content-Length, never read


def test_stream_without_completed_event(srv):
    srv.emulator.schedule(Fault("stream_no_complete"))
    with pytest.raises(errors.ResponseFormatError, match="without a completed image"):
        run(srv, "generate", payload(stream=True, partial_images=1), fast_sleep=True)


def test_stream_error_event_after_a_partial(srv):
    srv.emulator.schedule(Fault("stream_error", message="the GPU caught fire"))
    partials: list[int] = []
    with pytest.raises(errors.InternalServerError, match="the GPU caught fire"):
        run(srv, "generate", payload(stream=True, partial_images=2), on_partial=lambda i, b: partials.append(i),
            fast_sleep=True)
    assert partials == [0] and len(srv.emulator.image_requests) == 1  # a started stream is never replayed


# ---- cancellation and secrecy -----------------------------------------------------------------

def test_cancel_aborts_the_request_promptly(srv):
    srv.emulator.schedule(Fault("slow", delay=5))

    async def main():
        client = ImagesClient(base_url=srv.base_url, api_key=KEY)
        try:
            task = asyncio.create_task(client.generate(payload()))
            deadline = time.monotonic() + 10
            while not srv.emulator.image_requests and time.monotonic() < deadline:
                await asyncio.sleep(0.02)  # until the server holds the request
            cancelled_at = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return time.monotonic() - cancelled_at
        finally:
            await client.aclose()

    assert asyncio.run(main()) < CANCEL_S
    assert len(srv.emulator.image_requests) == 1


def test_the_key_never_reaches_the_log(srv, caplog):
    srv.emulator.schedule(Fault("status", status=500))
    with caplog.at_level(logging.DEBUG):
        run(srv, "generate", payload(), fast_sleep=True)
    assert KEY not in caplog.text
    assert "-> HTTP 500" in caplog.text and "-> HTTP 200" in caplog.text
