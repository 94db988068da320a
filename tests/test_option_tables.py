"""Table tests of the option registry's checks (options.py), message by message: a front door shows these
words as they are, so mutation testing (tools/mutation.sh) should find no change to them that goes unseen.
"""

from __future__ import annotations

import warnings

import pytest

from wisgate_nb import values
from wisgate_nb.errors import ConfigurationError
from wisgate_nb.options import (
    BY_NAME,
    Option,
    argparse_spec,
    build_generation_payload,
    check_edit_images,
    form_fields,
    image_options,
    problems_of,
    raise_problems,
    stream_options,
    suggest,
    validate_options,
    validate_prompt,
)

SIZE_RULE = "size must be 'auto' or WIDTHxHEIGHT with each side 64 to 4096 px (e.g. 1024x1024)"
QUALITY_RULE = "quality must be one of low, medium, high, xhigh, max, auto (older models also take standard, hd)"


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize(("options", "clean"), [
    ({"model": "  gpt-image-2 "}, {"model": "gpt-image-2"}),
    ({"user": " pupil 7 "}, {"user": " pupil 7 "}),  # only the model name is trimmed
    ({"size": " 1024 X 1536 "}, {"size": "1024x1536"}),
    ({"size": "64×4096"}, {"size": "64x4096"}),
    ({"size": "AUTO"}, {"size": "auto"}),
    ({"n": " 3 "}, {"n": 3}),
    ({"n": 10, "output_compression": 0}, {"n": 10, "output_compression": 0}),
    ({"quality": " HIGH "}, {"quality": "high"}),
    ({"quality": "hd"}, {"quality": "hd"}),
    ({"output_format": "JPG"}, {"output_format": "jpeg"}),
    ({"stream": False, "partial_images": 3}, {"stream": False, "partial_images": 3}),
    ({"n": None, "seed": 7}, {"seed": 7}),  # None is left out; an option the registry does not know is kept
])
def test_good_values_come_back_normalised(options, clean):
    assert validate_options(**options) == clean


@pytest.mark.parametrize(("name", "value", "message"), [
    ("model", "  ", "model must be a non-empty model name; got '  '"),
    ("model", 5, "model must be a non-empty model name; got 5"),
    ("user", 5, "user must be text; got 5"),
    ("size", "1024", f"{SIZE_RULE}; got '1024'"),
    ("size", 1024, f"{SIZE_RULE}; got 1024"),
    ("size", "63x64", f"{SIZE_RULE}; got '63x64'"),
    ("size", "64x63", f"{SIZE_RULE}; got '64x63'"),
    ("size", "4097x64", f"{SIZE_RULE}; got '4097x64'"),
    ("size", "64x4097", f"{SIZE_RULE}; got '64x4097'"),
    ("n", 0, "n must be a whole number from 1 to 10; got 0"),
    ("n", 11, "n must be a whole number from 1 to 10; got 11"),
    ("n", True, "n must be a whole number from 1 to 10; got True"),
    ("n", 2.0, "n must be a whole number from 1 to 10; got 2.0"),
    ("n", "two", "n must be a whole number from 1 to 10; got 'two'"),
    ("quality", 3, f"{QUALITY_RULE}; got 3"),  # open values are text: a number is no quality
    ("stream", "yes", "stream must be True or False; got 'yes'"),
    ("stream", "a" * 100, f"stream must be True or False; got '{'a' * 56}..."),
    ("stream", "a" * 58, f"stream must be True or False; got '{'a' * 58}'"),  # 60 characters with quotes: whole
    ("stream", "a" * 59, f"stream must be True or False; got '{'a' * 56}..."),
    ("n", Unprintable(), "n must be a whole number from 1 to 10; got a Unprintable"),
])
def test_a_bad_value_is_refused_with_what_is_allowed(name, value, message):
    with pytest.raises(ConfigurationError) as info:
        validate_options(**{name: value})
    assert str(info.value) == message
    assert problems_of(info.value) == [message]


def test_an_option_of_the_other_endpoint_is_refused():
    assert validate_options("edits", input_fidelity="HIGH") == {"input_fidelity": "high"}
    with pytest.raises(ConfigurationError, match=r"^input_fidelity applies to edits only, not to generations$"):
        validate_options("generations", input_fidelity="high")
    assert validate_options(None, input_fidelity="low") == {"input_fidelity": "low"}


