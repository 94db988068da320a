"""Provenance: every full-size file says where it came from, readable by Pillow alone, by
``wisgate_nb.provenance`` and by ``wisgate-nb info``; it survives copies; a damaged record is read as far as
it goes, with a warning, never an exception."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import warnings
import zlib
from datetime import datetime

import pytest
from conftest import TEST_KEY
from PIL import Image

import wisgate_nb
from wisgate_nb.records import imagemeta
from wisgate_nb.records.provenance import ProvenanceWarning, embed, facts, read_bytes

PROMPT = 'A lighthouse "on" a cliff <at> dusk & snow ☃'

# Run in a fresh interpreter that never imports wisgate_nb: what any Pillow user can do with the file.
PILLOW_ALONE = r"""
import json, re, sys
from xml.sax.saxutils import unescape
from PIL import Image

im = Image.open(sys.argv[1])
im.load()  # the file still decodes
if im.format == "PNG":
    info, parameters = json.loads(im.text["wisgate_nb"]), im.text["parameters"]
else:
    xmp = im.info["xmp"].decode("utf-8")
    info = json.loads(unescape(re.search(r"<wisgate_nb:json>(.*?)</wisgate_nb:json>", xmp, re.S).group(1)))
    parameters = unescape(re.search(r"<wisgate_nb:parameters>(.*?)</wisgate_nb:parameters>", xmp, re.S).group(1))
