"""The demo server (wisgate_nb.emulator) against real clients over a real loopback socket.

The official ``openai`` client is the independent judge of the wire format; plain httpx checks
the faults, the error envelopes and the timing of the event stream.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import threading
import time

import httpx
import openai
import pytest
from bounds import FIRST_PARTIAL_BY, HEADERS_BY, SECOND_PARTIAL_BY, concurrent
from PIL import Image, ImageChops, ImageStat

from wisgate_nb.emulator import FAULT_KINDS, Emulator, EmulatorConfig, Fault, create_app, run, serve

pytestmark = pytest.mark.timeout(60)

KEY = "sk-emulator-test-0123456789abcdef"
ERROR_KEYS = {"message", "type", "param", "code"}
USAGE_KEYS = {
    "total_tokens",
    "input_tokens",
    "output_tokens",
    "input_tokens_details",
    "output_tokens_details",
}


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with serve() as handle:
        yield handle


@pytest.fixture
def srv(server):
    """The module's server, with no recorded requests, no faults and no latency."""
    server.emulator.reset()
    server.emulator.config.latency = 0.0
    yield server
    server.emulator.reset()


@pytest.fixture
def http(srv):
    with httpx.Client(base_url=srv.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def client(srv):
    return openai.OpenAI(base_url=srv.base_url, api_key="sk-anything", max_retries=0, timeout=20)


def png_bytes(size=(96, 64), colour=(200, 30, 30), mode="RGB", fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, fmt)
    return buf.getvalue()


def mask_bytes(size=(96, 64), hole=(0, 0, 48, 32)) -> bytes:
    """Opaque everywhere except a fully transparent rectangle: the area to edit."""
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), hole)
    buf = io.BytesIO()
    mask.save(buf, "PNG")
    return buf.getvalue()


