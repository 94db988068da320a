"""Table tests of how a request ends in the history (core/recording.py): what every record says, a result's
files, thumbnails and record, a failure's or a cancel's record, a reuse, and ``settled`` — written so that
mutation testing (README, "Mutation testing"; tools/mutation.sh) finds no change these tests miss.

No server: the responses are built from images the test draws, as the client would hand them over.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time

import pytest
from PIL import Image, PngImagePlugin

from wisgate_nb._secret import Secret
from wisgate_nb.core.recording import base_fields, record_failure, reuse_result, save_result, settled
from wisgate_nb.core.requests import Request
from wisgate_nb.core.targets import Target
from wisgate_nb.errors import ResponseFormatError
from wisgate_nb.http.client import ImagesResponse
from wisgate_nb.http.images import ImageBlob, decode_image
from wisgate_nb.records import History, Record, provenance
from wisgate_nb.records.reuse import cache_key

KEY = "sk-recording-tables-0123456789abcdef"
TARGET = Target("https://api.example/v1", Secret(KEY), False, 30.0, 2, profile="staging")


def png(color="red", size=(40, 30), mode="RGB", text: dict | None = None) -> bytes:
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    Image.new(mode, size, color).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def request(endpoint="generations", body=None, images=(), mask=None, **fields) -> Request:
    body = body or {"model": "gpt-image-1", "prompt": "a fox", "size": "1024x1024", "n": 2, "quality": "high",
                    "safety_identifier": "student-7"}
    return Request(endpoint, body["prompt"], body["model"], body, fields.pop("target", TARGET), images, mask,
                   **fields)


def response(*blobs, **fields) -> ImagesResponse:
    values = dict(images=blobs, request_id="req_1", usage={"total_tokens": 42}, created=1, meta={}, attempts=2,
                  streamed=False, attempt_statuses=("500", "200"), request_id_header="x-request-id")
    return ImagesResponse(**{**values, **fields})


@pytest.fixture
def history(tmp_path):
    return History.create(tmp_path / "runs", session="s1")


def run(coro):
    return asyncio.run(coro)


# ---- base_fields: what every record of a request says ------------------------------------------------------


def test_every_record_says_what_was_asked_and_where():
    image, mask = ("a.png", png("blue"), "image/png"), ("m.png", png((0, 0, 0, 0), mode="RGBA"), "image/png")
    r = request("edits", images=(image,), mask=mask, source="magic", tags=("t1",), group="g", template={"name": "x"})
    assert base_fields(r, "rec1", "s1", "2026-12-07T10:00:00") == dict(
        id="rec1", session="s1", started_at="2026-12-07T10:00:00", prompt="a fox", model="gpt-image-1",
        endpoint="edits", size="1024x1024", n=2, quality="high",
        params={"size": "1024x1024", "n": 2, "quality": "high", "safety_identifier": "student-7"},
        tags=("t1",), source="magic", demo=False, profile="staging", group="g", template={"name": "x"},
        inputs=(hashlib.sha256(image[1]).hexdigest()[:16],), mask=hashlib.sha256(mask[1]).hexdigest()[:16],
        cache_key=cache_key("edits", "https://api.example/v1", "gpt-image-1", "a fox", r.options,
                            [image[1], mask[1]]),
        safety_identifier="student-7")


def test_a_request_that_leaves_size_and_quality_to_the_server_records_none():
    base = base_fields(request(body={"model": "m", "prompt": "p"}), "r", "s", "t")
    assert (base["size"], base["quality"], base["n"], base["safety_identifier"]) == (None, None, 1, None)


# ---- save_result: files first, then the record; what the user gets back -----------------------------------


def test_a_result_s_files_thumbnails_and_record(history):
    blobs = (decode_image(png("red"), max_pixels=10**6, revised_prompt="a red fox"),
             decode_image(png((0, 0, 255, 0), mode="RGBA"), max_pixels=10**6))
    r = request(full=True)
    base = base_fields(r, "rec1", "s1", "2026-12-07T10:00:00")
    g = run(save_result(history, r, base, response(*blobs, stream_fallback="no stream"), 1.25, 16))
    record = g.record
    assert record == history["rec1"]
    assert (record.status, record.latency_s, record.images, record.size, record.quality) == \
        ("ok", 1.25, 2, "1024x1024", "high")
    assert record.paths == ("rec1_0.png", "rec1_1.png") and record.thumbs == ("rec1_0.thumb.jpg", "rec1_1.thumb.webp")
    assert (record.request_id, record.usage, record.total_tokens, record.revised_prompts) == \
        ("req_1", {"total_tokens": 42}, 42, ("a red fox", None))
    assert (record.attempts, record.attempt_statuses, record.request_id_header, record.stream_fallback) == \
        (2, "500,200", "x-request-id", "no stream")
    folder = history.folder_of(record)
    assert g.paths == (folder / "rec1_0.png", folder / "rec1_1.png")
    assert g.thumbs == (folder / "rec1_0.thumb.jpg", folder / "rec1_1.thumb.webp") and g.full is True
    assert [p.read_bytes() for p in g.paths] == list(g.data)
    assert g.decoded == tuple(b.decoded for b in blobs) and g.decoded[0] is not None
    assert [(t.read_bytes(), m) for t, m in zip(g.thumbs, ("image/jpeg", "image/webp"))] == list(g.thumbnails)
    with Image.open(g.thumbs[0]) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 16  # thumbnail_px


def test_each_file_carries_its_provenance_and_the_pixels_are_kept(history):
    blobs = (decode_image(png("red"), max_pixels=10**6, revised_prompt="a red fox"),
             decode_image(png("green"), max_pixels=10**6))
    r = request()
    g = run(save_result(history, r, base_fields(r, "rec2", "s1", "2026-12-07T10:00:00"), response(*blobs), 0.5, 16))
    facts = [provenance.read_bytes(d) for d in g.data]
    assert [f["index"] for f in facts] == [0, 1] and [f.get("revised_prompt") for f in facts] == ["a red fox", None]
    assert {(f["id"], f["prompt"], f["request_id"], f["params"]["size"]) for f in facts} == \
        {("rec2", "a fox", "req_1", "1024x1024")}
    assert facts[0]["created"] != "2026-12-07T10:00:00"  # when the images came, not when the request began
    with Image.open(io.BytesIO(g.data[1])) as im:
        assert im.getpixel((0, 0)) == (0, 128, 0) and im.size == (40, 30)


@pytest.mark.parametrize(("asked", "meta", "expected"), [
    ((None, None), {"size": "1536x1024", "quality": "medium"}, ("1536x1024", "medium")),
    (("auto", None), {}, ("40x30", None)),  # left to the server, which did not say: the image's own size
    ((None, "low"), {}, ("40x30", "low")),
    (("512x512", "high"), {"size": "1x1", "quality": "low"}, ("512x512", "high")),
])
def test_the_record_and_files_say_the_size_and_quality_the_server_used(history, asked, meta, expected):
    body = {"model": "m", "prompt": "p", **({"size": asked[0]} if asked[0] else {}),
            **({"quality": asked[1]} if asked[1] else {})}
    r = request(body=body)
    blob = decode_image(png(size=(40, 30)), max_pixels=10**6)
    g = run(save_result(history, r, base_fields(r, "rec3", "s1", "t"), response(blob, meta=meta), 0.1, 16))
    assert (g.record.size, g.record.quality) == expected
    assert provenance.read_bytes(g.data[0])["params"]["size"] == expected[0]


@pytest.mark.parametrize(("usage", "recorded", "tokens"), [
    ({"total_tokens": 7}, {"total_tokens": 7}, 7), ({"total_tokens": "7"}, {"total_tokens": "7"}, None),
    ({"input_tokens": 3}, {"input_tokens": 3}, None), (None, None, None), (["not", "a", "dict"], None, None),
])
def test_usage_is_kept_when_it_is_a_dict_and_tokens_when_they_are_a_number(history, usage, recorded, tokens):
    r = request()
    blob = decode_image(png(), max_pixels=10**6)
    g = run(save_result(history, r, base_fields(r, "rec4", "s1", "t"), response(blob, usage=usage), 0.1, 16))
    assert (g.record.usage, g.record.total_tokens) == (recorded, tokens)


def test_a_key_echoed_into_an_image_is_cut_out_of_its_file_and_its_pixels_not_handed_over(history):
    echoed = decode_image(png(text={"Comment": f"made for {KEY}"}), max_pixels=10**6)
    clean = decode_image(png("blue"), max_pixels=10**6)
    r = request()
    g = run(save_result(history, r, base_fields(r, "rec5", "s1", "t"), response(echoed, clean), 0.1, 16))
    assert KEY.encode() not in g.paths[0].read_bytes() and KEY.encode() not in g.data[0]
    assert g.decoded[0] is None and g.decoded[1] is clean.decoded
    assert g.images[0].size == (40, 30)  # read from the cleaned file instead


def test_an_edit_keeps_its_inputs_beside_the_result(history):
    image, mask = ("a.png", png("blue"), "image/png"), ("m.png", png((0, 0, 0, 0), mode="RGBA"), "image/png")
    r = request("edits", images=(image,), mask=mask)
    blob = decode_image(png(), max_pixels=10**6)
    g = run(save_result(history, r, base_fields(r, "rec6", "s1", "t"), response(blob), 0.1, 16))
    folder = history.folder_of(g.record)
    kept = {p.name: p.read_bytes() for p in (folder / "inputs").iterdir()}
    assert kept == {f"{hashlib.sha256(image[1]).hexdigest()[:16]}.png": image[1],
                    f"{hashlib.sha256(mask[1]).hexdigest()[:16]}.png": mask[1]}


def test_a_file_is_named_by_its_format(history):
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, format="JPEG")
    r = request()
    g = run(save_result(history, r, base_fields(r, "rec7", "s1", "t"),
                        response(decode_image(out.getvalue(), max_pixels=10**6)), 0.1, 16))
    assert g.record.paths == ("rec7_0.jpg",) and g.paths[0].read_bytes()[:2] == b"\xff\xd8"


def test_what_the_demo_server_drew_stays_in_the_file_s_provenance(history):
    scene = {"time": "dusk", "weather": "rain", "ground": "grass", "style": ["flat"], "fallback": False,
             "subjects": [{"noun": "fox", "colour": "red", "box": [1, 2, 30, 20]}], "words": ["fox"]}
    r = request()
    blob = decode_image(png(text={"demo_scene": json.dumps(scene)}), max_pixels=10**6)
    g = run(save_result(history, r, base_fields(r, "rec8", "s1", "t"), response(blob), 0.1, 16))
    assert provenance.read_bytes(g.data[0])["demo_scene"] == scene
    plain = run(save_result(history, r, base_fields(r, "rec9", "s1", "t"),
                            response(decode_image(png(), max_pixels=10**6)), 0.1, 16))
    assert "demo_scene" not in provenance.read_bytes(plain.data[0])


def test_the_thumbnail_is_the_type_its_name_says_even_when_shrinking_loses_the_transparency(history):
    im = Image.new("RGBA", (64, 64), (200, 0, 0, 255))
    im.putpixel((0, 0), (200, 0, 0, 254))  # barely transparent: gone once 16 pixels are averaged into one
    out = io.BytesIO()
    im.save(out, format="PNG")
    r = request()
    g = run(save_result(history, r, base_fields(r, "rec10", "s1", "t"),
                        response(decode_image(out.getvalue(), max_pixels=10**6)), 0.1, 16))
    assert g.record.thumbs == ("rec10_0.thumb.webp",) and g.thumbnails[0][1] == "image/webp"
    assert g.thumbs[0].read_bytes()[8:12] == b"WEBP"


def test_an_image_the_client_did_not_decode_is_decoded_here_once_and_one_it_did_is_not(history, monkeypatch):
    opened = []
    to_pil = ImageBlob.to_pil
    monkeypatch.setattr(ImageBlob, "to_pil", lambda blob: opened.append(blob.format) or to_pil(blob))
    data = png((0, 0, 255, 0), mode="RGBA")
    kept, bare = decode_image(data, max_pixels=10**6), ImageBlob(data, "png", 40, 30)
    r = request()
    g = run(save_result(history, r, base_fields(r, "rec11", "s1", "t"), response(kept, bare), 0.1, 16))
    assert opened == ["png"]  # the bare one only, for its thumbnail's type
    assert g.record.thumbs == ("rec11_0.thumb.webp", "rec11_1.thumb.webp")
    assert [m for _, m in g.thumbnails] == ["image/webp", "image/webp"] and g.decoded[1] is None
    with Image.open(g.thumbs[1]) as thumb:
        assert thumb.format == "WEBP" and max(thumb.size) == 16


# ---- record_failure: every failed or cancelled request, once, with what happened ---------------------------


def failed(history, exc, status="error", attempts=(), record_id="f1") -> Record:
    r = request()
    record_failure(history, base_fields(r, record_id, "s1", "t"), time.perf_counter() - 2.0, status, exc, attempts)
    return history[record_id]


def test_a_cancel_is_recorded_as_cancelled_by_the_user(history):
    record = failed(history, None, "cancelled", ("timeout",))
    assert (record.status, record.error, record.error_type, record.request_id) == \
        ("cancelled", "cancelled by the user", "Cancelled", None)
    assert (record.attempts, record.attempt_statuses, record.images, record.paths) == (1, "timeout", 0, ())
    assert 2.0 <= record.latency_s < 60 and record.prompt == "a fox" and record.safety_identifier == "student-7"


def test_an_error_of_ours_keeps_its_message_its_class_and_the_server_s_request_id(history):
    exc = ResponseFormatError("slow down", request_id="req_9", request_id_header="x-request-id")
    record = failed(history, exc, attempts=("429", "429", "429"))
    assert (record.status, record.error, record.error_type, record.request_id, record.request_id_header) == \
        ("error", "slow down", "ResponseFormatError", "req_9", "x-request-id")
    assert (record.attempts, record.attempt_statuses) == (3, "429,429,429")


def test_a_request_id_header_without_a_request_id_is_not_recorded(history):
    exc = ResponseFormatError("bad gateway", request_id_header="x-request-id")
    record = failed(history, exc)
    assert (record.request_id, record.request_id_header, record.attempts, record.attempt_statuses) == \
        (None, None, 0, "")


def test_a_bug_of_ours_is_recorded_with_its_class_in_the_message(history):
    record = failed(history, KeyError("size"))
    assert (record.error, record.error_type, record.request_id) == ("KeyError: 'size'", "KeyError", None)


@pytest.mark.parametrize(("message", "kept"), [
    ("x" * 1000, "x" * 1000),
    ("x" * 1001, "x" * 1000 + "…"),
    ("x" * 998 + "  " + "y" * 50, "x" * 998 + "…"),  # cut, then the trailing space dropped
])
def test_an_error_message_is_kept_to_its_first_thousand_characters(history, message, kept):
    assert failed(history, ResponseFormatError(message)).error == kept


def test_a_request_already_recorded_keeps_its_one_record(history):
    failed(history, None, "cancelled")
    failed(history, ResponseFormatError("late"), "error")
    assert len(history) == 1 and history["f1"].status == "cancelled"


# ---- reuse_result: an identical earlier result's images under a new record ---------------------------------


def test_a_reused_result_is_a_new_record_with_the_old_images(history):
    r = request(body={"model": "m", "prompt": "p", "size": "auto"}, full=True)
    blob = decode_image(png(), max_pixels=10**6, revised_prompt="rp")
    old = run(save_result(history, r, base_fields(r, "old1", "s1", "t"), response(blob, meta={"quality": "low"}), 3.0,
                          16)).record
    t0 = time.perf_counter() - 0.5
    g = reuse_result(history, r, old, base_fields(r, "new1", "s1", "t2"), t0)
    record = g.record
    assert record == history["new1"] and len(history) == 2
    assert (record.id, record.started_at, record.size, record.quality, record.status, record.reused) == \
        ("new1", "t2", "40x30", "low", "ok", True)
    assert (record.images, record.request_id, record.usage, record.total_tokens, record.revised_prompts) == \
        (1, "req_1", {"total_tokens": 42}, 0, ("rp",))
    assert 0.5 <= record.latency_s < 60
    folder = history.folder_of(record)
    assert g.paths == tuple(folder / p for p in record.paths) and g.thumbs == tuple(folder / t for t in record.thumbs)
    assert record.paths == ("new1_0.png",) and record.thumbs == ("new1_0.thumb.jpg",)
    assert g.paths[0].read_bytes() == (history.folder_of(old) / old.paths[0]).read_bytes()
    assert [p.exists() for p in (*g.paths, *g.thumbs)] == [True, True] and g.full is True


def test_a_reused_edit_keeps_its_inputs_too(history):
    image, mask = ("a.png", png("blue"), "image/png"), ("m.png", png((0, 0, 0, 0), mode="RGBA"), "image/png")
    r = request("edits", images=(image,), mask=mask)
    old = run(save_result(history, r, base_fields(r, "old2", "s1", "t"), response(decode_image(png(), max_pixels=10**6)),
                          1.0, 16)).record
    for path in (history.folder_of(old) / "inputs").iterdir():
        path.unlink()
    reuse_result(history, r, old, base_fields(r, "new2", "s1", "t"), time.perf_counter())
    kept = sorted(p.read_bytes() for p in (history.folder_of(old) / "inputs").iterdir())
    assert kept == sorted([image[1], mask[1]])


# ---- settled: what a cancelled request writes is written whole, then the cancel goes on -------------------


def test_settled_gives_back_the_result_or_the_error():
    async def value():
        await asyncio.sleep(0)
        return 7

    async def fails():
        raise ResponseFormatError("no")

    assert run(settled(value())) == 7
    with pytest.raises(ResponseFormatError, match="no"):
        run(settled(fails()))


def test_a_cancel_waits_for_the_work_to_end_then_is_raised():
    ended = []

    async def work():
        await asyncio.sleep(0.05)
        ended.append("written")
        return "done"

    async def main():
        task = asyncio.ensure_future(settled(work()))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.sleep(0.001)
        task.cancel()  # a second cancel while it still writes: still waits
        with pytest.raises(asyncio.CancelledError):
            await task
        return list(ended)

    assert run(main()) == ["written"]


def test_work_that_is_itself_cancelled_ends_the_wait():
    async def main():
        inner = asyncio.ensure_future(asyncio.sleep(10))
        task = asyncio.ensure_future(settled(inner))
        await asyncio.sleep(0.01)
        inner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert run(main()) is True
