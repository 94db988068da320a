"""Experiments (a graded sweep, its summary and resume) and the demo server's judge."""

from __future__ import annotations

import io
import json

import httpx
import pandas as pd
import pytest
from conftest import TEST_KEY
from judge_helpers import EXPERIMENT, interrupt_an_experiment

import wisgate_nb as wg
from wisgate_nb.emulator import Fault
from wisgate_nb.emulator.draw import render
from wisgate_nb.emulator.judge import grade as demo_grade
from wisgate_nb.grading.judge import data_url, request_body

FOX_SCENE = {"time": "night", "weather": "snow", "ground": "snow", "style": ["watercolor"],
             "subjects": [{"noun": "fox", "colour": "red", "box": [10, 10, 60, 60]},
                          {"noun": "tree", "colour": None, "box": [70, 5, 90, 80]}],
             "words": ["fox", "tree", "snow", "night"], "fallback": False}


def _chats(server) -> list:
    return [r for r in server.emulator.requests if r.path.endswith("/chat/completions")]


@pytest.mark.parametrize("rubric, score, passed", [
    ("a red fox", 5, True),
    ("a red fox in the snow at night", 5, True),
    ("a red fox in the snow at night, in watercolor", 5, True),
    ("a fox and a tree", 5, True),
    ("foxes at night", 5, True),
    ("a blue fox", 3, False),  # a fox, not a blue one
    ("a red fox at dawn", 4, True),
    ("a blue car", 1, False),
    ("a lighthouse by the sea", 1, False),
    ("a red fox, no people", 5, True),  # what must not be there counts when it is not
    ("a fox without snow", 3, False),  # there is snow
])
def test_the_demo_judge_scores_what_the_scene_holds(rubric, score, passed):
    got_score, got_pass, reason = demo_grade(rubric, {"prompt": "something else entirely", "demo_scene": FOX_SCENE})
    assert (got_score, got_pass) == (score, passed), reason
    assert ("shows" in reason) == (score > 1) and ("missing" in reason) == (score < 5)


def test_without_a_scene_the_demo_judge_reads_the_prompt():
    assert demo_grade("a red fox", {"prompt": "a red fox in the snow"})[0] == 5
    assert demo_grade("a blue fox", {"prompt": "a red fox in the snow"})[0] == 3
    assert demo_grade("a blue car", {"prompt": "a red fox in the snow"})[0] == 1
    assert demo_grade("a red fox", {})[:2] == (1, False)  # no record of what was drawn: nothing to credit
    score, passed, reason = demo_grade("the image is beautiful", {"prompt": "a fox"})
    assert (score, passed) == (3, False) and "nothing" in reason


@pytest.mark.parametrize("output_format", ["png", "jpeg", "webp"])
def test_the_demo_judge_reads_what_it_drew_from_the_file(demo_session, output_format):
    fox = wg.generate("a red fox in the snow", size="256x256", output_format=output_format)
    assert fox.paths[0].suffix.lstrip(".") in (output_format, "jpg")
    assert wg.grade(fox, "a red fox").mean > wg.grade(fox, "a blue car").mean
    assert wg.grade(fox, "a red fox")[0].score == 5