def decode(b64: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def generate(http: httpx.Client, **body) -> httpx.Response:
    return http.post("/images/generations", json={"prompt": "a red sun over blue mountains", **body})


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def assert_error(response: httpx.Response, status: int, *, code, param=None, type=None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["code"] == code
    assert body["error"]["param"] == param
    if type is not None:
        assert body["error"]["type"] == type
    assert body["error"]["message"]
    return body["error"]


def assert_fully_parsed(model) -> None:
    """Every field the server sent landed in a declared field of the openai model (none in extras)."""
    assert not model.model_extra, model.model_extra
    for name in model.model_fields_set:
        value = getattr(model, name)
        if isinstance(value, list):
            for item in value:
                if hasattr(item, "model_extra"):
                    assert_fully_parsed(item)
        elif hasattr(value, "model_extra"):
            assert_fully_parsed(value)


# -- the official openai client ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output_format", "pil_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")]
)
def test_openai_generate(client, srv, output_format, pil_format):
    resp = client.images.generate(
        prompt="A lighthouse on a cliff at dusk",
        n=2,
        size="320x192",
        output_format=output_format,
        quality="high",
    )
    assert_fully_parsed(resp)
    assert resp.model_fields_set >= {
        "created",
        "data",
        "background",
        "output_format",
        "size",
        "quality",
        "usage",
    }
    assert (resp.size, resp.output_format, resp.quality, resp.background) == (
        "320x192",
        output_format,
        "high",
        "opaque",
    )
    assert len(resp.data) == 2
    images = [decode(item.b64_json) for item in resp.data]
    assert all(img.format == pil_format and img.size == (320, 192) for img in images)
    assert mean_difference(*images) > 1  # two variations, not one image twice
    usage = resp.usage
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.text_tokens > 0 and usage.input_tokens_details.image_tokens == 0
    assert usage.output_tokens_details.image_tokens == usage.output_tokens > 0
    assert srv.emulator.image_requests[-1].json["n"] == 2


def test_openai_generate_defaults(client):
    resp = client.images.generate(prompt="a cat")
    assert (resp.size, resp.quality, resp.output_format, resp.background) == (
        "1024x1024",
        "medium",
        "png",
        "opaque",
    )
    assert decode(resp.data[0].b64_json).size == (1024, 1024)


def test_openai_edit_without_mask_restyles_whole_image(client, srv):
    source = png_bytes((96, 64))
    resp = client.images.edit(image=("in.png", source, "image/png"), prompt="watercolour style")
    assert_fully_parsed(resp)
    out = decode(resp.data[0].b64_json)
    assert out.size == (96, 64) and resp.size == "96x64"
    assert mean_difference(out, Image.open(io.BytesIO(source))) > 20
    assert resp.usage.input_tokens_details.image_tokens > 0


def test_openai_edit_with_mask_and_two_images(client, srv):
    first, second = png_bytes((96, 64)), png_bytes((96, 64), (20, 20, 200))
    resp = client.images.edit(
        image=[("a.png", first, "image/png"), ("b.png", second, "image/png")],
        mask=("mask.png", mask_bytes((96, 64), hole=(0, 0, 48, 32)), "image/png"),
        prompt="a green cat",
    )
    assert_fully_parsed(resp)
    out = decode(resp.data[0].b64_json).convert("RGB")
    assert out.size == (96, 64)
    blended = Image.blend(
        Image.open(io.BytesIO(first)).convert("RGBA"), Image.open(io.BytesIO(second)).convert("RGBA"), 0.5
    )
    kept, edited = (48, 32, 96, 64), (0, 0, 48, 32)
    assert mean_difference(out.crop(kept), blended.crop(kept)) < 1  # outside the mask: untouched
    assert mean_difference(out.crop(edited), blended.crop(edited)) > 20  # inside: painted
    form = srv.emulator.image_requests[-1].form
    assert [f["filename"] for f in form["image[]"]] == ["a.png", "b.png"]
    assert form["mask"]["size"] > 0 and "bytes" not in json.dumps(form)


def test_openai_stream_generate(client):
    stream = client.images.generate(prompt="a red sun", size="256x256", stream=True, partial_images=2)
    events = list(stream)
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    for event in events:
        assert_fully_parsed(event)
        assert (event.size, event.output_format, event.quality, event.background) == (
            "256x256",
            "png",
            "medium",
            "opaque",
        )
    final = decode(events[-1].b64_json)
    partials = [decode(e.b64_json) for e in events[:2]]
    assert all(p.size == final.size == (256, 256) and p.format == "PNG" for p in partials)
    # coarser versions of the final image: each partial closer to it than the one before
    errors = [mean_difference(p, final) for p in partials]
    assert errors[0] > errors[1] > 0
    assert events[-1].usage.total_tokens > 0


def test_openai_stream_edit(client):
    stream = client.images.edit(
        image=("in.png", png_bytes(), "image/png"), prompt="a blue cat", stream=True, partial_images=1
    )
    events = list(stream)
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    for event in events:
        assert_fully_parsed(event)
    assert decode(events[-1].b64_json).size == (96, 64)


def test_stream_with_n_2_completes_each_image(http):
    r = generate(http, n=2, size="128x128", stream=True, partial_images=1)
    kinds = [name for name, _ in sse_events(r.text)]
    assert kinds == ["image_generation.partial_image", "image_generation.completed"] * 2
    assert r.headers["content-type"].startswith("text/event-stream")


def test_wire_shapes_match_the_contract(http):
    body = generate(http, size="64x64").json()
    assert set(body) == {"created", "data", "background", "output_format", "size", "quality", "usage"}
    assert set(body["data"][0]) == {"b64_json"}
    assert set(body["usage"]) == USAGE_KEYS
    assert set(body["usage"]["input_tokens_details"]) == {"text_tokens", "image_tokens"}
    assert set(body["usage"]["output_tokens_details"]) == {"image_tokens", "text_tokens"}
    events = sse_events(generate(http, size="64x64", stream=True, partial_images=1).text)
    required = {"type", "b64_json", "created_at", "size", "quality", "background", "output_format"}
    assert [(name, data["type"]) for name, data in events] == [
        ("image_generation.partial_image", "image_generation.partial_image"),
        ("image_generation.completed", "image_generation.completed"),
    ]
    assert set(events[0][1]) == required | {"partial_image_index"}
    assert set(events[1][1]) == required | {"usage"}
    assert set(events[1][1]["usage"]) == USAGE_KEYS - {"output_tokens_details"}  # ImagesUsage in the yaml


# -- images --------------------------------------------------------------------------------------


def test_same_inputs_same_bytes_and_seed_changes_them(http):
    first = generate(http, size="256x128").json()["data"][0]["b64_json"]
    again = generate(http, size="256x128").json()["data"][0]["b64_json"]
    assert first == again
    with serve(EmulatorConfig(seed=7)) as other:
        reseeded = httpx.post(
            f"{other.base_url}/images/generations",
            json={"prompt": "a red sun over blue mountains", "size": "256x128"},
        ).json()["data"][0]["b64_json"]
    assert reseeded != first


def test_different_prompts_look_different(http):
    pictures = [
        decode(generate(http, prompt=prompt, size="256x256").json()["data"][0]["b64_json"])
        for prompt in (
            "a red sun over blue mountains",
            "a green cat on a purple sofa",
            "a city skyline at night",
        )
    ]
    for i in range(3):
        for j in range(i + 1, 3):
            assert mean_difference(pictures[i], pictures[j]) > 25


def test_transparent_background_has_alpha(http):
    body = generate(http, size="128x128", background="transparent", output_format="webp").json()
    img = decode(body["data"][0]["b64_json"])
    assert body["background"] == "transparent" and img.mode == "RGBA"
    assert img.getchannel("A").getextrema()[0] == 0


def test_noise_makes_images_incompressible():
    plain, noisy = (
        asyncio.run(_generate_in_process(EmulatorConfig(noise=noise), size="256x256"))
        for noise in (False, True)
    )
    assert len(base64.b64decode(noisy["data"][0]["b64_json"])) > 3 * len(
        base64.b64decode(plain["data"][0]["b64_json"])
    )


def test_response_format_url_is_served(http, srv):
    body = generate(http, size="128x128", response_format="url").json()
    url = body["data"][0]["url"]
    assert url.startswith(f"http://127.0.0.1:{srv.port}/v1/demo-files/")
    image = httpx.get(url)
    assert image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (128, 128)


def test_json_edit_with_data_url(http, srv):
    data_url = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    body = http.post("/images/edits", json={"prompt": "a cat", "images": [{"image_url": data_url}]}).json()
    assert decode(body["data"][0]["b64_json"]).size == (96, 64)
    assert srv.emulator.image_requests[-1].json["images"][0]["image_url"].startswith("<data URL")
    remote = http.post(
        "/images/edits", json={"prompt": "a cat", "images": [{"image_url": "https://x.test/a.png"}]}
    )
    assert_error(remote, 400, code="invalid_image_url", param="images[0].image_url")


# -- validation, auth, moderation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"prompt": None}, "prompt", "missing_required_parameter"),
        ({"prompt": ""}, "prompt", "empty_string"),
        ({"prompt": 3}, "prompt", "invalid_type"),
        ({"n": 0}, "n", "integer_below_min_value"),
        ({"n": 11}, "n", "integer_above_max_value"),
        ({"n": "2"}, "n", "invalid_type"),
        ({"size": "32x32"}, "size", "invalid_value"),
        ({"size": "5000x1024"}, "size", "invalid_value"),
        ({"size": "large"}, "size", "invalid_value"),
        ({"quality": "ultra"}, "quality", "invalid_value"),
        ({"output_format": "gif"}, "output_format", "invalid_value"),
        ({"background": "clear"}, "background", "invalid_value"),
        ({"background": "transparent", "output_format": "jpeg"}, "background", "invalid_value"),
        ({"output_compression": 101}, "output_compression", "integer_above_max_value"),
        ({"partial_images": 4}, "partial_images", "integer_above_max_value"),
        ({"response_format": "jpeg"}, "response_format", "invalid_value"),
        ({"stream": "yes"}, "stream", "invalid_type"),
    ],
)
def test_generation_validation(http, srv, body, param, code):
    error = assert_error(generate(http, **body), 400, code=code, param=param, type="invalid_request_error")
    assert param in error["message"] or "Invalid value" in error["message"] or "Missing" in error["message"]
    assert srv.emulator.image_requests[-1].status == 400


