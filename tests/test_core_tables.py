"""Table tests of the core's pure functions — the budget rule, the cache key, request planning — written so
that mutation testing (README, "Mutation testing"; tools/mutation.sh) finds no change these tests miss.

Each test calls a public function with plain inputs and compares the whole answer; no server, no kernel.
"""

from __future__ import annotations

import pytest

from wisgate_nb.errors import BudgetExceededError, ConfigurationError
from wisgate_nb.records.budget import Budget, check_budget
from wisgate_nb.records.reuse import cache_key

# ---- records/budget.py: max_images counts what is made and what is in flight; max_cost what was spent ----


class Totals:
    """A history as the budget reads it: running totals, and what it was asked for."""

    def __init__(self, images: int = 0, cost: float | None = 0.0):
        self.images, self.cost, self.asked = images, cost, []

    def totals(self, prices):
        self.asked.append(prices)
        return {"images": self.images, "cost": self.cost}


@pytest.mark.parametrize(("made", "reserved", "n", "max_images", "allowed"), [
    (0, 0, 1, 0, True),  # 0 = no limit
    (10**6, 10**6, 10, 0, True),
    (0, 0, 1, 1, True),
    (0, 0, 2, 1, False),
    (2, 0, 1, 3, True),  # exactly at the limit: allowed
    (3, 0, 1, 3, False),
    (1, 1, 1, 3, True),  # in flight counts like made
    (1, 2, 1, 3, False),
    (0, 3, 1, 3, False),
    (0, 0, 4, 3, False),
    (0, 0, 3, 3, True),
])
def test_max_images_counts_made_in_flight_and_asked(made, reserved, n, max_images, allowed):
    history = Totals(images=made)
    if allowed:
        check_budget(history, n, reserved=reserved, max_images=max_images)
        return
    with pytest.raises(BudgetExceededError) as info:
        check_budget(history, n, reserved=reserved, max_images=max_images)
    taken, left = made + reserved, max_images - made - reserved
    if left <= 0:  # nothing left: "used up" only then
        assert str(info.value) == (f"this session's image budget is used up: {taken} of max_images={max_images} "
                                   "images. Raise it with %config WisGate.max_images = N (0 = no limit).")
    else:  # some left: how many, and what to ask for instead
        assert str(info.value) == (
            f"this request asks for {n} images, but only {left} of this session's max_images={max_images} are left "
            f"({taken} used): ask for n={left} or fewer, or raise it with %config WisGate.max_images = N "
            "(0 = no limit).")


def test_with_no_limit_the_history_is_not_read():
    history = Totals(images=10**9, cost=10**9)
    check_budget(history, 1)
    check_budget(history, 1, max_cost=1.0)  # a cost limit without prices cannot be checked
    check_budget(history, 1, max_cost=1.0, prices={})
    check_budget(history, 1, prices={"m": {"per_image": 1.0}})
    assert history.asked == []


@pytest.mark.parametrize(("spent", "max_cost", "allowed"), [
    (0.0, 1.0, True),
    (0.99, 1.0, True),
    (1.0, 1.0, False),  # reached: stop
    (1.5, 1.0, False),
    (None, 1.0, True),  # nothing priced yet
    (5.0, 0.0, True),  # 0 = no limit
])
def test_max_cost_stops_once_the_estimate_reaches_it(spent, max_cost, allowed):
    prices = {"gpt-image-2": {"per_image": 0.04}}
    history = Totals(images=0, cost=spent)
    if allowed:
        check_budget(history, 1, max_cost=max_cost, prices=prices)
    else:
        with pytest.raises(BudgetExceededError) as info:
            check_budget(history, 1, max_cost=max_cost, prices=prices)
        assert str(info.value) == (
            f"the estimated cost so far ({spent:.2f}) has reached max_cost={max_cost:g}. "
            "Raise it with %config WisGate.max_cost = X (0 = no limit).")
    assert history.asked == ([prices] if max_cost else [])


