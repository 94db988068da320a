"""What is accepted as an answer: at most n images, only PNG, JPEG, WebP and GIF data, and a key the
server echoes (in revised_prompt, a header, an error) written nowhere. Open option values and
safety_identifier, the other half of "a real API account", are at the end."""

from __future__ import annotations

import base64
import io
import json
import warnings
from pathlib import Path

import httpx
import pytest
from PIL import Image
from secrets_scan import files_holding, key_needles

import wisgate_nb
from wisgate_nb import errors
from wisgate_nb.config import WisGate
from wisgate_nb.core.session import Session, set_current
from wisgate_nb.errors import UnknownValueWarning
from wisgate_nb.http.client import ImagesClient
from wisgate_nb.options import validate_options

KEY = "sk-wisgate-ECHOED-by-a-hostile-server-leak"
BASE = "http://api.test/v1"


def image(fmt: str = "PNG", size=(8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def client_answering(handler, **kwargs) -> ImagesClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ImagesClient(base_url=BASE, api_key=KEY, http_client=http, max_retries=0, **kwargs)


def generate(client: ImagesClient, **payload):
    import asyncio

    return asyncio.run(client.generate({"model": "m", "prompt": "p", **payload}))


# ---- at most n images ----------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "sent"), [(1, 2), (1, 2000), (3, 4)])
def test_more_images_than_asked_for_are_refused(n, sent):
    data = b64(image())
    client = client_answering(lambda r: httpx.Response(200, json={"data": [{"b64_json": data}] * sent}))
    with pytest.raises(errors.ResponseFormatError, match=rf"sent {sent:,} images for n={n}: refused"):
        generate(client, n=n)


def test_as_many_images_as_asked_for_are_taken():
    data = b64(image())
    client = client_answering(lambda r: httpx.Response(200, json={"data": [{"b64_json": data}] * 3}))
    assert len(generate(client, n=3).images) == 3


# ---- only PNG, JPEG, WebP and GIF ----------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_the_four_web_formats_are_decoded(fmt):
    data = image(fmt)
    client = client_answering(lambda r: httpx.Response(200, json={"data": [{"b64_json": b64(data)}]}))
    assert generate(client).images[0].format == fmt.lower()


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n"


@pytest.mark.parametrize(("data", "words"), [
    (EPS, "is EPS: only PNG, JPEG, WebP and GIF data is decoded"), (image("TIFF"), "is TIFF: only PNG"),
    (image("BMP"), "is BMP: only PNG"),
    (b"\x89PNG\r\n\x1a" + EPS, r"not PNG, JPEG, WebP or GIF data \(it starts with b'\\x89PNG\\r\\n\\x1a%'\)"),
], ids=["eps", "tiff", "bmp", "png-magic-cut-short"])
def test_other_image_data_never_reaches_pillow(data, words, monkeypatch):
    opened = []
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a))  # a trap: nothing may get this far
    client = client_answering(lambda r: httpx.Response(200, json={"data": [{"b64_json": b64(data)}]}))
    with pytest.raises(errors.ResponseFormatError, match=words):
        generate(client)
    assert opened == []


def test_a_file_named_png_holding_a_tiff_is_not_saved(session, tmp_path):
    tiff = b64(image("TIFF"))
    session._clients.pool = httpx.AsyncClient(transport=httpx.MockTransport(
        lambda r: httpx.Response(200, json={"data": [{"b64_json": tiff}]})))
    with pytest.raises(errors.ResponseFormatError):
        wisgate_nb.generate("a tiff in disguise", size="64x64")
    assert sorted(p.name for p in session.history.folder.iterdir()) == ["history.jsonl"]


# ---- a key echoed by the server ------------------------------------------------------------------

def _echo(request: httpx.Request) -> httpx.Response:
    """Everything a careless or hostile server could echo the key into."""
    key = request.headers["authorization"].removeprefix("Bearer ")
    prompt = json.loads(request.content)["prompt"]
    headers = {"x-request-id": f"req_{key}", "x-debug-auth": key}
    if "fail" in prompt:
        return httpx.Response(400, headers=headers, json={"error": {"message": f"bad key {key}", "code": key}})
    body = {"created": 1, "data": [{"b64_json": b64(image()), "revised_prompt": f"{prompt} for {key}"}],
            "echo": {"auth": key, "list": [key]}}
    return httpx.Response(200, headers=headers, json=body)