def test_the_demo_judge_answers_like_the_real_api(server):
    buffer = io.BytesIO()  # a PNG without provenance
    render("a fox", (64, 64)).save(buffer, format="PNG")
    body = request_body("gpt-4.1-mini", "a fox", buffer.getvalue())
    url = server.base_url + "/chat/completions"
    assert httpx.post(url, json=body).status_code == 401  # same auth as the image routes
    answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {TEST_KEY}"})
    assert answer.status_code == 200 and answer.headers["x-request-id"].startswith("req_")
    doc = answer.json()
    assert doc["object"] == "chat.completion" and doc["model"] == "gpt-4.1-mini"
    assert set(doc["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert doc["usage"]["total_tokens"] == doc["usage"]["prompt_tokens"] + doc["usage"]["completion_tokens"] > 0
    grade = json.loads(doc["choices"][0]["message"]["content"])
    assert set(grade) == {"score", "pass", "reason"} and grade["score"] == 1  # no provenance: nothing to credit
    no_image = {**body, "messages": [{"role": "user", "content": "a fox"}]}
    refused = httpx.post(url, json=no_image, headers={"Authorization": f"Bearer {TEST_KEY}"})
    assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_request_error"
    remote = {**body, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/fox.png"}}]}]}
    assert httpx.post(url, json=remote, headers={"Authorization": f"Bearer {TEST_KEY}"}).status_code == 400
    assert data_url(buffer.getvalue()).startswith("data:image/png;base64,")


def test_an_experiment_ranks_its_variants_with_intervals(demo_session):
    experiment = wg.experiment(prompts=["a fox", "a red fox in the snow", "a blue car"], rubric="a red fox in the snow",
                               n=2, size="256x256", show_progress=False)
    summary = experiment.summary()
    assert list(summary["prompt"]) == ["a red fox in the snow", "a fox", "a blue car"]
    assert list(summary["rank"]) == [1, 2, 3]
    assert summary["mean"].is_monotonic_decreasing and summary.loc[0, "mean"] == 5
    assert list(summary["images"]) == [2, 2, 2] and list(summary["graded"]) == [2, 2, 2]
    assert summary.loc[0, "pass_rate"] == 1 and summary.loc[2, "pass_rate"] == 0
    assert (summary["ci_low"] <= summary["mean"]).all() and (summary["mean"] <= summary["ci_high"]).all()
    assert summary["cost"].isna().all()  # no price table, no cost
    assert experiment.best().prompt == "a red fox in the snow"
    assert len(experiment.df) == 6 and set(experiment.df["score"]) <= {1, 2, 3, 4, 5}
    page = experiment._repr_html_()
    assert page.index("#1 a red fox in the snow") < page.index("#2 a fox") < page.index("#3 a blue car")


def test_a_variant_of_one_image_has_a_mean_and_no_interval(demo_session):
    summary = wg.experiment(prompts=["a fox", "a cat"], rubric="a fox", n=1, size="256x256",
                            show_progress=False).summary()
    assert summary["ci_low"].isna().all() and summary["ci_high"].isna().all()
    assert not summary["mean"].isna().any()


def test_an_experiment_costs_what_its_images_and_grades_cost(demo_session):
    demo_session.config.prices = {"gpt-image-2": {"per_image": 0.5}, "gpt-4.1-mini": {"per_1k_tokens": 1.0}}
    experiment = wg.experiment(prompts=["a fox"], rubric="a fox", n=2, size="256x256", show_progress=False)
    (cost,) = experiment.summary()["cost"]
    judges = [r for r in demo_session.history.records if r.request_kind == "grade"]
    assert len(judges) == 2
    assert cost == pytest.approx(2 * 0.5 + sum(r.total_tokens for r in judges) / 1000)


def test_an_interrupted_experiment_resumes_where_it_stopped(session, server):
    interrupt_an_experiment(session, server)
    images = [r for r in session.history.records if r.request_kind == "image"]
    assert {r.prompt: r.status for r in images} == {
        "a red fox": "ok", "a fox in the snow": "cancelled", "a blue car": "cancelled"}
    server.emulator.reset()
    experiment = wg.experiment(**EXPERIMENT)  # again, the same arguments: only what was not done is sent
    assert sorted(r.json["prompt"] for r in server.emulator.image_requests) == ["a blue car", "a fox in the snow"]
    assert [r.reused for r in experiment.records] == [True, False, False]
    assert experiment.summary()["graded"].tolist() == [2, 2, 2] and len(_chats(server)) == 6
    server.emulator.reset()
    again = wg.experiment(**EXPERIMENT)  # all done: nothing is sent, the grades come from the cache
    assert server.emulator.requests == []
    assert again.summary()["mean"].tolist() == experiment.summary()["mean"].tolist()


def test_a_variant_that_failed_is_shown_and_ranked_last(session, server):
    session.config.max_concurrency = 1  # in order: the second request meets the fault
    server.emulator.schedule(Fault("slow", delay=0.0), Fault("status", 400, message="this prompt is refused"))
    experiment = wg.experiment(prompts=["a red fox", "a blue car", "a fox"], rubric="a red fox", n=2,
                               size="256x256", show_progress=False)
    summary = experiment.summary()
    assert summary["prompt"].tolist() == ["a red fox", "a fox", "a blue car"]
    failed = summary.iloc[-1]
    assert failed["graded"] == 0 and failed["images"] == 0 and pd.isna(failed["mean"])
    assert "this prompt is refused" in experiment._repr_html_()
    assert len(_chats(server)) == 4  # the images that came, and only those, were graded


@pytest.mark.parametrize("scores, low, high", [([5, 5, 4, 5], 3.95, 5.0), ([1, 1, 2, 1], 1.0, 2.05), ([3], None, None)])
def test_a_variants_interval_stays_within_the_judges_scale(scores, low, high):
    """Student's t over a few scores near the top reaches past 5 (4.75 ± 0.80): no score lies there, so the
    interval is kept within 1-5; one score has no interval (NaN)."""
    import math
    from pathlib import Path

    from wisgate_nb.grading.experiment import Variant
    from wisgate_nb.grading.result import Grade

    grades = tuple(Grade("r1", i, Path("x.png"), "a fox", "a fox", "judge", score=s, passed=s >= 4)
                   for i, s in enumerate(scores))
    mean, ci_low, ci_high = Variant("a fox", None, grades).numbers()
    assert mean == pytest.approx(sum(scores) / len(scores))
    if low is None:
        assert math.isnan(ci_low) and math.isnan(ci_high)
    else:
        assert ci_low == pytest.approx(low, abs=0.05) and ci_high == pytest.approx(high, abs=0.05)