def test_every_problem_is_reported_together_once():
    with pytest.raises(ConfigurationError) as info:
        validate_options(n=0, quality=3, stream="y")
    problems = ["n must be a whole number from 1 to 10; got 0", f"{QUALITY_RULE}; got 3",
                "stream must be True or False; got 'y'"]
    assert str(info.value) == "3 problems, nothing was sent:\n" + "\n".join(f"  - {p}" for p in problems)
    assert info.value.problems == problems == problems_of(info.value)
    assert raise_problems([]) is None and raise_problems(iter(())) is None
    with pytest.raises(ConfigurationError) as both:
        validate_options("generations", input_fidelity="high", n=0)  # the wrong endpoint does not hide the rest
    assert both.value.problems == ["input_fidelity applies to edits only, not to generations",
                                   "n must be a whole number from 1 to 10; got 0"]
    with pytest.raises(ConfigurationError) as once:
        raise_problems(["the same", "the same"])
    assert str(once.value) == "the same" and once.value.problems == ["the same"]


@pytest.mark.parametrize(("prompt", "message"), [
    (None, "the prompt must be text; got NoneType"),
    (12, "the prompt must be text; got int"),
    ("", "the prompt is empty: describe the image you want"),
    (" \n\t", "the prompt is empty: describe the image you want"),
    ("x" * 32_001, "the prompt has 32,001 characters; at most 32,000 are allowed"),
])
def test_a_prompt_must_be_some_text_and_not_too_much(prompt, message):
    with pytest.raises(ConfigurationError) as info:
        validate_prompt(prompt)
    assert str(info.value) == message


def test_a_prompt_up_to_the_limit_comes_back_as_typed():
    assert validate_prompt(" a fox ") == " a fox "
    assert validate_prompt("x" * 32_000) == "x" * 32_000


@pytest.mark.parametrize(("stream", "fields"), [
    (None, {}), (False, {}), (True, {"stream": True, "partial_images": 2}), (0, {"stream": True, "partial_images": 0}),
    (3, {"stream": True, "partial_images": 3}), (" 1 ", {"stream": True, "partial_images": 1}),
])
def test_stream_becomes_the_apis_fields(stream, fields):
    assert stream_options(stream) == fields


@pytest.mark.parametrize(("stream", "message"), [
    (4, "partial_images must be a whole number from 0 to 3; got 4"),
    ("4", "partial_images must be a whole number from 0 to 3; got 4"),
    ("lots", "stream must be True, False or a number of partial images (0-3); got 'lots'"),
    (1.5, "stream must be True, False or a number of partial images (0-3); got 1.5"),
])
def test_a_stream_that_is_neither_a_bool_nor_a_count_is_refused(stream, message):
    with pytest.raises(ConfigurationError) as info:
        stream_options(stream)
    assert str(info.value) == message


@pytest.mark.parametrize(("count", "mask", "message"), [
    (0, False, "an edit needs at least one image (a path, bytes, a PIL image or a result)"),
    (0, True, "a mask was given without an image: pass the image to edit too"),
    (17, False, "an edit takes at most 16 images; got 17"),
    (17, True, "an edit takes at most 16 images; got 17"),
])
def test_an_edit_takes_one_to_sixteen_images(count, mask, message):
    with pytest.raises(ConfigurationError, match="^an edit needs at least one image"):
        check_edit_images(0)  # without a mask unless told
    check_edit_images(1)
    check_edit_images(16, has_mask=True)
    with pytest.raises(ConfigurationError) as info:
        check_edit_images(count, has_mask=mask)
    assert str(info.value) == message


def test_the_payload_is_model_prompt_and_the_options_set():
    assert build_generation_payload("a fox", model=" gpt-image-2 ", size="512X512", n=None, quality="Low") == {
        "model": "gpt-image-2", "prompt": "a fox", "size": "512x512", "quality": "low"}
    with pytest.raises(ConfigurationError) as info:
        build_generation_payload(" ", model="", n=0, endpoint="generations", input_fidelity="high")
    assert info.value.problems == ["model must be a non-empty model name; got ''",
                                   "the prompt is empty: describe the image you want",
                                   "n must be a whole number from 1 to 10; got 0",
                                   "input_fidelity applies to edits only, not to generations"]


def test_edit_fields_are_text():
    fields = form_fields(build_generation_payload("a fox", model="gpt-image-2", endpoint="edits", n=2, stream=True,
                                                  input_fidelity="high", extra={"b": [1, Unprintable.__name__]}))
    assert fields == {"model": "gpt-image-2", "prompt": "a fox", "n": "2", "stream": "true", "input_fidelity": "high",
                      "extra": '{"b":[1,"Unprintable"]}'}
    assert form_fields({"model": "m", "stream": False, "odd": (1, object)})["stream"] == "false"
    assert form_fields({"model": "m", "odd": (1, int)})["odd"] == "[1,\"<class 'int'>\"]"