def test_unknown_fields_are_ignored(http):
    assert generate(http, size="64x64", style="vivid", user="u-1", something_new={"x": 1}).status_code == 200


def test_malformed_json_body(http):
    r = http.post("/images/generations", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(r, 400, code=None, param=None, type="invalid_request_error")


@pytest.mark.parametrize(
    ("files", "param", "code"),
    [
        ({}, "image", "missing_required_parameter"),
        ({"image": ("a.png", b"not an image at all", "image/png")}, "image", "invalid_image_file"),
        ({"image": ("a.gif", png_bytes(fmt="GIF"), "image/gif")}, "image", "invalid_image_file"),
        (
            {
                "image": ("a.png", png_bytes((96, 64)), "image/png"),
                "mask": ("m.png", mask_bytes((64, 64)), "image/png"),
            },
            "mask",
            "invalid_value",
        ),
        (
            {
                "image": ("a.png", png_bytes(), "image/png"),
                "mask": ("m.png", png_bytes(mode="RGB"), "image/png"),
            },
            "mask",
            "invalid_value",
        ),
        (
            {
                "image": ("a.png", png_bytes(), "image/png"),
                "mask": ("m.jpg", png_bytes(fmt="JPEG"), "image/jpeg"),
            },
            "mask",
            "invalid_image_file",
        ),
    ],
)
def test_edit_validation(http, files, param, code):
    r = http.post("/images/edits", data={"prompt": "a cat"}, files=files or {"unrelated": ("x.txt", b"x")})
    assert_error(r, 400, code=code, param=param)


def test_edit_accepts_indexed_image_names(http):
    files = [
        ("image[0]", ("a.png", png_bytes(), "image/png")),
        ("image[1]", ("b.png", png_bytes(), "image/png")),
    ]
    r = http.post("/images/edits", data={"prompt": "a collage", "n": "2", "size": "128x96"}, files=files)
    body = r.json()
    assert r.status_code == 200 and body["size"] == "128x96" and len(body["data"]) == 2


def test_require_key():
    with serve(EmulatorConfig(require_key=KEY)) as keyed:
        url = f"{keyed.base_url}/images/generations"
        body = {"prompt": "a cat", "size": "64x64"}
        missing = httpx.post(url, json=body)
        assert_error(missing, 401, code="invalid_api_key")
        wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer sk-wrong-key-0123456789"})
        error = assert_error(wrong, 401, code="invalid_api_key", type="invalid_request_error")
        assert "sk-wrong-key-0123456789" not in wrong.text and KEY not in wrong.text
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        assert "Incorrect API key" in error["message"]
        assert httpx.get(f"{keyed.base_url}/models").status_code == 401
        assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=keyed.base_url, api_key="nope", max_retries=0).images.generate(prompt="x")
        recorded = json.dumps([r.headers for r in keyed.emulator.requests])
        assert KEY not in recorded and "nope" not in recorded and "[REDACTED]" in recorded
        assert "***" in repr(keyed.emulator.config) and KEY not in repr(keyed.emulator.config)