@pytest.mark.parametrize("stream", [False, True])
def test_a_key_echoed_by_the_server_is_written_nowhere(tmp_path, stream):
    def handler(request: httpx.Request) -> httpx.Response:
        answer = _echo(request)
        if not stream or answer.status_code != 200:
            return answer
        item = answer.json()["data"][0]
        event = {"type": "image_generation.completed", **item, "echo": answer.json()["echo"]}
        text = f"event: image_generation.completed\ndata: {json.dumps(event)}\n\n"
        return httpx.Response(200, headers={**answer.headers, "content-type": "text/event-stream"},
                              content=text.encode())

    session = Session(WisGate(api_key=KEY, base_url=BASE, demo=False, history_dir=str(tmp_path / "runs")))
    session._clients.pool = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    previous = set_current(session)
    try:
        generation = wisgate_nb.generate("a lighthouse", size="64x64", stream=stream)
        with pytest.raises(errors.BadRequestError) as info:
            wisgate_nb.generate("fail please", size="64x64")
        shown = [str(info.value), repr(info.value), info.value.request_id, generation.record.request_id,
                 generation.revised_prompts, repr(generation), generation._repr_html_(),
                 json.dumps(session.history.df.astype(str).to_dict())]
        assert not [text for text in shown if KEY in str(text)]
        assert generation.revised_prompts == ("a lighthouse for ***",)
        assert generation.record.request_id == "req_***" and info.value.request_id == "req_***"
    finally:
        set_current(previous)
        session.close()
    assert files_holding([tmp_path], key_needles(KEY)) == []  # history.jsonl, the PNG's metadata, thumbnails


def _image_holding(fmt: str, key: str) -> bytes:
    """An image whose own metadata holds the key: a PNG text chunk, a JPEG comment, a WebP's EXIF."""
    buffer = io.BytesIO()
    picture = Image.new("RGB", (8, 8), "teal")
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("Comment", f"made for {key}")
        picture.save(buffer, format=fmt, pnginfo=info)
    elif fmt == "JPEG":
        picture.save(buffer, format=fmt, comment=f"made for {key}".encode())
    else:
        exif = Image.Exif()
        exif[0x010E] = f"made for {key}"  # ImageDescription
        picture.save(buffer, format=fmt, exif=exif)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_key_a_server_puts_in_the_images_own_metadata_is_not_written(tmp_path, fmt):
    def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"].removeprefix("Bearer ")
        data = _image_holding(fmt, key)
        assert key.encode() in data
        return httpx.Response(200, json={"created": 1, "data": [{"b64_json": b64(data)}]})

    session = Session(WisGate(api_key=KEY, base_url=BASE, demo=False, history_dir=str(tmp_path / "runs")))
    session._clients.pool = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    previous = set_current(session)
    try:
        generation = wisgate_nb.generate("a lighthouse", size="64x64", output_format=fmt.lower())
        saved = Path(generation.paths[0])
        assert wisgate_nb.provenance(saved)["prompt"] == "a lighthouse"  # still stamped, still an image
        assert Image.open(saved).size == (8, 8)
        assert KEY not in repr(generation.image.info)  # the images handed over are those of the file written
        generation.image.save(tmp_path / f"saved by the user.{fmt.lower()}")  # scanned below with the rest
    finally:
        set_current(previous)
        session.close()
    assert files_holding([tmp_path], key_needles(KEY)) == []


# ---- open values and safety_identifier -----------------------------------------------------------

@pytest.mark.parametrize(("name", "value"), [("quality", "ultra"), ("background", "glass"), ("moderation", "strict")])
def test_values_the_registry_does_not_list_are_sent_with_one_warning(name, value):
    with pytest.warns(UnknownValueWarning, match=rf"{name}='{value}' is not one of the known values \(") as seen:
        assert validate_options(**{name: f" {value.upper()} "}) == {name: value}
    assert len(seen) == 1 and seen[0].filename == __file__  # it points at the caller's line, not at wisgate_nb
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per value per session
        validate_options(**{name: value})


def test_a_model_this_release_does_not_know_is_sent_with_a_warning():
    from wisgate_nb.options import build_generation_payload

    with pytest.warns(UnknownValueWarning, match=r"model='gpt-image-3' is not one of the known values \(gpt-image-2, "):
        assert build_generation_payload("p", model="gpt-image-3")["model"] == "gpt-image-3"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known models and their dated snapshots say nothing
        build_generation_payload("p", model="gpt-image-2-2026-04-21")
        build_generation_payload("p", model="dall-e-3")


@pytest.mark.parametrize("value", ["xhigh", "max"])
def test_the_newest_qualities_are_known(value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate_options(quality=value) == {"quality": value}


@pytest.mark.parametrize("value", ["xhigh", "max"])
def test_the_demo_server_takes_the_newest_qualities(demo_session, value):
    assert wisgate_nb.generate("a fox", size="64x64", quality=value).record.quality == value


def test_an_open_value_reaches_the_server_and_safety_identifier_the_history(session, server):
    generation = wisgate_nb.generate("a fox", size="64x64", safety_identifier="user-7f3a")
    assert server.emulator.image_requests[-1].json["safety_identifier"] == "user-7f3a"
    assert generation.record.safety_identifier == "user-7f3a"
    assert session.history.df.iloc[-1]["safety_identifier"] == "user-7f3a"
    with pytest.warns(UnknownValueWarning), pytest.raises(errors.BadRequestError, match="lenient-for-art"):
        wisgate_nb.generate("a fox", size="64x64", moderation="lenient-for-art")  # the server's own refusal
    assert server.emulator.image_requests[-1].json["moderation"] == "lenient-for-art"
