"""params.py: option validation and request bodies, as tables; plus a property test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wisgate_nb import errors
from wisgate_nb import options as params
from wisgate_nb.errors import ConfigurationError


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("1024x1024", (1024, 1024)),
        ("1536x864", (1536, 864)),
        (" 1024X1536 ", (1024, 1536)),
        ("64x4096", (64, 4096)),
        ("4096x64", (4096, 64)),
        ("auto", None),
        ("AUTO", None),
    ],
)
def test_parse_size_accepts(size, expected):
    assert params.parse_size(size) == expected


@pytest.mark.parametrize(
    "size",
    ["", "1024", "1024x", "x1024", "63x64", "64x63", "4097x1024", "1024x4097", "axb", "1024x1024x2",
     "-64x64", "10.5x64", "big", 1024, None, b"1024x1024", (1024, 1024)],
)
def test_parse_size_refuses_and_says_what_is_allowed(size):
    with pytest.raises(ConfigurationError, match=r"WIDTHxHEIGHT.*64 to 4096"):
        params.parse_size(size)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, {}),
        ({"n": 2, "size": "1024x1536"}, {"n": 2, "size": "1024x1536"}),
        ({"n": "3"}, {"n": 3}),  # digits from a command line are converted
        ({"n": None, "quality": None, "size": None}, {}),  # unset options are dropped
        ({"output_format": "jpg"}, {"output_format": "jpeg"}),
        ({"output_format": " PNG "}, {"output_format": "png"}),
        ({"output_format": "webp", "output_compression": 0}, {"output_format": "webp", "output_compression": 0}),
        ({"output_compression": 100}, {"output_compression": 100}),
        ({"quality": "HD"}, {"quality": "hd"}),
        ({"quality": "standard"}, {"quality": "standard"}),
        ({"background": "transparent", "moderation": "low"}, {"background": "transparent", "moderation": "low"}),
        ({"stream": True, "partial_images": 0}, {"stream": True, "partial_images": 0}),
        ({"stream": False, "partial_images": 3}, {"stream": False, "partial_images": 3}),
        ({"size": " 512X512"}, {"size": "512x512"}),
        ({"size": "Auto"}, {"size": "auto"}),
        ({"user": "user-1234", "style": "natural"}, {"user": "user-1234", "style": "natural"}),
        ({"response_format": "b64_json", "input_fidelity": "high"}, {"response_format": "b64_json",
                                                                      "input_fidelity": "high"}),
        # unknown options pass through unchanged, whatever they are
        ({"seed": 7, "frame_count": [1, 2], "quality": "low"}, {"seed": 7, "frame_count": [1, 2], "quality": "low"}),
    ],
)
def test_validate_options_normalises(options, expected):
    before = dict(options)
    assert params.validate_options(**options) == expected
    assert options == before  # a new dict; the input is untouched


@pytest.mark.parametrize(
    ("options", "allowed"),
    [
        ({"n": 0}, "1 to 10"),
        ({"n": 11}, "1 to 10"),
        ({"n": True}, "1 to 10"),
        ({"n": 1.0}, "1 to 10"),
        ({"n": "two"}, "1 to 10"),
        ({"n": "2.0"}, "1 to 10"),
        ({"n": "0"}, "1 to 10"),
        ({"partial_images": 4}, "0 to 3"),
        ({"partial_images": -1}, "0 to 3"),
        ({"partial_images": False}, "0 to 3"),
        ({"output_compression": 101}, "0 to 100"),
        ({"output_compression": -1}, "0 to 100"),
        ({"output_format": "gif"}, "png, jpeg, webp"),
        ({"output_format": 1}, "png, jpeg, webp"),
        ({"quality": 3}, "one of low, medium, high, xhigh, max, auto"),
        ({"quality": ""}, "one of low, medium, high, xhigh, max, auto"),
        ({"background": True}, "transparent, opaque, auto"),
        ({"moderation": "hi\ngh"}, "low, auto"),
        ({"response_format": "jpeg"}, "url, b64_json"),
        ({"style": "cubist"}, "vivid, natural"),
        ({"input_fidelity": "max"}, "high, low"),
        ({"stream": "yes"}, "True or False"),
        ({"stream": 1}, "True or False"),
        ({"user": 42}, "text"),
        ({"size": "12x12"}, "64 to 4096"),
    ],
)
def test_validate_options_refuses_and_says_what_is_allowed(options, allowed):
    with pytest.raises(ConfigurationError) as info:
        params.validate_options(**options)
    assert allowed in str(info.value)
    assert isinstance(info.value, ValueError)


def test_build_generation_payload_sends_only_what_is_set():
    body = params.build_generation_payload(
        "a red fox", model="gpt-image-2", n=2, size="1024x1024", quality=None, background=None,
        output_format="jpg", stream=None, seed=3,
    )
    assert body == {"model": "gpt-image-2", "prompt": "a red fox", "n": 2, "size": "1024x1024",
                    "output_format": "jpeg", "seed": 3}


def test_build_generation_payload_keeps_every_contract_field():
    options = {"n": 1, "size": "auto", "quality": "high", "background": "opaque", "output_format": "webp",
               "output_compression": 50, "moderation": "auto", "stream": True, "partial_images": 2,
               "user": "u", "safety_identifier": "h-1", "style": "vivid", "response_format": "url", "input_fidelity": "low"}
    assert set(options) == set(params.GENERATION_FIELDS)
    body = params.build_generation_payload("p", model="m", **options)
    assert body == {"model": "m", "prompt": "p", **options}


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("", "empty"),
        ("   \n\t", "empty"),
        ("x" * 32_001, "at most 32,000"),
        (None, "text"),
        (b"bytes", "text"),
    ],
)
def test_bad_prompts_are_refused(prompt, message):
    with pytest.raises(ConfigurationError, match=message):
        params.build_generation_payload(prompt, model="m")


def test_prompt_of_exactly_the_limit_is_sent_unchanged():
    prompt = " " + "y" * 31_998 + "\n"
    assert params.build_generation_payload(prompt, model="m")["prompt"] == prompt


@pytest.mark.parametrize("model", ["", "  ", None, 3])
def test_bad_model_is_refused(model):
    with pytest.raises(ConfigurationError, match="model"):
        params.build_generation_payload("p", model=model)


def test_form_fields_are_strings():
    fields = params.form_fields(params.build_generation_payload(
        "add a hat", model="gpt-image-1", endpoint="edits", n="2", stream=True, partial_images=1, size="1024x1024",
        quality=None, background="transparent", extra={"a": 1}))
    assert fields == {"model": "gpt-image-1", "prompt": "add a hat", "n": "2", "stream": "true",
                      "partial_images": "1", "size": "1024x1024", "background": "transparent",
                      "extra": '{"a":1}'}
    assert params.form_fields({"model": "m", "prompt": "p", "stream": False, "user": None}) == {
        "model": "m", "prompt": "p", "stream": "false"}


def test_an_edit_body_is_checked_like_generation():
    with pytest.raises(ConfigurationError, match="1 to 10"):
        params.build_generation_payload("p", model="m", endpoint="edits", n=20)


@pytest.mark.parametrize(
    ("count", "has_mask", "message"),
    [
        (0, False, "at least one image"),
        (0, True, "mask was given without an image"),
        (17, False, "at most 16"),
        (17, True, "at most 16"),
    ],
)
def test_check_edit_images_refuses(count, has_mask, message):
    with pytest.raises(ConfigurationError, match=message):
        params.check_edit_images(count, has_mask=has_mask)


@pytest.mark.parametrize(("count", "has_mask"), [(1, False), (1, True), (16, False), (16, True)])
def test_check_edit_images_accepts(count, has_mask):
    params.check_edit_images(count, has_mask=has_mask)


def test_params_module_stays_light():
    """The front doors import params before anything else: no Pillow, no httpx."""
    tree = ast.parse(Path(params.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert not imported & {"PIL", "httpx", "httpx_sse", "pandas", "ipywidgets"}


# ---- property tests: only WisGateError subclasses, whatever the input ----------------------------

_anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | st.binary(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_names = st.sampled_from(params.GENERATION_FIELDS) | st.text(min_size=1, max_size=12)
_size_text = st.from_regex(r"\s?-?\d{0,6}[xX×]?\d{0,6}\s?", fullmatch=True) | st.text(max_size=20)


@given(st.dictionaries(_names, _anything | _size_text, max_size=6))
def test_validate_options_only_raises_configuration_errors(options):
    try:
        result = params.validate_options(**options)
    except errors.WisGateError as exc:
        assert isinstance(exc, ConfigurationError)
    else:
        assert None not in result.values()
        assert set(result) <= set(options)


@given(_anything | _size_text)
def test_parse_size_only_raises_configuration_errors(size):
    try:
        result = params.parse_size(size)
    except ConfigurationError:
        return
    assert result is None or all(64 <= side <= 4096 for side in result)


@given(_anything | st.text(), st.dictionaries(_names.filter(lambda n: n not in ("prompt", "model")), _anything,
                                             max_size=4))
def test_build_payloads_only_raise_configuration_errors(prompt, options):
    try:
        body = params.build_generation_payload(prompt, model="m", **options)
        fields = params.form_fields(params.build_generation_payload(prompt, model="m", endpoint="edits", **options))
    except ConfigurationError:
        return
    assert body["prompt"] == prompt
    assert all(isinstance(value, str) for value in fields.values())