def test_both_limits_are_checked_the_images_first():
    prices = {"m": {"per_image": 1.0}}
    check_budget(Totals(images=1, cost=0.5), 1, max_images=2, max_cost=1.0, prices=prices)
    with pytest.raises(BudgetExceededError, match="max_cost=1"):
        check_budget(Totals(images=1, cost=1.0), 1, max_images=2, max_cost=1.0, prices=prices)
    with pytest.raises(BudgetExceededError, match="max_images=2"):
        check_budget(Totals(images=2, cost=1.0), 1, max_images=2, max_cost=1.0, prices=prices)


def test_a_requests_budget_checks_its_own_limits_with_what_is_in_flight():
    """Budget: the limits a request was planned under, checked again as the session reserves its images."""
    prices = {"m": {"per_image": 1.0}}
    assert Budget() == Budget(0, 0.0, None)  # no limits
    Budget().check(Totals(images=10**9, cost=10**9), 10**6, reserved=10**6)
    Budget(3).check(Totals(images=1), 1, reserved=1)  # exactly at the limit
    with pytest.raises(BudgetExceededError) as info:
        Budget(3).check(Totals(images=1), 2, reserved=1, asking="these 2 requests ask")
    assert str(info.value) == ("these 2 requests ask for 2 images, but only 1 of this session's max_images=3 are left "
                               "(2 used): ask for n=1 or fewer, or raise it with %config WisGate.max_images = N "
                               "(0 = no limit).")
    with pytest.raises(BudgetExceededError, match="^this request asks for 2 images, but only 1 "):
        Budget(3).check(Totals(images=2), 2)
    history = Totals(images=0, cost=2.0)
    with pytest.raises(BudgetExceededError, match=r"\(2.00\) has reached max_cost=2\."):
        Budget(0, 2.0, prices).check(history, 1)
    assert history.asked == [prices]


# ---- records/reuse.py: the cache key changes with everything that makes a result, and nothing else ------

BASE = dict(endpoint="generations", where="https://api.example/v1", model="gpt-image-2", prompt="a red fox",
            options={"size": "1024x1024", "n": 1, "quality": "low"}, inputs=())


def _key(**changes) -> str:
    args = {**BASE, **changes}
    return cache_key(args["endpoint"], args["where"], args["model"], args["prompt"], args["options"], args["inputs"])


def test_the_cache_key_is_a_short_stable_digest():
    assert _key() == _key() == _key(options={"quality": "low", "n": 1, "size": "1024x1024"})  # order is not asked
    assert len(_key()) == 32 and int(_key(), 16) >= 0


@pytest.mark.parametrize("change", [
    dict(endpoint="edits"),
    dict(where="https://other.example/v1"),
    dict(model="gpt-image-1"),
    dict(prompt="a red fox "),
    dict(prompt="a blue fox"),
    dict(options={"size": "1024x1024", "n": 2, "quality": "low"}),
    dict(options={"size": "1024x1024", "n": 1}),
    dict(options={"size": "1024x1024", "n": 1, "quality": "low", "background": "transparent"}),
    dict(inputs=(b"image one",)),
])
def test_the_cache_key_changes_with_what_makes_a_result(change):
    assert _key(**change) != _key()


def test_the_cache_key_follows_each_input_image_in_order():
    one, two = b"\x89PNG one", b"\x89PNG two"
    keys = {_key(inputs=inputs) for inputs in [(), (one,), (two,), (one, two), (two, one), (one, one)]}
    assert len(keys) == 6
    assert _key(inputs=iter([one, two])) == _key(inputs=[one, two])  # any iterable of bytes


@pytest.mark.parametrize("streaming", [{"stream": True}, {"partial_images": 2}, {"stream": True, "partial_images": 3}])
def test_streaming_is_not_in_the_cache_key(streaming):
    assert _key(options={**BASE["options"], **streaming}) == _key()


class Size:
    def __str__(self) -> str:
        return "512x512"


def test_an_option_value_that_is_not_json_keys_as_its_text():
    assert _key(options={"size": Size()}) == _key(options={"size": "512x512"})


# ---- records/reuse.py: which earlier result is reused, and how its files are shared ----------------------