def test_moderation_word(http, srv):
    error = assert_error(
        generate(http, prompt="A FORBIDDEN fruit"),
        400,
        code="moderation_blocked",
        type="image_generation_user_error",
    )
    assert "safety" in error["message"]
    srv.emulator.config.moderation_words = ("kraken",)
    try:
        assert generate(http, prompt="a forbidden fruit", size="64x64").status_code == 200
        assert_error(generate(http, prompt="the Kraken awakes"), 400, code="moderation_blocked")
    finally:
        srv.emulator.config.moderation_words = ("forbidden",)


def test_content_policy_through_openai(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(prompt="something forbidden")
    assert info.value.code == "moderation_blocked"


# -- request ids, models, the record -------------------------------------------------------------


def test_request_id_and_models(http, srv):
    models = http.get("/models")
    assert models.headers["x-request-id"].startswith("req_")
    assert "gpt-image-2" in [m["id"] for m in models.json()["data"]]
    missing = http.post("/nothing/here", json={})
    assert_error(missing, 404, code=None)
    ids = {generate(http, size="64x64").headers["x-request-id"] for _ in range(2)}
    assert len(ids) == 2
    assert [r.path for r in srv.emulator.image_requests] == ["/v1/images/generations"] * 2
    assert len(srv.emulator.requests) == 4
    assert {r.request_id for r in srv.emulator.image_requests} == ids
    srv.emulator.reset()
    assert srv.emulator.requests == []


def test_latency_range_is_seeded():
    draws = [Emulator(EmulatorConfig(latency=(0.5, 1.5), seed=3)).latency() for _ in range(2)]
    assert draws[0] == draws[1] and 0.5 <= draws[0] <= 1.5


# -- faults, seen by plain httpx over the socket ---------------------------------------------------


def test_status_faults_in_order_with_retry_after(http, srv):
    srv.emulator.schedule(
        Fault("status", 429, retry_after=2), Fault("status", 503, retry_after=0.5), Fault("status")
    )
    limited = generate(http)
    assert_error(limited, 429, code="rate_limit_exceeded", type="requests")
    assert limited.headers["retry-after"] == "2"
    overloaded = generate(http)
    assert_error(overloaded, 503, code=None, type="server_error")
    assert overloaded.headers["retry-after"] == "0.5"
    broken = generate(http)
    assert_error(broken, 500, code=None, type="server_error")
    assert "retry-after" not in broken.headers
    assert generate(http, size="64x64").status_code == 200  # the schedule is used up
    assert [r.fault for r in srv.emulator.image_requests] == ["status", "status", "status", None]


def test_faults_only_count_image_requests(http, srv):
    srv.emulator.schedule(Fault("status", 500))
    assert http.get("/models").status_code == 200
    assert generate(http).status_code == 500


def test_openai_client_retries_through_a_429(srv):
    srv.emulator.schedule(Fault("status", 429, retry_after=0))
    client = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=1)
    assert client.images.generate(prompt="a cat", size="64x64").data
    assert [r.status for r in srv.emulator.image_requests] == [429, 200]


