"""Table tests of the core's pure functions — the budget rule, the cache key, request planning — written so
that mutation testing (README, "Mutation testing"; tools/mutation.sh) finds no change these tests miss.

Each test calls a public function with plain inputs and compares the whole answer; no server, no kernel.
"""

from __future__ import annotations

import pytest

from wisgate_nb.errors import BudgetExceededError
from wisgate_nb.records.budget import check_budget
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
    assert str(info.value) == (
        f"this session's image budget is used up: {made + reserved} of max_images={max_images} images, and this "
        f"request asks for {n} more. Raise it with %config WisGate.max_images = N (0 = no limit).")


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