@pytest.fixture
def history(tmp_path):
    from wisgate_nb.records import History

    return History.create(tmp_path / "runs", session="s1")


def _png(color: str = "red") -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, "PNG")
    return out.getvalue()


def _result(history, record_id: str, *, key: str = "k", status: str = "ok", files: int = 1, facts: bool = True,
            write: bool = True):
    """A record of ``files`` images (with or without provenance) and their thumbnails, appended to the history."""
    from wisgate_nb.records import Record, provenance

    record = Record(id=record_id, session="s1", started_at=f"2026-12-07T12:00:0{len(history)}", prompt="a fox",
                    model="gpt-image-2", status=status, images=files, cache_key=key,
                    paths=tuple(f"{record_id}_{i}.png" for i in range(files)),
                    thumbs=tuple(f"{record_id}_{i}.thumb.png" for i in range(files)))
    folder = history.ensure_folder()
    for i, (name, thumb) in enumerate(zip(record.paths, record.thumbs)):
        data = _png(("red", "blue", "green")[i])
        if write:
            (folder / name).write_bytes(provenance.embed(data, provenance.facts(record.to_json(), index=i))
                                        if facts else data)
            (folder / thumb).write_bytes(data)
    return history.append(record)


def test_the_newest_ok_result_with_its_files_is_reused(history):
    from wisgate_nb.records.reuse import find_reusable

    assert find_reusable(history, "k") is None
    _result(history, "old")
    _result(history, "new")
    _result(history, "failed", status="error", files=0)
    _result(history, "other", key="k2")
    assert find_reusable(history, "k").id == "new"
    assert find_reusable(history, "k2").id == "other"
    assert find_reusable(history, "k3") is None


def test_a_result_whose_files_are_gone_or_that_has_none_is_not_reused(history):
    from wisgate_nb.records.reuse import find_reusable

    _result(history, "whole", files=2)
    _result(history, "half", files=2)
    (history.ensure_folder() / "half_1.png").unlink()
    assert find_reusable(history, "k").id == "whole"
    (history.ensure_folder() / "whole_0.png").unlink()
    assert find_reusable(history, "k") is None
    _result(history, "no files", files=0)
    _result(history, "cancelled", status="cancelled", files=1)
    assert find_reusable(history, "k") is None


def test_a_reused_result_links_its_files_under_the_new_id(history):
    from wisgate_nb.records.reuse import link_result

    old = _result(history, "old", files=2)
    paths, thumbs = link_result(history, old, "new")
    assert (paths, thumbs) == (("new_0.png", "new_1.png"), ("new_0.thumb.png", "new_1.thumb.png"))
    folder = history.ensure_folder()
    for name in paths + thumbs:
        source = folder / name.replace("new", "old")
        assert (folder / name).read_bytes() == source.read_bytes()
        assert (folder / name).stat().st_ino == source.stat().st_ino  # a hard link, not a copy


def test_a_file_written_before_provenance_is_copied_with_it(history):
    from wisgate_nb.records import provenance
    from wisgate_nb.records.reuse import link_result

    old = _result(history, "old", files=2, facts=False)
    link_result(history, old, "new")
    folder = history.ensure_folder()
    for i in range(2):
        facts = provenance.read(folder / f"new_{i}.png")
        assert facts["prompt"] == "a fox" and facts["id"] == "old" and facts.get("index", 0) == i
        assert (folder / f"new_{i}.png").stat().st_ino != (folder / f"old_{i}.png").stat().st_ino
        assert provenance.read(folder / f"old_{i}.png") == {}  # the old file is left as it was
    assert (folder / "new_0.thumb.png").stat().st_ino == (folder / "old_0.thumb.png").stat().st_ino


