"""Behaviours that could once be deleted with the suite green (issue 29): each test here fails without its
behaviour — the cache key's prompt and edit inputs, budget reservations, key masking where the server
answers with something other than the JSON envelope, the history's error cap, ``thumbnail_px``, a
sweep's ``source`` and the mask line of a dry run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from reliability_helpers import write_image

import wisgate_nb
from wisgate_nb import BudgetExceededError, InternalServerError, ResponseFormatError, WisGateError
from wisgate_nb.config import WisGate
from wisgate_nb.core.recording import MAX_ERROR_CHARS, base_fields, record_failure
from wisgate_nb.core.session import Session, set_current
from wisgate_nb.emulator import Fault

# ---- the cache key: a different prompt or input never gets another request's images ------------------


def test_with_cache_the_same_request_is_reused_and_a_different_prompt_is_not(demo_session):
    first = wisgate_nb.generate("a red fox", size="256x256", cache=True)
    again = wisgate_nb.generate("a red fox", size="256x256", cache=True)
    other = wisgate_nb.generate("a blue whale", size="256x256", cache=True)
    assert (first.reused, again.reused, other.reused) == (False, True, False)
    assert other.paths[0].read_bytes() != first.paths[0].read_bytes()


def test_with_cache_a_different_option_or_model_is_not_reused(demo_session):
    wisgate_nb.generate("a red fox", size="256x256", cache=True)
    assert not wisgate_nb.generate("a red fox", size="512x512", cache=True).reused
    assert not wisgate_nb.generate("a red fox", size="256x256", quality="high", cache=True).reused
    assert not wisgate_nb.generate("a red fox", size="256x256", model="gpt-image-1-mini", cache=True).reused
    assert wisgate_nb.generate("a red fox", size="256x256", stream=True, cache=True).reused  # streaming is not in the key


def test_with_cache_an_edit_of_other_images_or_another_mask_is_not_reused(demo_session, tmp_path):
    one, two = write_image(tmp_path / "one.png", (128, 128)), write_image(tmp_path / "two.png", (128, 96))
    mask_a, mask_b = tmp_path / "a.png", tmp_path / "b.png"
    for path, box in ((mask_a, (0, 0, 64, 64)), (mask_b, (64, 64, 128, 128))):
        mask = Image.new("RGBA", (128, 128), (0, 0, 0, 255))
        mask.paste((0, 0, 0, 0), box)
        mask.save(path)
    first = wisgate_nb.edit(one, "make it night", mask=mask_a, cache=True)
    assert wisgate_nb.edit(one, "make it night", mask=mask_a, cache=True).reused
    assert not first.reused
    assert not wisgate_nb.edit(one, "make it night", mask=mask_b, cache=True).reused
    assert not wisgate_nb.edit(one, "make it night", cache=True).reused
    assert not wisgate_nb.edit(two, "make it night", cache=True).reused
    assert not wisgate_nb.edit([one, two], "make it night", cache=True).reused
    assert not wisgate_nb.edit(one, "make it dawn", mask=mask_a, cache=True).reused


def test_with_cache_a_request_to_another_server_is_not_reused(session, server):
    wisgate_nb.generate("a red fox", size="64x64", cache=True)
    assert wisgate_nb.generate("a red fox", size="64x64", cache=True).reused
    assert not wisgate_nb.generate("a red fox", size="64x64", cache=True, demo=True).reused
    assert len(server.emulator.image_requests) == 1


# ---- the budget: in-flight images count, and every reservation is given back --------------------------


@pytest.fixture
def slow_session(session, server):
    """The loopback session, with a server that takes a moment (a request can be seen in flight)."""
    server.emulator.config.latency = 0.5
    return session


def test_images_in_flight_count_against_max_images(slow_session):
    slow_session.config.max_images = 3
    job = slow_session.submit(slow_session.prepare("in flight", size="64x64", n=2))
    with pytest.raises(BudgetExceededError, match=r"asks for 2 images, but only 1 of this session.s max_images=3 are left"):
        slow_session.prepare("one too many", size="64x64", n=2)
    slow_session.prepare("exactly at the limit", size="64x64", n=1)  # 2 in flight + 1 = 3: allowed
    job.result(30)


def test_a_finished_request_gives_back_its_reservation(slow_session):
    slow_session.config.max_images = 3
    slow_session.run(slow_session.prepare("two images", size="64x64", n=2))
    slow_session.prepare("the third", size="64x64", n=1)  # 2 made + 0 in flight + 1 = 3
    with pytest.raises(BudgetExceededError, match=r"only 1 of this session's max_images=3 are left \(2 used\)"):
        slow_session.prepare("a fourth and fifth", size="64x64", n=2)


def test_a_failed_or_cancelled_request_gives_back_its_reservation(slow_session, server):
    slow_session.config.max_images = 2
    server.emulator.schedule(Fault("status", 400))
    with pytest.raises(WisGateError):
        slow_session.run(slow_session.prepare("refused", size="64x64", n=2))
    job = slow_session.submit(slow_session.prepare("cancelled", size="64x64", n=2))
    job.cancel()
    with pytest.raises(CancelledError):
        job.result(30)
    slow_session.run(slow_session.prepare("the whole budget again", size="64x64", n=2))
    assert [r.status for r in slow_session.history.records] == ["error", "cancelled", "ok"]


def test_a_sweep_reserves_all_its_images_until_each_ends(slow_session):
    slow_session.config.max_images = 4
    job = slow_session.submit_many([slow_session.prepare(p, size="64x64", n=2) for p in ("a", "b")])
    with pytest.raises(BudgetExceededError, match="4 of max_images=4"):
        slow_session.prepare("while the sweep runs", size="64x64", n=1)
    job.result(30)
    with pytest.raises(BudgetExceededError, match="4 of max_images=4"):
        slow_session.prepare("after the sweep", size="64x64", n=1)


# ---- key masking where the answer is not the JSON error envelope --------------------------------------

KEY = "sk-wg-GUARD-5e4d3c2b1a0f-masked"
KEY_CORE = "5e4d3c2b1a0f"


@contextmanager
def answering(status: int, content_type: str, body: str) -> Iterator[str]:
    """A loopback HTTP server that answers every request with this status and body; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            data = body.encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