def test_drop_fault_breaks_the_connection(http, srv):
    srv.emulator.schedule(Fault("drop"))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        generate(http)
    assert generate(http, size="64x64").status_code == 200  # the server itself is fine


def test_slow_fault_trips_a_read_timeout(http, srv):
    srv.emulator.schedule(Fault("slow", delay=1.0))
    with pytest.raises(httpx.ReadTimeout):
        http.post(
            "/images/generations", json={"prompt": "x", "size": "64x64"}, timeout=httpx.Timeout(5, read=0.2)
        )


def test_slow_body_sends_headers_first(http, srv):
    srv.emulator.schedule(Fault("slow_body", delay=0.8))
    start = time.perf_counter()
    with http.stream("POST", "/images/generations", json={"prompt": "x", "size": "64x64"}) as r:
        headers_at = time.perf_counter() - start
        body = r.read()
        done_at = time.perf_counter() - start
    assert r.status_code == 200 and json.loads(body)["data"]
    assert headers_at < HEADERS_BY * done_at


def test_html_fault(http, srv):
    srv.emulator.schedule(Fault("html"), Fault("html", status=503))
    r = generate(http)
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html") and "<html>" in r.text
    assert r.headers["x-request-id"].startswith("req_")
    assert generate(http).status_code == 503


