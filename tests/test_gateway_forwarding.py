"""What passes through the gateway and what it refuses itself: JSON, multipart edits, event streams,
upstream errors, bad input — with the real wisgate_nb client, the official openai client and raw httpx.
"""

from __future__ import annotations

import io
import time

import httpx
import openai
import pytest
from bounds import FIRST_PARTIAL_BY, LATENCY_FLOOR, RELEASE_S
from gateway_helpers import HTTP, bearer, classroom
from PIL import Image
from reliability_helpers import closed_port, image_bytes, wait_until
from sqlalchemy import select

import wisgate_nb
from wisgate_nb import (
    APIConnectionError,
    APIStatusError,
    ContentPolicyError,
    InternalServerError,
    QuotaExceededError,
    RateLimitError,
)
from wisgate_nb.core.session import set_current
from wisgate_nb.emulator import Fault
from wisgate_nb.gateway import db

GENERATE, EDIT = "/images/generations", "/images/edits"
STREAM_LATENCY = 3.0  # seconds the upstream takes to stream 2 partials and the final image, evenly spaced


@pytest.fixture(scope="module")
def room(demo_server, tmp_path_factory):
    """One gateway for the tests of this module that need no settings of their own; each test has its own
    student (the counts and records looked at are that student's), the demo server is reset by `server`."""
    with classroom(tmp_path_factory.mktemp("room"), demo_server.base_url,
                   "max_body_mb = 1\n[quota]\nimages_per_day = 10\n") as room:
        yield room


def _mask(size=(256, 256)) -> bytes:
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (64, 64, 192, 192))  # transparent: the area to edit
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


def test_json_passes_through_with_the_upstream_request_id(room, server):
    token = room.student("ann")
    r = HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "a red fox", "size": "256x256", "n": 2,
                                                      "quality": "low"}, headers=bearer(token), timeout=30)
    assert r.status_code == 200
    [seen] = server.emulator.image_requests
    assert r.headers["x-request-id"] == seen.request_id
    sent = dict(seen.json)
    assert sent.pop("safety_identifier") == sent.pop("user") != "ann"  # who it is, never the name (test_gateway_term)
    assert sent == {"prompt": "a red fox", "size": "256x256", "n": 2, "quality": "low"}
    body = r.json()
    assert len(body["data"]) == 2 and body["usage"]["total_tokens"] > 0 and body["quality"] == "low"
    assert int(r.headers["content-length"]) == len(r.content)
    row = room.usage("ann")
    assert (row["images_today"], row["tokens_today"]) == (2, body["usage"]["total_tokens"])


def test_the_wisgate_client_generates_and_the_official_client_too(room, server):
    token = room.student("ben")
    session = room.session(token)
    try:
        g = session.run(session.prepare("a lighthouse", size="256x256"))
    finally:
        session.close()
    assert g.images[0].size == (256, 256) and g.request_id == server.emulator.image_requests[0].request_id
    client = openai.OpenAI(base_url=room.gw.base_url, api_key=token, max_retries=2)
    resp = client.images.generate(model="gpt-image-2", prompt="a lighthouse", size="1024x1024")
    assert resp.data[0].b64_json and resp.usage.total_tokens > 0
    assert room.quota(token)["used"]["images_today"] == 2


