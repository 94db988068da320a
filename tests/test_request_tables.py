"""Table tests of a request as it is built (core/requests.py): every check before anything is sent, and what
the request then says — its body, where it goes, its images, its cache and budget — written so that mutation
testing (README, "Mutation testing"; tools/mutation.sh) finds no change these tests miss.

No server: ``build_request`` touches neither the network nor the history's files (an empty History folder).
"""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from wisgate_nb.config import WisGate
from wisgate_nb.core.requests import Request, build_request
from wisgate_nb.core.targets import DEMO_BASE_URL, NO_KEY_MESSAGE
from wisgate_nb.errors import BudgetExceededError, ConfigurationError
from wisgate_nb.records import History
from wisgate_nb.records.budget import Budget
from wisgate_nb.records.reuse import cache_key

KEY = "sk-request-tables-0123456789abcdef"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working folder with two profiles, and no key in the environment."""
    for name in ("WISGATE_API_KEY", "WISDOM_GATE_KEY", "WISGATE_DEMO", "WISGATE_PROFILE", "WISGATE_CACHE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "wisgate_nb.toml").write_text(
        '[profiles.small]\nsize = "256x256"\nquality = "low"\nmax_images = 2\ncache = true\ndemo = true\n'
        '[profiles.open]\nbase_url = "https://profile.example/v1"\ncache = false\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def config(project):
    return WisGate(api_key=KEY, base_url="https://api.example/v1", demo=False, history_dir=str(project / "runs"),
                   size="1024x1024", n=1, quality="high", output_format="png", model="gpt-image-1")


@pytest.fixture
def history(config):
    return History.create(config.history_dir)


def png(color: str = "red", side: int = 8, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (side, side), color).save(out, format="PNG")
    return out.getvalue()


def build(config, history, prompt="a red fox", **kwargs) -> Request:
    return build_request(config, history, prompt, **kwargs)


# ---- what is asked: the body, from the settings, the profile and the call ---------------------------------


def test_a_generation_sends_the_settings_defaults(config, history):
    request = build(config, history)
    assert request.body == {"model": "gpt-image-1", "prompt": "a red fox", "size": "1024x1024", "n": 1,
                            "quality": "high", "output_format": "png"}
    assert (request.endpoint, request.prompt, request.model) == ("generations", "a red fox", "gpt-image-1")
    assert request.options == {"size": "1024x1024", "n": 1, "quality": "high", "output_format": "png"}


def test_what_the_call_asks_wins_over_the_settings_and_none_is_not_asked(config, history):
    request = build(config, history, size="512x512", n=2, quality=None, model="gpt-image-2")
    assert request.body["size"] == "512x512" and request.body["n"] == 2 and request.n == 2
    assert request.body["quality"] == "high"  # None: the setting stays
    assert request.model == request.body["model"] == "gpt-image-2"


def test_a_profile_s_defaults_sit_between_the_settings_and_the_call(config, history):
    request = build(config, history, profile="small")
    assert (request.body["size"], request.body["quality"], request.body["output_format"]) == ("256x256", "low", "png")
    assert build(config, history, profile="small", size="512x512").body["size"] == "512x512"
    config.profile = "small"  # the session's profile, when the call names none
    assert build(config, history).body["size"] == "256x256"


def test_an_edit_keeps_the_input_s_size_unless_one_is_asked(config, history):
    request = build(config, history, endpoint="edits", images=[png()])
    assert "size" not in request.body
    assert request.body["quality"] == "high" and request.endpoint == "edits"
    assert build(config, history, endpoint="edits", images=[png()], size="512x512").body["size"] == "512x512"


@pytest.mark.parametrize(("body", "n", "streamed"), [
    ({}, 1, False), ({"n": 3}, 3, False), ({"n": "2"}, 2, False),
    ({"stream": True}, 1, True), ({"stream": 1}, 1, False), ({"stream": "true"}, 1, False),
])
def test_a_request_s_count_and_streaming_come_from_its_body(config, body, n, streamed):
    request = Request("generations", "p", "m", body, None)
    assert (request.n, request.streamed) == (n, streamed)


# ---- the checks, in order, before anything is sent --------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["variations", "generation", "", "EDITS"])
def test_an_unknown_endpoint_is_named(config, history, endpoint):
    with pytest.raises(ConfigurationError) as info:
        build(config, history, endpoint=endpoint)
    assert str(info.value) == f"unknown endpoint {endpoint!r}: use generations or edits"


@pytest.mark.parametrize("extra", [{"images": [png()]}, {"mask": png()}, {"images": [png()], "mask": png()}])
def test_images_or_a_mask_on_a_generation_point_to_edit(config, history, extra):
    with pytest.raises(ConfigurationError) as info:
        build(config, history, **extra)
    assert str(info.value) == "images and mask belong to edits: use edit(image, prompt, mask=...)"


def test_an_option_of_edits_is_refused_on_a_generation_and_sent_with_an_edit(config, history):
    with pytest.raises(ConfigurationError) as info:
        build(config, history, input_fidelity="high")
    assert str(info.value) == "input_fidelity applies to edits only, not to generations"
    assert build(config, history, endpoint="edits", images=[png()], input_fidelity="high").body["input_fidelity"] == "high"


def test_no_images_and_no_mask_is_a_generation(config, history):
    assert build(config, history, images=[], mask=None).endpoint == "generations"


def test_every_option_problem_and_the_tags_are_reported_at_once(config, history):
    with pytest.raises(ConfigurationError) as info:
        build(config, history, size="13x13", n=0, tags=5)
    problems = info.value.problems
    assert len(problems) == 3 and str(info.value).startswith("3 problems, nothing was sent:")
    assert problems[0].startswith("size must be") and problems[1].startswith("n must be")
    assert problems[-1] == "tags must be a tag or a list of tags; got int"


@pytest.mark.parametrize(("tags", "expected"), [
    ("fox", ("fox",)), (["a", "b"], ("a", "b")), (("x", 2), ("x", "2")), ((), ()), ("", ("",)),
])
def test_tags_are_one_tag_or_a_list_of_them(config, history, tags, expected):
    assert build(config, history, tags=tags).tags == expected


def test_a_tag_problem_alone_is_its_own_message(config, history):
    with pytest.raises(ConfigurationError) as info:
        build(config, history, tags=None)
    assert str(info.value) == "tags must be a tag or a list of tags; got NoneType"


def test_option_problems_come_before_the_missing_key(config, history):
    config.api_key = None
    with pytest.raises(ConfigurationError) as info:
        build(config, history, size="13x13")
    assert "size" in str(info.value) and "No API key" not in str(info.value)
    with pytest.raises(ConfigurationError) as info:
        build(config, history)
    assert str(info.value) == NO_KEY_MESSAGE


def test_the_budget_is_checked_with_what_is_in_flight_before_anything_is_sent(config, history):
    config.max_images = 3
    assert build(config, history, n=3).budget == Budget(3, 0.0, None)
    assert build(config, history, n=1, reserved=2).n == 1
    with pytest.raises(BudgetExceededError, match="only 1 of this session's max_images=3 are left"):
        build(config, history, n=2, reserved=2)
    with pytest.raises(BudgetExceededError, match="used up: 3 of max_images=3"):
        build(config, history, n=1, reserved=3)


def test_a_profile_s_image_limit_wins_over_the_session_s(config, history):
    config.max_images, config.max_cost, config.prices = 10, 1.5, {"gpt-image-1": 0.04}
    assert build(config, history, profile="small").budget == Budget(2, 1.5, {"gpt-image-1": 0.04})
    assert build(config, history, profile="open").budget == Budget(10, 1.5, {"gpt-image-1": 0.04})
    with pytest.raises(BudgetExceededError, match="max_images=2"):
        build(config, history, profile="small", n=3)
    config.prices = {}
    assert build(config, history).budget.prices is None  # no prices: no cost estimate


# ---- where it goes, what it carries, how it is kept ------------------------------------------------------


def test_the_target_is_the_settings_or_the_profile_s(config, history):
    target = build(config, history).target
    assert (target.base_url, target.demo, target.api_key.get()) == ("https://api.example/v1", False, KEY)
    assert build(config, history, demo=True).target.base_url == DEMO_BASE_URL
    assert build(config, history, profile="small").target.demo is True
    assert build(config, history, profile="open").target.base_url == "https://profile.example/v1"


def test_an_edit_carries_its_images_and_mask_and_their_digests(config, history):
    one, two, mask = png("red"), png("blue"), png((0, 0, 0, 0), mode="RGBA")
    request = build(config, history, endpoint="edits", images=[one, two], mask=mask)
    assert [f[1] for f in request.images] == [one, two] and request.mask[1] == mask
    assert request.input_digests == tuple(hashlib.sha256(b).hexdigest()[:16] for b in (one, two))
    assert request.mask_digest == hashlib.sha256(mask).hexdigest()[:16]
    plain = build(config, history, endpoint="edits", images=[one])
    assert plain.mask is None and plain.mask_digest is None
    assert build(config, history).images == () and build(config, history).input_digests == ()


def test_what_the_request_is_recorded_with(config, history):
    request = build(config, history, source="magic", tags="t", group="g1", template={"name": "x"}, full=True)
    assert (request.source, request.tags, request.group, request.template, request.full) == \
        ("magic", ("t",), "g1", {"name": "x"}, True)
    plain = build(config, history)
    assert (plain.source, plain.tags, plain.group, plain.template, plain.full) == ("api", (), None, None, False)


@pytest.mark.parametrize(("setting", "profile", "asked", "expected"), [
    (False, None, None, False), (True, None, None, True),
    (False, "small", None, True),  # the profile's cache = true
    (True, "open", None, False),  # the profile's cache = false
    (True, "small", False, False), (False, "open", True, True),  # asked: wins
    (False, None, True, True), (True, None, False, False),
])
def test_cache_is_asked_else_the_profile_s_else_the_setting(config, history, setting, profile, asked, expected):
    config.cache = setting
    assert build(config, history, profile=profile, cache=asked).cache is expected


def test_the_cache_key_is_every_input_that_makes_the_result(config, history):
    one, two, mask = png("red"), png("blue"), png((0, 0, 0, 0), mode="RGBA")
    request = build(config, history, endpoint="edits", images=[one, two], mask=mask)
    assert request.cache_key() == cache_key("edits", "https://api.example/v1", "gpt-image-1", "a red fox",
                                            request.options, [one, two, mask])
    keys = {request.cache_key(),
            build(config, history, endpoint="edits", images=[one, two]).cache_key(),
            build(config, history, endpoint="edits", images=[two, one], mask=mask).cache_key(),
            build(config, history, "a blue fox", endpoint="edits", images=[one, two], mask=mask).cache_key(),
            build(config, history, endpoint="edits", images=[one, two], mask=mask, demo=True).cache_key()}
    assert len(keys) == 5