def test_image_options_are_what_is_drawn_with_how_many_last():
    """Comparisons and provenance show these: not how the answer came (streaming); ``n`` after the rest."""
    options = image_options()
    assert [o.name for o in options] == ["model", "size", "quality", "output_format", "background",
                                         "output_compression", "moderation", "safety_identifier", "input_fidelity",
                                         "user", "style", "response_format", "n"]
    assert [o.label for o in options] == ["Model", "Size", "Quality", "Format", "Background", "Compression",
                                          "Moderation", "Safety identifier", "Input fidelity", "User", "Style",
                                          "Response format", "Batch size"]
    assert Option("output_compression", "int", "h").label == "Output compression"
    assert Option("output_compression", "int", "h", file_label="Compression").label == "Compression"


KNOWN = "gpt-image-2, gpt-image-1.5, gpt-image-1, gpt-image-1-mini, dall-e-3, dall-e-2"


@pytest.mark.parametrize("model", ["gpt-image-2", "gpt-image-2-2026-04-21", "dall-e-3", " gpt-image-1-mini "])
def test_known_models_and_their_dated_snapshots_go_without_a_warning(model, monkeypatch):
    monkeypatch.setattr(values, "_warned", set())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build_generation_payload("p", model=model)["model"] == model.strip()


@pytest.mark.parametrize("model", ["my-model", "gpt-image-20", "gpt-image", "dall-e-3x"])
def test_another_model_is_sent_with_a_warning_naming_it_and_the_known_ones(model, monkeypatch):
    monkeypatch.setattr(values, "_warned", set())
    with pytest.warns(values.UnknownValueWarning) as seen:
        assert build_generation_payload("p", model=model)["model"] == model
    assert [str(w.message) for w in seen] == [
        f"model={model!r} is not one of the known values ({KNOWN}): sent as given, for a model that takes it"]


@pytest.mark.parametrize(("option", "value", "sent"), [("quality", " Ultra ", "ultra"), ("moderation", "strict", "strict")])
def test_an_open_choice_sends_a_new_value_with_a_warning_naming_the_option(option, value, sent, monkeypatch):
    monkeypatch.setattr(values, "_warned", set())
    with pytest.warns(values.UnknownValueWarning) as seen:
        assert validate_options(**{option: value}) == {option: sent}
    choices = ", ".join(BY_NAME[option].choices)
    assert [str(w.message) for w in seen] == [
        f"{option}={sent!r} is not one of the known values ({choices}): sent as given, for a model that takes it"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate_options(**{option: "auto"}) == {option: "auto"}  # a listed value: no warning


def test_a_closed_choice_names_the_value_it_refuses():
    with pytest.raises(ConfigurationError) as info:
        validate_options(output_format="gif")
    assert str(info.value) == "output_format must be one of png, jpeg, webp; got 'gif'"


@pytest.mark.parametrize(("option", "value"), [("model", "gpt-image-2\udcff"), ("user", "alice\udcff")])
def test_text_with_a_lone_surrogate_is_refused_naming_the_option(option, value):
    with pytest.raises(ConfigurationError) as info:
        if option == "model":
            build_generation_payload("p", model=value)
        else:
            validate_options(**{option: value})
    assert str(info.value).startswith(f"{option} holds a lone surrogate ('\\udcff' at character ")


def test_suggest_names_a_near_miss_only():
    assert suggest("hihg", ["high", "low"]) == " (did you mean high?)"
    assert suggest("hihg", ["high", "low"], prefix="--quality ") == " (did you mean --quality high?)"
    assert suggest("zzz", ["high", "low"]) == ""
    assert suggest("hig", iter(["low", "high"])) == " (did you mean high?)"


def test_argparse_specs_come_from_the_registry():
    assert argparse_spec(BY_NAME["size"]) == (("-s", "--size"), {
        "dest": "size", "default": None, "metavar": "WxH", "help": BY_NAME["size"].help})
    assert argparse_spec(BY_NAME["background"])[0] == ("--background",)
    flags, kwargs = argparse_spec(BY_NAME["output_compression"])
    assert flags == ("--output-compression",) and kwargs["help"] == "compression of jpeg and webp output, 0-100 (%%)"
    flags, kwargs = argparse_spec(BY_NAME["stream"])
    assert (flags, kwargs["nargs"], kwargs["const"], kwargs["metavar"]) == (("--stream",), "?", 2, "PARTIALS")
    assert "nargs" not in argparse_spec(BY_NAME["n"])[1]