def test_the_official_client_does_not_retry_a_quota_refusal(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 0\n") as room:
        token = room.student("cy")
        client = openai.OpenAI(base_url=room.gw.base_url, api_key=token, max_retries=3)
        with pytest.raises(openai.RateLimitError) as caught:
            client.images.generate(model="gpt-image-2", prompt="a fox", size="1024x1024")
        assert caught.value.code == "quota_exceeded" and "images_per_day is 0" in caught.value.message
        assert server.emulator.image_requests == []
        assert room.usage("cy")["refusals_today"] == 1  # one refusal: x-should-retry: false was honoured


def test_edits_with_an_image_and_a_mask_pass_through(room, server):
    token = room.student("dee")
    session = room.session(token)
    try:
        set_current(session)
        source = Image.open(io.BytesIO(image_bytes((256, 256))))
        g = wisgate_nb.edit(source, "a boat on the lake", mask=_mask(), size="256x256")
    finally:
        set_current(None)
        session.close()
    assert g.images[0].size == (256, 256)
    [seen] = server.emulator.image_requests
    assert seen.path.endswith("/images/edits") and seen.form["prompt"] == "a boat on the lake"
    image_field = seen.form.get("image") or seen.form.get("image[]")
    assert image_field is not None and seen.form["mask"]["size"] == len(_mask())
    # several images as image[] through the official client
    client = openai.OpenAI(base_url=room.gw.base_url, api_key=token, max_retries=0)
    files = [("a.png", image_bytes((128, 128)), "image/png"), ("b.png", image_bytes((128, 128)), "image/png")]
    resp = client.images.edit(model="gpt-image-2", image=files, prompt="both together", size="1024x1024")
    assert resp.data[0].b64_json
    assert len(server.emulator.image_requests[-1].form["image[]"]) == 2
    assert room.quota(token)["used"]["images_today"] == 2


def test_partial_images_arrive_before_the_final_image(room, server):
    server.emulator.config.latency = STREAM_LATENCY
    token = room.student("eve")
    session = room.session(token)
    partials: list[float] = []
    try:
        t0 = time.monotonic()
        g = session.run(session.prepare("a comet", size="256x256", stream=True, partial_images=2),
                        on_partial=lambda index, blob: partials.append(time.monotonic() - t0))
        done = time.monotonic() - t0
    finally:
        session.close()
    assert g.images and len(partials) == 2
    # the first partial comes a third of the way through, 2 s before the final image: held back, it would not
    assert partials[0] < FIRST_PARTIAL_BY * done and done >= STREAM_LATENCY * LATENCY_FLOOR
    # the same on the wire: each event is relayed as it arrives
    arrivals: list[tuple[float, str]] = []
    with HTTP.stream("POST", room.gw.base_url + GENERATE, headers=bearer(token), timeout=30,
                      json={"prompt": "a comet", "size": "256x256", "stream": True, "partial_images": 2}) as r:
        t0 = time.monotonic()
        for line in r.iter_lines():
            if line.startswith("event:"):
                arrivals.append((time.monotonic() - t0, line.split(":", 1)[1].strip()))
    assert [kind for _, kind in arrivals] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert arrivals[0][0] < FIRST_PARTIAL_BY * arrivals[2][0]
    assert room.quota(token)["used"]["images_today"] == 2


def test_the_magic_streams_and_edits_through_the_gateway(room, server):
    from IPython.core.interactiveshell import InteractiveShell

    token = room.student("fay")
    session = room.session(token)
    previous = set_current(session)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "wisgate_nb")
    try:
        for cell in ("%%wisgate_image --size 256x256 --stream 2 --out s --no-display\na comet over the sea",
                     "%%wisgate_image --edit s --size 256x256 --out e --no-display\nmake it night"):
            result = ip.run_cell(cell, store_history=False)
            assert result.success, result.error_in_exec
        assert ip.user_ns["s"].images[0].size == (256, 256) and ip.user_ns["e"].images
    finally:
        ip.run_line_magic("unload_ext", "wisgate_nb")
        ip.user_ns.pop("s", None)
        ip.user_ns.pop("e", None)
        set_current(previous)
        session.close()
    assert server.emulator.image_requests[0].body["stream"] is True
    assert server.emulator.image_requests[1].path.endswith("/images/edits")
    assert room.quota(token)["used"]["images_today"] == 2


def test_upstream_errors_pass_through_with_body_and_request_id(room, server):
    token = room.student("gus")
    session = room.session(token)
    try:
        with pytest.raises(ContentPolicyError) as caught:
            session.run(session.prepare("something forbidden", size="256x256"))
    finally:
        session.close()
    assert caught.value.request_id == server.emulator.image_requests[0].request_id
    assert caught.value.code == "moderation_blocked"
    server.emulator.schedule(Fault("status", 429, retry_after=2))
    r = HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "a fox", "size": "256x256"}, headers=bearer(token),
                   timeout=30)
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert r.headers["x-request-id"] == server.emulator.image_requests[-1].request_id
    assert len(server.emulator.image_requests) == 2  # the gateway itself never retries
    usage = room.usage("gus")
    assert (usage["images_today"], usage["moderation_blocks_today"], usage["errors_today"]) == (0, 1, 2)