def test_files_that_exist_already_are_kept_and_a_failed_link_copies(history, monkeypatch):
    import os

    from wisgate_nb.records.reuse import link_result

    old = _result(history, "old")
    folder = history.ensure_folder()
    (folder / "new_0.thumb.png").write_bytes(b"already here")
    link_result(history, old, "new")
    assert (folder / "new_0.thumb.png").read_bytes() == b"already here"

    def no_links(src, dest):
        raise OSError("this file system has no hard links")

    monkeypatch.setattr(os, "link", no_links)
    link_result(history, old, "copy")
    assert (folder / "copy_0.png").read_bytes() == (folder / "old_0.png").read_bytes()
    assert (folder / "copy_0.png").stat().st_ino != (folder / "old_0.png").stat().st_ino


def test_only_the_id_at_the_start_of_a_name_is_replaced(history):
    from wisgate_nb.records.reuse import link_result

    old = _result(history, "p")  # "p" is in "p_0.png" three times
    assert link_result(history, old, "q") == (("q_0.png",), ("q_0.thumb.png",))


def test_an_unreadable_file_to_reuse_is_named_in_the_warning(history):
    from wisgate_nb.records import Record
    from wisgate_nb.records.provenance import ProvenanceWarning
    from wisgate_nb.records.reuse import link_result

    (history.ensure_folder() / "old_0.gif").write_bytes(b"GIF89a not what it says")
    old = history.append(Record(id="old", session="s1", started_at="2026-12-07T12:00:00", prompt="a fox",
                                model="gpt-image-2", status="ok", images=1, paths=("old_0.gif",), cache_key="k"))
    with pytest.warns(ProvenanceWarning, match="the provenance of old_0.gif is damaged"):
        link_result(history, old, "new")
    assert (history.ensure_folder() / "new_0.gif").read_bytes() == b"GIF89a not what it says"


# ---- core/plans.py: what every front door does before sending ---------------------------------------------

KEY = "sk-tables-0123456789abcdef"


@pytest.fixture
def planner(tmp_path):
    """A session that only plans (nothing is sent): a key for a server that is never called; templates in tmp."""
    from wisgate_nb import templates
    from wisgate_nb.config import WisGate
    from wisgate_nb.core.session import Session

    templates.set_file(tmp_path / "templates.toml")
    templates.save("shot", "a photo of {subject}, {style}", style="studio light")
    session = Session(WisGate(api_key=KEY, base_url="https://images.example/v1", demo=False, size="1024x1024",
                              history_dir=str(tmp_path / "runs")))
    try:
        yield session
    finally:
        session.close()
        templates.set_file(None)


def test_a_plan_is_the_prompt_and_options_asked_for(planner):
    from wisgate_nb.core.plans import plan

    request = plan(planner, "a red fox", size="512x512", n=2)
    assert (request.prompt, request.source, request.endpoint, request.template) == ("a red fox", "api", "generations",
                                                                                     None)
    assert (request.body["size"], request.body["n"], "stream" in request.body) == ("512x512", 2, False)
    assert plan(planner, "a red fox", source="magic").source == "magic"


def test_a_plan_fills_in_a_template_and_records_which(planner):
    from wisgate_nb.core.plans import plan

    request = plan(planner, None, template="shot", fields={"subject": "a red sneaker"})
    assert request.prompt == "a photo of a red sneaker, studio light"
    assert request.template == {"name": "shot", "version": 1, "fields": {"subject": "a red sneaker",
                                                                          "style": "studio light"}}
    extra = plan(planner, "on fresh snow", template="shot", fields={"subject": "a boot", "style": "dusk"})
    assert extra.prompt.startswith("a photo of a boot, dusk") and extra.prompt.endswith("on fresh snow")


@pytest.mark.parametrize(("prompt", "fields", "message"), [
    (None, {}, "a prompt is needed: generate('a red fox in the snow')"),
    ("a fox", {"sise": "1"}, "unknown option(s) sise (did you mean size?) (template fields need template=NAME)"),
    ("a fox", {"subject": "x", "b": "y"}, "unknown option(s) b, subject (template fields need template=NAME)"),
])
def test_a_plan_without_what_it_needs_says_so(planner, prompt, fields, message):
    from wisgate_nb.core.plans import plan

    with pytest.raises(ConfigurationError) as info:
        plan(planner, prompt, fields=fields)
    assert str(info.value) == message


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, (None, None)),
    ({"stream": False}, (None, None)),
    ({"stream": True}, (True, 2)),
    ({"stream": 3}, (True, 3)),
    ({"stream": True, "partial_images": 1}, (True, 1)),  # a partial_images given as well wins
    ({"stream": 2, "partial_images": None}, (True, 2)),
])
def test_stream_is_a_bool_or_a_count_of_partial_images(planner, kwargs, expected):
    from wisgate_nb.core.plans import plan

    body = plan(planner, "a fox", **kwargs).body
    assert (body.get("stream"), body.get("partial_images")) == expected


