"""Property tests (hypothesis): option parsing, prompt interpolation and response parsing.

Whatever the input, these functions return a valid result or raise one of wisgate_nb's own errors —
never a KeyError, TypeError, RecursionError, a Pillow exception or a warning.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import warnings

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from wisgate_nb import errors
from wisgate_nb.errors import ConfigurationError, ResponseFormatError
from wisgate_nb.http.client import decode_image
from wisgate_nb.http.images import b64decode
from wisgate_nb.http.wire import (
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
    error_from_response,
    event_json,
    parse_images_body,
    retry_delay,
    stream_error,
)
from wisgate_nb.magic import interpolate, split_prompts
from wisgate_nb.options import parse_size, validate_options

fast = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SECRET = "sk-prop-SECRET-5f4e3d2c1b0a-zz"
SECRET_CORE = "5f4e3d2c1b0a"

# ---- strategies ----------------------------------------------------------------------------------


class Hostile:
    """A notebook variable whose every conversion fails (hypothesis shows it as the HOSTILE marker)."""

    def __format__(self, spec):
        raise RuntimeError("format exploded")

    def __str__(self):
        raise RuntimeError("str exploded")

    def __repr__(self):
        raise RuntimeError("repr exploded")


HOSTILE = "<HOSTILE>"  # replaced by a Hostile() inside the tests: hypothesis must be able to print examples


def _armed(mapping: dict) -> dict:
    return {k: Hostile() if v == HOSTILE else v for k, v in mapping.items()}


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)

size_texts = st.from_regex(r"\s?[0-9]{1,5}\s?[xX×*]\s?[0-9]{1,5}\s?", fullmatch=True)
choice_texts = st.sampled_from(["low", "HIGH", " Medium ", "auto", "hd", "standard", "jpg", "PNG", "webp ",
                                "transparent", "url", "b64_json", "vivid", "natural", "ultra", "", "1"])
option_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**25), 10**25), st.floats(allow_nan=True), st.text(max_size=20),
    st.binary(max_size=8), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                               st.integers(), max_size=2),
    size_texts, choice_texts, st.from_regex(r"\s?\+?[0-9]{1,3}\s?", fullmatch=True), st.just(HOSTILE),
)
option_names = st.sampled_from(["n", "size", "quality", "background", "moderation", "output_format",
                                "output_compression", "partial_images", "response_format", "style",
                                "input_fidelity", "stream", "user", "colour", "seed"])

# ---- option parsing ------------------------------------------------------------------------------

_CHOICES = {
    "quality": {"standard", "hd", "low", "medium", "high", "xhigh", "max", "auto"},
    "background": {"transparent", "opaque", "auto"},
    "moderation": {"low", "auto"},
    "output_format": {"png", "jpeg", "webp"},
    "response_format": {"url", "b64_json"},
    "style": {"vivid", "natural"},
    "input_fidelity": {"high", "low"},
}
_OPEN = ("quality", "background", "moderation")  # other values are sent with a warning
_RANGES = {"n": (1, 10), "output_compression": (0, 100), "partial_images": (0, 3)}


@fast
@given(st.dictionaries(option_names, option_values, max_size=6))
def test_validate_options_returns_valid_options_or_a_configuration_error(options):
    try:
        clean = validate_options(**_armed(options))
    except ConfigurationError as exc:
        assert str(exc)
        return
    assert set(clean) == {k for k, v in options.items() if v is not None}
    for name, value in clean.items():
        if name in _RANGES:
            low, high = _RANGES[name]
            assert type(value) is int and low <= value <= high
        elif name in _OPEN and value not in _CHOICES[name]:
            assert value and value.isprintable() and value == value.strip().lower()
        elif name in _CHOICES:
            assert value in _CHOICES[name]
        elif name == "size":
            assert value == "auto" or re.fullmatch(r"\d+x\d+", value)
        elif name == "stream":
            assert type(value) is bool
        elif name == "user":
            assert isinstance(value, str)
    assert validate_options(**clean) == clean  # normalised values stay as they are


@fast
@given(st.one_of(st.text(max_size=30), size_texts, option_values))
@example("auto")
@example(" AUTO ")
@example("1024x1024\n")
@example("６４x６４")
def test_parse_size_returns_a_size_in_range_or_a_configuration_error(value):
    try:
        size = parse_size(value)
    except ConfigurationError as exc:
        assert "size must be 'auto' or WIDTHxHEIGHT" in str(exc)
        return
    assert size is None or (isinstance(size, tuple) and all(64 <= side <= 4096 for side in size))


@fast
@given(st.integers(64, 4096), st.integers(64, 4096), st.sampled_from(["x", "X", "×", " x ", "  X"]))
def test_parse_size_reads_every_valid_size(width, height, sep):
    assert parse_size(f" {width}{sep}{height} ") == (width, height)
    assert validate_options(size=f"{width}{sep}{height}") == {"size": f"{width}x{height}"}


# ---- prompt interpolation ------------------------------------------------------------------------

template_text = st.text(alphabet="ab {}!:.[]0123 rs>=^,%_-\n$x", max_size=40)
names = st.sampled_from(["a", "b", "x", "subject", "_x", "rs"])
namespace_values = st.one_of(st.text(max_size=10), st.integers(), st.floats(), st.none(),
                             st.lists(st.integers(), max_size=2), st.just(HOSTILE))


@fast
@given(template_text, st.dictionaries(names, namespace_values, max_size=4))
@example("{a:>>>}", {"a": 1})
@example("{a!z}", {"a": 1})
@example("{a!r}", {"a": HOSTILE})
@example("{a:{b}}", {"a": 1, "b": 2})
@example("{a.__class__}", {"a": 1})
def test_interpolate_returns_text_or_a_configuration_error(text, namespace):
    assume(not re.search(r"\d{6,}", text))  # a width of a million characters is merely slow
    try:
        result = interpolate(text, _armed(namespace))
    except ConfigurationError as exc:
        assert "{" in str(exc) or "brace" in str(exc)
        return
    assert isinstance(result, str)
    if "{" not in text and "}" not in text:
        assert result == text


@fast
@given(st.text(max_size=60))
def test_doubled_braces_are_literal_braces(text):
    escaped = text.replace("{", "{{").replace("}", "}}")
    assert interpolate(escaped, {}) == text


@fast
@given(names, st.text(max_size=40), st.text(alphabet="abc ,.-\n", max_size=20))
def test_a_variable_is_filled_in_verbatim(name, value, around):
    escaped = around.replace("{", "{{").replace("}", "}}")
    assert interpolate(f"{escaped}{{{name}}}{escaped}", {name: value}) == f"{around}{value}{around}"


@fast
@given(st.text(alphabet="ab -\n\t\r", max_size=60))
def test_split_prompts_gives_non_blank_prompts_and_is_stable(cell):
    prompts = split_prompts(cell)
    assert all(p == p.strip() and p for p in prompts)
    assert not any(re.fullmatch(r"\s*---+\s*", line) for p in prompts for line in p.split("\n"))
    assert split_prompts("\n---\n".join(prompts)) == prompts


# ---- response parsing ----------------------------------------------------------------------------


def _image(fmt: str, size=(24, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA" if fmt in ("PNG", "WEBP") else "RGB", size, (10, 200, 30)).save(buffer, fmt)
    return buffer.getvalue()


VALID_IMAGES = [_image(fmt) for fmt in ("PNG", "JPEG", "WEBP", "GIF")]
headers_strategy = st.dictionaries(
    st.sampled_from(["content-type", "Content-Type", "x-request-id", "retry-after", "Retry-After",
                     "retry-after-ms", "other"]),
    st.one_of(st.text(max_size=30), st.sampled_from(["text/html", "application/json", "1", "0.5", "-3", "nan",
                                                     "inf", "1e309", "Wed, 21 Oct 2015 07:28:00 GMT",
                                                     "Fri, 31 Dec 9999 23:59:59 GMT", "999999999999"])),
    max_size=4)
item = st.one_of(
    st.fixed_dictionaries({"b64_json": st.one_of(st.text(max_size=20), st.sampled_from(
        [base64.b64encode(VALID_IMAGES[0]).decode(), "data:image/png;base64,AAAA", ""]))}),
    st.fixed_dictionaries({"url": st.text(max_size=20)}),
    json_values,
)
image_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"data": st.one_of(st.lists(item, max_size=3), json_values)},
                          optional={"created": json_values, "usage": json_values, "error": json_values})
    .map(lambda v: json.dumps(v).encode()),
    st.text(max_size=100).map(lambda t: f"<html><body><h1>{t}</h1></body></html>".encode()),
)


@fast
@given(image_bodies, headers_strategy)
@example(b"[" * 100_000 + b"]" * 100_000, {})
@example(b'{"data": [{"b64_json": "x"}], "error": null}', {})
@example(b"\xff\xfe<html>", {"content-type": "text/html"})
def test_parse_images_body_returns_image_items_or_a_response_format_error(body, headers):
    try:
        items, top = parse_images_body(body, headers, redact=SECRET)
    except ResponseFormatError as exc:
        assert str(exc)
        return
    assert isinstance(items, list) and items
    assert all(isinstance(i, dict) and any(isinstance(i.get(k), str) and i[k] for k in ("b64_json", "url"))
               for i in items)
    assert isinstance(top, dict) and "data" not in top


mutations = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4)


@fast
@given(st.one_of(st.binary(max_size=300),
                 st.tuples(st.sampled_from(VALID_IMAGES), mutations, st.integers(1, 2_000))
                 .map(lambda t: _mutate(*t))),
       st.sampled_from([10, 300, 50_000_000]))
def test_decode_image_returns_a_checked_image_or_a_response_format_error(data, max_pixels):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            blob = decode_image(data, max_pixels=max_pixels)
        except ResponseFormatError as exc:
            assert str(exc)
        else:
            assert blob.width * blob.height <= max_pixels and blob.format
            assert blob.data == data
    assert [str(w.message) for w in caught] == []  # never a Pillow warning either


def _mutate(data: bytes, changes, cut: int) -> bytes:
    buffer = bytearray(data)
    for index, value in changes:
        buffer[index % len(buffer)] = value
    return bytes(buffer[: max(1, len(buffer) * cut // 2_000)])


@fast
@given(st.text(max_size=60))
@example("data:image/png;base64,iVBORw0KGgo=")
@example("iVBO Rw0K\nGgo=")
def test_b64decode_returns_bytes_or_a_response_format_error(text):
    try:
        assert isinstance(b64decode(text), bytes)
    except ResponseFormatError as exc:
        assert "base64" in str(exc)


error_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"error": st.one_of(json_values, st.fixed_dictionaries(
        {}, optional={"message": json_values, "code": json_values, "type": json_values}))})
    .map(lambda v: json.dumps(v).encode()),
)


@fast
@given(st.integers(400, 599), error_bodies, headers_strategy)
def test_error_from_response_always_gives_an_api_status_error(status, body, headers):
    exc = error_from_response(status, body, headers, redact=SECRET)
    assert type(exc) is errors.status_error_for(status, exc.code)
    assert exc.status_code == status and str(exc).startswith(f"HTTP {status}")
    assert exc.retry_after is None or (math.isfinite(exc.retry_after) and exc.retry_after > 0)
    assert SECRET not in str(exc)


@fast
@given(st.text(max_size=120), st.text(max_size=40), st.integers(400, 599),
       st.sampled_from(["text/html", "application/json", "text/plain"]))
def test_a_key_echoed_by_the_server_is_masked(before, after, status, content_type):
    for body in (f"{before}{SECRET}{after}", json.dumps({"error": {"message": f"{before}{SECRET}{after}"}})):
        exc = error_from_response(status, body.encode(), {"content-type": content_type}, redact=SECRET)
        assert SECRET_CORE not in str(exc)
        try:
            parse_images_body(body.encode(), {"content-type": content_type}, redact=SECRET)
        except ResponseFormatError as format_error:
            assert SECRET_CORE not in str(format_error)


def _shows_part_of(secret: str, text: str, length: int = 8) -> bool:
    return any(secret[i : i + length] in text for i in range(len(secret) - length + 1))


@pytest.mark.parametrize("pad", [172, 180, 188])
def test_a_key_across_the_snippet_cut_is_not_partly_shown(pad):
    body = f"<html><body>{'x' * pad} {SECRET}</body></html>".encode()
    exc = error_from_response(502, body, {"content-type": "text/html"}, redact=SECRET)
    assert not _shows_part_of(SECRET, str(exc)), str(exc)
    with pytest.raises(ResponseFormatError) as info:
        parse_images_body(body, {"content-type": "text/html"}, redact=SECRET)
    assert not _shows_part_of(SECRET, str(info.value)), str(info.value)


@fast
@given(st.integers(-5, 10_000), headers_strategy)
def test_retry_delay_is_finite_and_bounded(attempt, headers):
    delay = retry_delay(attempt, headers)
    assert math.isfinite(delay) and 0 <= delay <= max(MAX_RETRY_AFTER, MAX_RETRY_DELAY)


@fast
@given(st.one_of(st.text(max_size=60), json_values.map(json.dumps)))
@example("[DONE]")
@example('{"type": "error"}')
def test_stream_events_parse_to_an_event_none_or_a_response_format_error(data):
    try:
        event = event_json(data)
    except ResponseFormatError:
        return
    assert event is None or isinstance(event, dict)
    if isinstance(event, dict):
        exc = stream_error(event, {"x-request-id": "req_1"}, SECRET)
        assert isinstance(exc, errors.APIStatusError) and 400 <= exc.status_code <= 599