def test_bad_json_fault(http, srv):
    srv.emulator.schedule(Fault("bad_json"))
    r = generate(http)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        r.json()


def test_no_images_fault(http, srv):
    srv.emulator.schedule(Fault("no_images"))
    body = generate(http, size="64x64").json()
    assert body["data"] == [] and body["usage"]["total_tokens"] > 0


def test_truncated_b64_fault(http, srv):
    srv.emulator.schedule(Fault("truncated_b64"))
    b64 = generate(http, size="128x128").json()["data"][0]["b64_json"]
    assert b64.startswith("iVBOR")
    with pytest.raises(binascii.Error):
        base64.b64decode(b64)


def test_undecodable_fault(http, srv):
    srv.emulator.schedule(Fault("undecodable"))
    raw = base64.b64decode(generate(http).json()["data"][0]["b64_json"], validate=True)
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(io.BytesIO(raw))


def test_bomb_fault(http, srv):
    srv.emulator.schedule(Fault("bomb"))
    raw = base64.b64decode(generate(http).json()["data"][0]["b64_json"])
    assert len(raw) < 200_000
    assert raw[16:24] == (30000).to_bytes(4, "big") * 2  # the IHDR's width and height
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(raw))


def test_huge_fault_streams_without_end(http, srv):
    srv.emulator.schedule(Fault("huge", size_mb=64))
    with http.stream("POST", "/images/generations", json={"prompt": "x"}) as r:
        assert r.status_code == 200 and int(r.headers["content-length"]) == 64 * 1024 * 1024
        received = 0
        for chunk in r.iter_bytes():
            received += len(chunk)
            if received > 3 * 1024 * 1024:
                break
    assert received > 3 * 1024 * 1024
    assert generate(http, size="64x64").status_code == 200


def test_url_faults(http, srv):
    srv.emulator.schedule(Fault("url_404"), Fault("url_scheme"))
    url = generate(http).json()["data"][0]["url"]
    assert url == f"http://127.0.0.1:{srv.port}/v1/demo-files/missing.png"
    assert_error(httpx.get(url), 404, code="not_found")
    assert generate(http).json()["data"][0]["url"] == "file:///etc/passwd"


def test_stream_no_complete_fault(http, srv):
    srv.emulator.schedule(Fault("stream_no_complete"))
    r = generate(http, size="64x64", stream=True, partial_images=2)
    assert [name for name, _ in sse_events(r.text)] == ["image_generation.partial_image"] * 2


def test_stream_error_fault(http, srv, client):
    srv.emulator.schedule(Fault("stream_error"))
    events = sse_events(generate(http, size="64x64", stream=True, partial_images=2).text)
    assert [name for name, _ in events] == ["image_generation.partial_image", "error"]
    assert events[1][1] == {
        "type": "error",
        "error": {
            "message": events[1][1]["error"]["message"],
            "type": "server_error",
            "code": None,
            "param": None,
        },
    }
    srv.emulator.schedule(Fault("stream_error", message="upstream fell over"))
    with pytest.raises(openai.APIError, match="upstream fell over"):
        list(client.images.generate(prompt="x", size="64x64", stream=True, partial_images=1))


def test_fault_rate_is_seeded():
    def statuses(seed: int) -> list[int]:
        with serve(EmulatorConfig(fault_rate=0.5, seed=seed)) as s, httpx.Client(base_url=s.base_url) as c:
            return [
                c.post("/images/generations", json={"prompt": "x", "size": "64x64"}).status_code
                for _ in range(12)
            ]

    first = statuses(1)
    assert first == statuses(1)
    assert set(first) <= {200, 429, 500, 503} and 200 in first and len(set(first)) > 1