def test_split_params_sends_a_templates_own_fields_to_it(planner):
    from wisgate_nb.core.plans import split_params

    params = {"size": "512x512", "mood": "noir", "subject": "a cat", "profile": "draft"}
    assert split_params(params) == ({"size": "512x512", "profile": "draft"}, {"mood": "noir", "subject": "a cat"})
    assert split_params({"n": 2, "background": "x"}, "shot") == ({"n": 2, "background": "x"}, {})
    from wisgate_nb import templates

    templates.save("backdrop", "a {background} wall", background="brick")
    assert split_params({"background": "stone", "n": 2}, "backdrop") == ({"n": 2}, {"background": "stone"})


def test_options_from_args_are_the_flags_given():
    from argparse import Namespace

    from wisgate_nb.core.plans import options_from_args
    from wisgate_nb.options import FRONT_DOOR

    args = Namespace(**{o.name: None for o in FRONT_DOOR}, profile=None)
    assert options_from_args(args) == {}
    args.size, args.n, args.profile = "512x512", 2, "draft"
    assert options_from_args(args) == {"size": "512x512", "n": 2, "profile": "draft"}
    cli = Namespace(size="256x256", profile=None)  # the CLI's edit parser has only its endpoint's options
    assert options_from_args(cli) == {"size": "256x256"}


def test_a_sweep_is_every_prompt_by_every_value_in_one_group(planner):
    from wisgate_nb.core.plans import plan_sweep

    requests = plan_sweep(planner, ["a fox", "a cat"], size=["256x256", "512x512"], n=2, tags=["t"], cache=True,
                          source="magic")
    assert [(r.prompt, r.body["size"], r.n) for r in requests] == [
        ("a fox", "256x256", 2), ("a fox", "512x512", 2), ("a cat", "256x256", 2), ("a cat", "512x512", 2)]
    assert {r.group for r in requests} == {requests[0].group} and requests[0].group.startswith("sweep-")
    assert len(requests[0].group) == len("sweep-") + 6
    assert all(r.tags == ("t",) and r.cache and r.source == "magic" for r in requests)
    assert plan_sweep(planner, "one prompt", quality=("low", "high"))[1].body["quality"] == "high"
    assert plan_sweep(planner, ["a"])[0].group != plan_sweep(planner, ["a"])[0].group
    assert [r.source for r in plan_sweep(planner, ["a"], demo=True)] == ["api"]


def test_a_sweep_varies_template_fields_too(planner):
    from wisgate_nb.core.plans import plan_sweep

    requests = plan_sweep(planner, template="shot", subject=["a boot", "a hat"], n=1)
    assert [r.prompt for r in requests] == ["a photo of a boot, studio light", "a photo of a hat, studio light"]
    assert [r.template["fields"]["subject"] for r in requests] == ["a boot", "a hat"]


@pytest.mark.parametrize(("prompts", "params", "message"), [
    (None, {}, "sweep needs prompts=[...] (or template=NAME)"),
    ([], {}, "sweep needs prompts=[...] (or template=NAME)"),
    (["a"], {"size": []}, "sweep: size=[] has no values"),
    (["a"], {"n": 1, "size": [], "quality": []}, "sweep: size=[] has no values"),
    ([f"p{i}" for i in range(201)], {"n": 2}, "this sweep would send 201 requests (402 images); split it (at most 200 "
                                              "requests per sweep)"),
])
def test_a_sweep_that_cannot_be_sent_says_why(planner, prompts, params, message):
    from wisgate_nb.core.plans import plan_sweep

    with pytest.raises(ConfigurationError) as info:
        plan_sweep(planner, prompts, **params)
    assert str(info.value) == message