def test_an_upstream_that_refuses_the_teachers_key_is_a_502_for_the_teacher(server, tmp_path):
    with classroom(tmp_path, server.base_url, "", key="sk-wrong-teacher-key-000000") as room:
        token = room.student("hal")
        r = HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "a fox"}, headers=bearer(token), timeout=30)
        assert r.status_code == 502 and r.headers["x-should-retry"] == "false"
        error = r.json()["error"]
        assert error["code"] == "upstream_key_refused" and "tell your teacher" in error["message"]
        assert "sk-wrong" not in r.text and "000000" not in r.text
        server.emulator.schedule(Fault("status", 403))
        r = HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "a fox"}, headers=bearer(token), timeout=30)
        assert r.status_code == 502 and "tell your teacher" in r.json()["error"]["message"]
        assert room.quota(token)["used"] == {"images_today": 0, "requests_this_minute": 2, "in_flight": 0}
        session = room.session(token, max_retries=2)  # the student's own client: told not to retry, it does not
        try:
            with pytest.raises(InternalServerError, match="tell your teacher") as info:
                session.run(session.prepare("a fox", size="64x64"))
            assert info.value.attempts == 1 and room.quota(token)["used"]["requests_this_minute"] == 3
            assert "try again" not in str(info.value)  # waiting will not help: the message says tell the teacher
        finally:
            session.close()


def test_an_unreachable_upstream_is_a_clear_502_and_the_reservation_is_released(tmp_path):
    with classroom(tmp_path, f"http://127.0.0.1:{closed_port()}/v1", "[quota]\nimages_per_day = 1\n") as room:
        token = room.student("ivy")
        session = room.session(token)
        try:
            with pytest.raises(InternalServerError, match="could not reach the image service") as caught:
                session.run(session.prepare("a fox", size="256x256"))
        finally:
            session.close()
        assert caught.value.status_code == 502
        quota = room.quota(token)
        assert quota["used"]["images_today"] == 0 and quota["used"]["in_flight"] == 0
        assert room.usage("ivy")["errors_today"] == 1


@pytest.mark.parametrize("what, send, status, words", [
    ("malformed JSON", dict(content=b'{"prompt": "a fox",', headers={"content-type": "application/json"}),
     400, "not valid JSON"),
    ("a JSON array", dict(json=["a fox"]), 400, "expected a JSON object"),
    ("n out of range", dict(json={"prompt": "a fox", "n": 11}), 400, "Invalid 'n'"),
    ("n not a number", dict(json={"prompt": "a fox", "n": "two"}), 400, "Invalid 'n'"),
    ("a form to generations", dict(data={"prompt": "a fox"}), 400, "takes JSON"),
    ("an oversized body", dict(json={"prompt": "x" * (2 * 2**20)}), 413, "larger than this gateway accepts (1 MB)"),
])
def test_bad_requests_are_refused_without_calling_the_upstream(room, server, what, send, status, words):
    name = "jo." + what.replace(" ", "-")
    token = room.student(name)
    headers = {**bearer(token), **send.pop("headers", {})}
    r = HTTP.post(room.gw.base_url + GENERATE, headers=headers, timeout=30, **send)
    assert r.status_code == status, what
    assert words in r.json()["error"]["message"] and r.headers["x-request-id"].startswith("gw_")
    assert server.emulator.requests == []
    assert room.usage(name)["errors_today"] == 1 and room.quota(token)["used"]["images_today"] == 0