ECHOES = [
    pytest.param(500, "text/html", f"<html><body><h1>502 Bad Gateway</h1><p>upstream refused {KEY}</p></body></html>",
                 InternalServerError, "an HTML page instead of JSON", id="html-page"),
    pytest.param(500, "text/plain", f"upstream refused the key {KEY} today", InternalServerError,
                 "a body that is not JSON", id="plain-text"),
    pytest.param(500, "application/json", json.dumps({"error": f"upstream refused the key {KEY}"}),
                 InternalServerError, "upstream refused the key", id="string-error"),
    pytest.param(500, "application/json", json.dumps({"message": f"upstream refused the key {KEY}"}),
                 InternalServerError, "upstream refused the key", id="top-level-message"),
    pytest.param(500, "application/json", json.dumps({"detail": f"upstream refused the key {KEY}"}),
                 InternalServerError, "upstream refused the key", id="detail"),
    pytest.param(200, "text/plain", f"not images: key {KEY}", ResponseFormatError, "answered 200 with a body",
                 id="200-not-json"),
    pytest.param(200, "application/json", json.dumps({"error": {"message": f"refused {KEY}"}}),
                 ResponseFormatError, "answered 200 with an error", id="200-with-error"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("status", "content_type", "body", "error", "words"), ECHOES)
def test_a_key_echoed_outside_the_json_envelope_is_masked(tmp_path, status, content_type, body, error, words):
    with answering(status, content_type, body) as base_url:
        session = Session(WisGate(api_key=KEY, base_url=base_url, demo=False, history_dir=str(tmp_path / "runs"),
                                  max_retries=0, timeout=10.0))
        previous = set_current(session)
        try:
            with pytest.raises(error) as info:
                wisgate_nb.generate("echo the key", size="64x64")
            (record,) = session.history.records
        finally:
            session.close()
            set_current(previous)
    message = str(info.value)
    assert words in message and "***" in message  # the server's words are quoted, the key masked in them
    assert KEY_CORE not in message and KEY_CORE not in repr(info.value) and KEY_CORE not in (record.error or "")


# ---- what the history keeps of a failure -----------------------------------------------------------


def test_the_history_keeps_the_first_1000_characters_of_an_error(demo_session):
    history = demo_session.history
    for length, kept in ((MAX_ERROR_CHARS, MAX_ERROR_CHARS), (MAX_ERROR_CHARS + 1, MAX_ERROR_CHARS + 1),
                         (20_000, MAX_ERROR_CHARS + 1)):
        request = demo_session.prepare(f"fails with {length} characters", size="64x64")
        base = base_fields(request, f"id{length}", history.session or "", "2026-12-07T12:00:00")
        record_failure(history, base, 0.0, "error", WisGateError("e" + "x" * (length - 1)))
        error = history[f"id{length}"].error
        assert len(error) == kept and error.startswith("exxx")
        assert error.endswith("…") == (length > MAX_ERROR_CHARS)
    assert MAX_ERROR_CHARS == 1000


# ---- thumbnail_px, a sweep's source, a dry run's mask ---------------------------------------------


@pytest.mark.parametrize("px", [64, 100])
def test_thumbnails_have_the_long_side_thumbnail_px_says(demo_session, px):
    demo_session.config.thumbnail_px = px
    generation = wisgate_nb.generate("a wide lake", size="1536x1024")
    with Image.open(generation.thumbs[0]) as thumb:
        assert thumb.size == (px, round(px * 1024 / 1536))


def test_a_sweep_records_the_front_door_it_came_from(shell, session):
    shell.run("%%wisgate_image --size 64x64 --no-display\na fox\n---\na cat")
    wisgate_nb.sweep(["a dog", "a cow"], size="64x64", show_progress=False)
    assert [r.source for r in session.history.records][:2] == ["magic", "magic"]
    assert [r.source for r in session.history.records][2:] == ["api", "api"]


def test_a_dry_run_of_an_edit_names_its_image_and_its_mask(demo_session, tmp_path):
    image = write_image(tmp_path / "photo.png", (128, 128))
    mask = tmp_path / "holes.png"
    Image.new("RGBA", (128, 128), (0, 0, 0, 0)).save(mask)
    dry = wisgate_nb.edit(image, "make it night", mask=mask, dry_run=True)
    lines = str(dry).splitlines()
    assert f"file: photo.png (image/png, {image.stat().st_size} bytes)" in lines
    assert f"file: mask: holes.png (image/png, {mask.stat().st_size} bytes)" in lines
    assert len(demo_session.history) == 0