def test_a_sweep_of_exactly_the_limit_is_planned(planner):
    from wisgate_nb.core.plans import MAX_SWEEP_REQUESTS, plan_sweep

    assert MAX_SWEEP_REQUESTS == 200
    assert len(plan_sweep(planner, [f"p{i}" for i in range(100)], n=[1, 2])) == 200


def test_a_dry_run_shows_the_request_with_the_key_masked(planner, tmp_path):
    from wisgate_nb.core.plans import DryRun, plan

    dry = DryRun.of(plan(planner, "a <red> fox", size="512x512"))
    assert (dry.method, dry.url, dry.headers) == ("POST", "https://images.example/v1/images/generations",
                                                  {"Authorization": "Bearer ****cdef"})
    assert dry.prompt == "a <red> fox" and dry.files == ()
    assert str(dry).splitlines()[:5] == ["dry run: nothing sent, nothing recorded", "prompt: a <red> fox",
                                         "POST https://images.example/v1/images/generations",
                                         "Authorization: Bearer ****cdef", "{"]
    assert '  "size": "512x512",' in str(dry).splitlines() and repr(dry) == str(dry)
    assert dry._repr_html_() == '<pre class="wisgate-nb">' + str(dry).replace("<", "&lt;").replace(">", "&gt;") \
        .replace('"', "&quot;").replace("'", "&#x27;") + "</pre>"
    planner.config.demo = True
    assert DryRun.of(plan(planner, "a fox")).headers == {"Authorization": "(none: demo mode)"}


def test_a_sweep_gives_a_templates_own_field_to_it_even_when_an_option_has_that_name(planner):
    from wisgate_nb import templates
    from wisgate_nb.core.plans import plan_sweep

    templates.save("backdrop", "a {background} wall")
    requests = plan_sweep(planner, template="backdrop", background=["stone", "brick"])
    assert [r.prompt for r in requests] == ["a stone wall", "a brick wall"]
    assert ["background" in r.body for r in requests] == [False, False]


def test_a_dry_run_of_an_edit_lists_its_files_and_keeps_words_as_typed(planner, tmp_path):
    from PIL import Image

    from wisgate_nb.core.plans import DryRun, plan

    Image.new("RGB", (64, 64), "red").save(tmp_path / "photo.png")
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(tmp_path / "holes.png")
    sizes = [(tmp_path / name).stat().st_size for name in ("photo.png", "holes.png")]
    request = plan(planner, "un café ☕ la nuit", endpoint="edits", images=[tmp_path / "photo.png"],
                   mask=tmp_path / "holes.png")
    dry = DryRun.of(request)
    assert dry.url == "https://images.example/v1/images/edits"
    assert dry.files == (f"photo.png (image/png, {sizes[0]} bytes)", f"mask: holes.png (image/png, {sizes[1]} bytes)")
    assert '  "prompt": "un café ☕ la nuit",' in str(dry).splitlines()
    assert str(dry).splitlines()[-2:] == [f"file: {f}" for f in dry.files]


def test_after_a_restart_an_earlier_sessions_result_is_reused_by_its_key(tmp_path):
    """A restarted kernel is a new session in the same history folder: its cache finds the earlier session's result
    by the key asked for, and nothing for another key (the whole story, with kernels, in
    test_reuse_across_sessions.py)."""
    from wisgate_nb.records import History
    from wisgate_nb.records.reuse import find_reusable

    first = History.create(tmp_path / "runs", session="2026-12-07T10-00-00-first")
    _result(first, "before", key="k")
    _result(first, "other", key="k2")
    restarted = History.create(tmp_path / "runs", session="2026-12-07T11-00-00-restarted")
    assert find_reusable(restarted, "k").id == "before"
    assert find_reusable(restarted, "k2").id == "other"
    assert find_reusable(restarted, "k3") is None