def test_fault_validation():
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("gremlins")
    with pytest.raises(TypeError):
        Emulator().schedule("status")  # type: ignore[arg-type]
    assert "drop" in FAULT_KINDS and "quota" in FAULT_KINDS and len(FAULT_KINDS) == 16


# -- streaming is really streamed; in-process; no leaked thread ------------------------------------


def test_stream_events_arrive_spread_over_the_latency(http, srv):
    srv.emulator.config.latency = 1.0
    start = time.perf_counter()
    arrivals = []
    body = {"prompt": "a lighthouse", "size": "128x128", "stream": True, "partial_images": 2}
    with http.stream("POST", "/images/generations", json=body) as r:
        for line in r.iter_lines():
            if line.startswith("event:"):
                arrivals.append((line.split(": ", 1)[1], time.perf_counter() - start))
    assert [name for name, _ in arrivals][-1] == "image_generation.completed"
    first_partial, completed = arrivals[0][1], arrivals[-1][1]
    assert first_partial / completed < FIRST_PARTIAL_BY  # planned at 1/3 of the way
    assert arrivals[1][1] / completed < SECOND_PARTIAL_BY  # planned at 2/3


async def _generate_in_process(config: EmulatorConfig | None = None, **body) -> dict:
    transport = httpx.ASGITransport(app=create_app(config))
    async with httpx.AsyncClient(transport=transport, base_url="http://demo/v1") as c:
        r = await c.post("/images/generations", json={"prompt": "a lighthouse", **body})
        assert r.status_code == 200 and r.headers["x-request-id"].startswith("req_")
        return r.json()


def test_requests_are_served_concurrently(srv):
    srv.emulator.config.latency = 0.4

    async def four() -> float:
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=10) as c:
            start = time.perf_counter()
            body = {"prompt": "a lighthouse", "size": "256x256"}
            replies = await asyncio.gather(*(c.post("/images/generations", json=body) for _ in range(4)))
            assert [r.status_code for r in replies] == [200] * 4
            return time.perf_counter() - start

    assert asyncio.run(four()) < concurrent(4, 0.4)  # one after the other would take 4 x 0.4


def test_in_process_demo_mode():
    body = asyncio.run(_generate_in_process(size="128x128", n=2))
    assert len(body["data"]) == 2 and decode(body["data"][0]["b64_json"]).size == (128, 128)
    url_body = asyncio.run(_generate_in_process(size="64x64", response_format="url"))
    assert url_body["data"][0]["url"].startswith("http://demo/v1/demo-files/")


def test_in_process_stream():
    async def stream() -> list[tuple[str, dict]]:
        transport = httpx.ASGITransport(app=create_app(EmulatorConfig(latency=0.05)))
        async with httpx.AsyncClient(transport=transport, base_url="http://demo/v1") as c:
            body = {"prompt": "a lighthouse", "size": "64x64", "stream": True, "partial_images": 2}
            r = await c.post("/images/generations", json=body)
            return sse_events(r.text)

    names = [name for name, _ in asyncio.run(stream())]
    assert names == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]


def test_run_hands_the_app_to_uvicorn(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    run(host="127.0.0.1", port=8123, config=EmulatorConfig(require_key=KEY, latency=2.0))
    [(app, kw)] = calls
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8123
    assert app.state.emulator.config.require_key == KEY and app.state.emulator.config.latency == 2.0


def test_serve_leaves_no_thread_behind():
    before = set(threading.enumerate())
    with serve() as s:
        assert (
            httpx.post(f"{s.base_url}/images/generations", json={"prompt": "x", "size": "64x64"}).status_code
            == 200
        )
        assert any(t.name.startswith("wisgate-emulator") for t in threading.enumerate())
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{s.base_url}/models")