def test_a_broken_multipart_edit_is_refused_without_calling_the_upstream(room, server):
    token = room.student("kit")
    r = HTTP.post(room.gw.base_url + EDIT, content=b"--x\r\nnot a part", timeout=30,
                   headers={**bearer(token), "content-type": "multipart/form-data"})  # no boundary
    assert r.status_code == 400 and "Could not parse the multipart body" in r.json()["error"]["message"]
    r = HTTP.post(room.gw.base_url + EDIT, content=b"<xml/>", timeout=30,
                   headers={**bearer(token), "content-type": "application/xml"})
    assert r.status_code == 400 and "takes JSON or multipart/form-data" in r.json()["error"]["message"]
    assert server.emulator.requests == []


def test_unknown_routes_and_methods_are_refused_in_the_error_envelope(room, server):
    token = room.student("kim")
    for method, path, status in [("POST", "/v1/chat/completions", 404), ("GET", "/v1/images/generations", 405),
                                 ("GET", "/v1/files", 404), ("POST", "/admin/usage", 405)]:
        r = HTTP.request(method, room.gw.root + path, headers=bearer(token), timeout=30)
        assert r.status_code == status, path
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert server.emulator.requests == []


def test_a_student_who_disconnects_mid_stream_gets_the_reservation_back(room, server):
    server.emulator.config.latency = 4.0
    token = room.student("lee")
    held = None
    with HTTP.stream("POST", room.gw.base_url + GENERATE, headers=bearer(token), timeout=30,
                      json={"prompt": "a comet", "size": "256x256", "stream": True, "partial_images": 3}) as r:
        lines = r.iter_lines()
        for line in lines:
            if line.startswith("event:"):
                assert "partial_image" in line
                held = room.quota(token)["used"]  # while the stream is open
                break
        lines.close()  # closing the stream mid-way drops the connection
    assert held == {"images_today": 1, "requests_this_minute": 1, "in_flight": 1}
    assert wait_until(lambda: room.quota(token)["used"]["in_flight"] == 0, timeout=RELEASE_S)  # upstream: 4 s
    assert room.quota(token)["used"]["images_today"] == 0
    assert room.usage("lee")["ok_today"] == 0
    with room.engine.connect() as conn:
        assert conn.execute(select(db.requests.c.outcome, db.requests.c.images)
                            .where(db.requests.c.student == "lee")).all() == [("cancelled", 0)]


def test_a_student_who_gives_up_waiting_gets_the_reservation_back(room, server):
    server.emulator.config.latency = 4.0
    token = room.student("mia")
    with pytest.raises(httpx.ReadTimeout):  # the student's client gives up and closes the connection
        HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "a fox", "size": "256x256"}, headers=bearer(token),
                   timeout=httpx.Timeout(30, read=0.5))
    assert wait_until(lambda: room.quota(token)["used"]["in_flight"] == 0, timeout=RELEASE_S)  # upstream: 4 s
    assert room.quota(token)["used"]["images_today"] == 0


def test_an_upstream_that_breaks_off_drops_the_student_too_and_releases(room, server):
    token = room.student("ned")
    server.emulator.schedule(Fault("drop"))  # a 200 JSON answer cut in the middle
    session = room.session(token)
    try:
        with pytest.raises(APIConnectionError):
            session.run(session.prepare("a fox", size="256x256"))
    finally:
        session.close()
    assert room.quota(token)["used"] == {"images_today": 0, "requests_this_minute": 1, "in_flight": 0}
    with room.engine.connect() as conn:
        assert conn.execute(select(db.requests.c.outcome, db.requests.c.error_code)
                            .where(db.requests.c.student == "ned")).all() == [("error", "upstream_broke_off")]


def test_errors_map_to_the_clients_classes(room, server):
    token = room.student("max")
    server.emulator.schedule(Fault("status", 503))
    session = room.session(token)
    try:
        with pytest.raises(APIStatusError) as caught:
            session.run(session.prepare("a fox", size="256x256"))
        assert caught.value.status_code == 503
        server.emulator.schedule(Fault("status", 429, message="You exceeded your current quota.",
                                       retry_after=None))
        session.config.rate_limit_wait = 0  # a rate limit is waited out, up to this (tests/test_rate_limits.py)
        with pytest.raises(RateLimitError) as caught:
            session.run(session.prepare("a fox", size="256x256"))
        assert not isinstance(caught.value, QuotaExceededError)
    finally:
        session.close()