assert "wisgate_nb" not in sys.modules
print(json.dumps({"format": im.format, "size": im.size, "info": info, "parameters": parameters}))
"""


def read_with_pillow_alone(path) -> dict:
    done = subprocess.run([sys.executable, "-c", PILLOW_ALONE, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "wisgate_nb.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


@pytest.mark.parametrize("fmt, pil_format", [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_every_format_carries_its_provenance_readable_by_pillow_alone(session, fmt, pil_format):
    result = wisgate_nb.generate(PROMPT, size="1024x1024", quality="low", output_format=fmt, tags=["t"])
    path = result.paths[0]
    data = path.read_bytes()
    assert TEST_KEY.encode() not in data and TEST_KEY[-12:].encode() not in data  # never the key

    seen = read_with_pillow_alone(path)
    info = seen["info"]
    assert seen["format"] == pil_format and seen["size"] == [1024, 1024]
    assert info["prompt"] == PROMPT and info["model"] == "gpt-image-2" and info["source"] == "api"
    assert info["params"]["size"] == "1024x1024" and info["params"]["quality"] == "low"
    assert info["params"]["n"] == 1 and info["params"]["output_format"] == fmt
    assert info["request_id"] == result.request_id and info["request_id"]
    assert info["version"] == wisgate_nb.__version__ and info["id"] == result.id
    assert datetime.fromisoformat(info["created"]).tzinfo is not None
    assert seen["parameters"].startswith(PROMPT + "\n")
    assert "Model: gpt-image-2, Size: 1024x1024, Quality: low" in seen["parameters"]

    assert wisgate_nb.provenance(path) == info
    assert result.data[0] == data  # the Generation holds the bytes that are on disk

    shown = cli("info", path)
    assert shown.returncode == 0, shown.stderr
    assert PROMPT in shown.stdout and result.request_id in shown.stdout and "size=1024x1024" in shown.stdout
    as_json = cli("info", "--json", path)
    assert json.loads(as_json.stdout) == info


def test_edits_name_their_inputs_and_notebook_outputs_carry_the_same_facts(session, tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 64), "white").save(photo)
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    result = wisgate_nb.edit(photo, "paint it blue", mask=mask)
    info = wisgate_nb.provenance(result.paths[0])
    assert info["endpoint"] == "edits" and info["inputs"] == list(result.record.inputs) and info["mask"]
    assert info["params"]["size"] == "64x64"  # an edit keeps the input's size: the file says which
    _data, metadata = result._repr_mimebundle_()
    shown = metadata["text/html"]["wisgate_nb"]
    for key in ("prompt", "model", "request_id", "source", "version", "created"):
        assert shown[key] == info[key] or key == "created", key
    assert TEST_KEY not in json.dumps(metadata)


def test_copies_out_of_the_history_keep_it(tmp_path, server):
    out = tmp_path / "out"
    env_cli = subprocess.run(
        [sys.executable, "-m", "wisgate_nb.cli", "generate", PROMPT, "--out", str(out), "--format", "jpeg"],
        capture_output=True, text=True, cwd=tmp_path,
        env={**__import__("os").environ, "WISGATE_DEMO": "1", "WISGATE_HISTORY_DIR": str(tmp_path / "runs")})
    assert env_cli.returncode == 0, env_cli.stderr
    (copy,) = out.iterdir()
    info = read_with_pillow_alone(copy)["info"]
    assert info["prompt"] == PROMPT and info["source"] == "cli" and info["params"]["output_format"] == "jpeg"


def test_a_reused_result_carries_it_even_when_the_old_file_did_not(session):
    first = wisgate_nb.generate(PROMPT, size="1024x1024", cache=True)
    again = wisgate_nb.generate(PROMPT, size="1024x1024", cache=True)
    assert again.reused and wisgate_nb.provenance(again.paths[0])["id"] == first.id  # the request that made it

    old = first.paths[0]  # a file written before files carried provenance: re-saved by Pillow, no text chunks
    Image.open(io.BytesIO(old.read_bytes())).save(old)
    assert wisgate_nb.provenance(old) == {}
    third = wisgate_nb.generate(PROMPT, size="1024x1024", cache=True)
    assert third.reused and wisgate_nb.provenance(third.paths[0])["prompt"] == PROMPT
    assert wisgate_nb.provenance(old) == {}  # a copy was made, not a link that would change the old file


# -- writing keeps the pixels and the rest of the file ------------------------------------------------

def encoded(fmt: str, **options) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((96, 64), 60).convert("RGBA" if options.get("lossless") else "RGB").save(out, fmt, **options)
    return out.getvalue()


INFO = facts({"prompt": PROMPT, "model": "m", "params": {"size": "96x64"}, "source": "api", "id": "x"},
             request_id="req_1", created="2026-01-01T00:00:00+00:00")


@pytest.mark.parametrize("fmt, options", [("PNG", {}), ("JPEG", {"quality": 80}), ("WEBP", {}),
                                          ("WEBP", {"lossless": True})])
def test_embedding_does_not_touch_the_pixels(fmt, options):
    data = encoded(fmt, **options)
    stamped = embed(data, INFO)
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(stamped)) as after:
        assert after.mode == before.mode and after.tobytes() == before.tobytes()
    assert read_bytes(stamped) == INFO
    assert embed(stamped, {**INFO, "prompt": "second"}) != stamped
    assert read_bytes(embed(stamped, {**INFO, "prompt": "second"}))["prompt"] == "second"


def test_a_very_long_prompt_fits_a_jpeg():
    long = {**INFO, "prompt": "☃" * 32000}  # 96 KB of UTF-8: more than a JPEG segment holds
    stamped = embed(encoded("JPEG"), long)
    Image.open(io.BytesIO(stamped)).load()
    read = read_bytes(stamped)
    assert read["prompt_truncated"] is True and read["prompt"] == long["prompt"][: len(read["prompt"])]


# -- damaged files --------------------------------------------------------------------------------------

def _rewrite_chunk(data: bytes, keyword: bytes, payload: bytes, fix_crc: bool = True) -> bytes:
    start = data.index(b"tEXt" + keyword + b"\x00") - 4
    length = struct.unpack(">I", data[start:start + 4])[0]
    body = keyword + b"\x00" + payload
    crc = zlib.crc32(b"tEXt" + body) if fix_crc else 0
    return data[:start] + struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", crc) + \
        data[start + 12 + length:]


LATIN = {**INFO, "prompt": "A lighthouse at dusk"}  # a tEXt chunk, simple to damage by hand


def damaged_cases():
    good = embed(encoded("PNG"), LATIN)
    broken_json = _rewrite_chunk(good, b"wisgate_nb", json.dumps(LATIN).encode()[:40])
    bad_crc = _rewrite_chunk(good, b"wisgate_nb", json.dumps(LATIN).encode(), fix_crc=False)
    jpeg = embed(encoded("JPEG"), INFO)
    cut_jpeg = jpeg[: jpeg.index(b"wisgate_nb:json") + 60]
    return {"broken-json": broken_json, "bad-crc": bad_crc, "cut-png": good[:120], "cut-jpeg": cut_jpeg,
            "not-an-image": b"hello, not an image"}


@pytest.mark.parametrize("case", list(damaged_cases()))
def test_a_damaged_record_gives_what_it_can_with_a_warning(tmp_path, case):
    path = tmp_path / f"{case}.img"
    path.write_bytes(damaged_cases()[case])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = wisgate_nb.provenance(path)
    assert any(issubclass(w.category, ProvenanceWarning) for w in caught), [str(w.message) for w in caught]
    expected = {"broken-json": {"prompt": LATIN["prompt"], "model": "m"},
                "bad-crc": {"prompt": LATIN["prompt"], "request_id": "req_1"}}
    for key, value in expected.get(case, {}).items():
        assert found[key] == value, found
    if case == "broken-json":
        assert found["params"]["size"] == "96x64"  # from the parameters text


def test_info_without_provenance_says_so(tmp_path):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    done = cli("info", plain, tmp_path / "missing.png")
    assert done.returncode == 1
    assert "no wisgate_nb provenance" in done.stderr and "cannot read" in done.stderr
    assert wisgate_nb.provenance(plain) == {}
    assert imagemeta.kind_of(plain.read_bytes()) == "png"
