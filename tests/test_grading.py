"""Grades: the judge's request, the strict reading of its answer, the cache, the history, key hygiene, statistics."""

from __future__ import annotations

import _thread
import base64
import json
import math
import threading

import pytest
from conftest import TEST_KEY
from judge_helpers import chat_body, stub_judge
from reliability_helpers import wait_until
from secrets_scan import files_holding, key_needles

import wisgate_nb as wg
from wisgate_nb.errors import BudgetExceededError, ConfigurationError
from wisgate_nb.grading.judge import AnswerError, parse_answer
from wisgate_nb.grading.stats import mean_interval, t95
from wisgate_nb.records import History, loading
from wisgate_nb.records.grades import GRADES_FILE


def _judged_by(session, stub) -> None:
    """The session's requests go to the stub judge, with the test key (the images were drawn in demo mode)."""
    session.config.base_url = stub.url
    session.config.api_key = TEST_KEY
    session.config.demo = False


def _fox(demo_session, n: int = 1):
    return wg.generate("a red fox in the snow", n=n, size="256x256")


def test_the_judge_gets_the_model_the_rubric_the_image_and_the_key(demo_session):
    fox = _fox(demo_session)
    with stub_judge() as stub:
        _judged_by(demo_session, stub)
        grades = wg.grade(fox, "a red fox, at night", judge="vision-judge-1", demo=False)
    (sent,) = stub.requests
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == f"Bearer {TEST_KEY}"
    body = sent["json"]
    assert body["model"] == "vision-judge-1"
    parts = body["messages"][-1]["content"]
    assert any(p["type"] == "text" and "a red fox, at night" in p["text"] for p in parts)
    (url,) = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    head, _, data = url.partition(",")
    assert head == "data:image/png;base64"
    assert base64.b64decode(data) == fox.paths[0].read_bytes()  # the full-size file as stored, provenance and all
    (grade,) = grades
    assert (grade.score, grade.passed, grade.reason) == (4, True, "a fox, as asked")


@pytest.mark.parametrize("text, problem", [
    ("4", "not an object"),
    ("The image shows a fox. Score: 4", "did not answer JSON"),
    ('{"score": 4, "pass": true}', "no reason"),
    ('{"pass": true, "reason": "ok"}', "no score"),
    ('{"score": 6, "pass": true, "reason": "ok"}', "1 to 5"),
    ('{"score": 0, "pass": false, "reason": "ok"}', "1 to 5"),
    ('{"score": 4.5, "pass": true, "reason": "ok"}', "1 to 5"),
    ('{"score": "4", "pass": true, "reason": "ok"}', "1 to 5"),
    ('{"score": true, "pass": true, "reason": "ok"}', "1 to 5"),
    ('{"score": 4, "pass": "yes", "reason": "ok"}', "true or false"),
    ('{"score": 4, "pass": true, "reason": 4}', "must be text"),
    ('```json\n{"score": 4, "pass": true\n```', "did not answer JSON"),
    ("", "did not answer JSON"),
])
def test_a_malformed_answer_is_refused_with_its_reason(text, problem):
    with pytest.raises(AnswerError, match=problem):
        parse_answer(text)


@pytest.mark.parametrize("text", [
    '{"score": 3, "pass": false, "reason": "no snow"}',
    '```json\n{"score": 3, "pass": false, "reason": "no snow"}\n```',
    '  ```\n{"score": 3, "pass": false, "reason": "no snow", "extra": 1}\n```  ',
])
def test_a_grade_is_read_with_or_without_a_fence(text):
    assert parse_answer(text) == (3, False, "no snow")


def test_a_malformed_answer_is_a_recorded_failure_never_a_score(demo_session):
    fox = _fox(demo_session)
    with stub_judge() as stub:
        _judged_by(demo_session, stub)
        stub.answer_text("I would say about a four out of five.", tokens=90)
        (grade,) = wg.grade(fox, "a red fox", demo=False)
    assert grade.score is None and grade.passed is None and not grade.ok
    assert "did not answer JSON" in grade.error
    history = demo_session.history
    judge = history[grade.request]
    assert (judge.request_kind, judge.status, judge.total_tokens) == ("grade", "ok", 90)  # it was answered, and paid
    line = json.loads((history.folder / GRADES_FILE).read_text().splitlines()[-1])
    assert line["score"] is None and "did not answer JSON" in line["error"]
    row = history.df.set_index("id").loc[fox.id]
    assert math.isnan(row["grade"]) and row["grades"] == (None,)
    with stub_judge() as stub:  # a failure is not cached: grading again asks again
        _judged_by(demo_session, stub)
        (again,) = wg.grade(fox, "a red fox", demo=False)
    assert len(stub.requests) == 1 and again.score == 4


def test_a_judge_error_is_recorded_and_the_others_are_graded(demo_session):
    foxes = _fox(demo_session, n=2)
    with stub_judge() as stub:
        _judged_by(demo_session, stub)
        demo_session.config.max_retries = 0
        stub.answers = [(400, {"error": {"message": "this model cannot see images", "type": "invalid_request_error"}}),
                        (200, chat_body('{"score": 2, "pass": false, "reason": "no snow"}'))]
        grades = wg.grade(foxes, "a red fox in the snow", demo=False)
    assert sorted(g.score or 0 for g in grades) == [0, 2]
    (failed,) = grades.failures
    assert "BadRequestError" in failed.error and "cannot see images" in failed.error
    judges = [r for r in demo_session.history.records if r.request_kind == "grade"]
    assert sorted(r.status for r in judges) == ["error", "ok"]


def test_grading_again_sends_nothing(session, server):
    fox = wg.generate("a red fox", n=2, size="256x256")
    first = wg.grade(fox, "a red fox")
    chats = [r for r in server.emulator.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 2 and not any(g.cached for g in first)
    again = wg.grade(fox, "a red fox")
    assert [r for r in server.emulator.requests if r.path.endswith("/chat/completions")] == chats
    assert all(g.cached for g in again) and [g.score for g in again] == [g.score for g in first]
    other = wg.grade(fox, "a red fox, at night")  # another rubric is another grade
    assert len([r for r in server.emulator.requests if r.path.endswith("/chat/completions")]) == 4
    assert other.rubric == "a red fox, at night"


def test_judge_requests_count_in_usage_and_cost_but_not_as_images(session, server):
    session.config.prices = {"gpt-image-2": {"per_image": 0.04}, "judge-x": {"per_1k_tokens": 1.0}}
    wg.generate("a red fox", size="256x256")
    before = session.history.totals(session.config.prices)
    wg.grade(session.history.df, "a red fox", judge="judge-x")
    after = session.history.totals(session.config.prices)
    assert after["images"] == before["images"] and after["requests"] == before["requests"] + 1
    assert after["total_tokens"] > before["total_tokens"]
    assert after["cost"] > before["cost"]
    usage = session.history.usage(by="model", prices=session.config.prices).set_index("model")
    assert usage.loc["judge-x", "images"] == 0 and usage.loc["judge-x", "requests"] == 1


def test_the_history_keeps_grades_per_record_and_per_image(demo_session, tmp_path):
    foxes = _fox(demo_session, n=2)
    car = wg.generate("a blue car", size="256x256")
    before = demo_session.history.df  # looked at before the grades came: the next look has them
    assert before["grade"].isna().all() and before["grades"].tolist() == [(), ()]
    wg.grade([foxes, car], "a red fox")
    later = wg.generate("a cat", size="256x256")
    df = demo_session.history.df.set_index("id")
    assert len(df) == 6 and df.loc[later.id, "grades"] == () and math.isnan(df.loc[later.id, "grade"])
    assert df.loc[foxes.id, "grade"] == 5 and df.loc[foxes.id, "grades"] == (5, 5)
    assert df.loc[car.id, "grade"] == 1 and "missing" in df.loc[car.id, "grade_reason"]
    assert df.loc[car.id, "grade_rubric"] == "a red fox" and df.loc[car.id, "judge"] == "gpt-4.1-mini"
    grades = demo_session.history.grades_df
    assert len(grades) == 3 and set(grades["rubric"]) == {"a red fox"}
    assert sorted(grades["score"].tolist()) == [1, 5, 5]
    reloaded = History.load(demo_session.history.folder)  # on disk: a new kernel sees the same grades
    assert reloaded.df.set_index("id").loc[foxes.id, "grades"] == (5, 5)
    assert len(reloaded.grades_df) == 3


def test_bad_input_is_refused_before_anything_is_sent(session, server):
    fox = wg.generate("a red fox", size="256x256")
    for rubric in ("", "   ", None, "x" * 5000):
        with pytest.raises(ConfigurationError):
            wg.grade(fox, rubric)
    with pytest.raises(ConfigurationError, match="no record"):
        wg.grade("000000-abcdef", "a fox")
    with pytest.raises(ConfigurationError, match="cannot grade"):
        wg.grade(42, "a fox")
    fox.paths[0].unlink()
    with pytest.raises(ConfigurationError, match="image file missing"):
        wg.grade(fox, "a fox")
    assert not [r for r in server.emulator.requests if r.path.endswith("/chat/completions")]


def test_a_judge_that_echoes_the_key_never_leaves_it_anywhere(demo_session, tmp_path):
    foxes = _fox(demo_session, n=3)
    with stub_judge() as stub:
        _judged_by(demo_session, stub)
        demo_session.config.max_retries = 0
        stub.answers = [
            (200, chat_body(json.dumps({"score": 3, "pass": False, "reason": f"I saw your key {TEST_KEY}"}))),
            (200, chat_body(f"not JSON, but the key: {TEST_KEY}")),
            (401, {"error": {"message": f"Incorrect API key provided: {TEST_KEY}", "type": "invalid_request_error"}}),
        ]
        grades = wg.grade(foxes, "a red fox", demo=False)
    history = demo_session.history
    shown = [repr(grades), grades.html(), grades.df.to_csv(), history.df.to_csv(), history.grades_df.to_csv(),
             *(g.reason or "" for g in grades), *(g.error or "" for g in grades),
             *(r.error or "" for r in history.records)]
    assert len(grades.failures) == 2
    for needle in key_needles(TEST_KEY):
        assert not any(needle.decode() in text for text in shown)
    assert files_holding([tmp_path], key_needles(TEST_KEY)) == []


def test_the_statistics_match_hand_computed_values():
    mean, low, high = mean_interval([3, 4, 5])  # s = 1, t(0.975, 2) = 4.3027: 4 ± 4.3027/√3
    assert mean == 4 and low == pytest.approx(4 - 2.48417, abs=1e-4) and high == pytest.approx(4 + 2.48417, abs=1e-4)
    mean, low, high = mean_interval([5, 5, 4, 4])  # s = 0.57735, t(0.975, 3) = 3.1824: 4.5 ± 0.91868
    assert mean == 4.5 and (low, high) == (pytest.approx(3.58132, abs=1e-4), pytest.approx(5.41868, abs=1e-4))
    assert mean_interval([2, 2, 2]) == (2, 2, 2)
    single = mean_interval([4])
    assert single[0] == 4 and math.isnan(single[1]) and math.isnan(single[2])
    assert all(math.isnan(x) for x in mean_interval([]))
    assert t95(1) == pytest.approx(12.7062, abs=1e-4) and t95(30) == pytest.approx(2.0423, abs=1e-4)
    assert t95(40) == pytest.approx(2.021075, abs=2e-4) and t95(120) == pytest.approx(1.979930, abs=2e-4)


def test_grades_render_themselves_escaped(demo_session):
    fox = wg.generate("<b>a red fox</b>", size="256x256")
    grades = wg.grade(fox, "a <i>red</i> fox")
    page = grades._repr_html_()
    assert "<b>a red fox</b>" not in page and "&lt;i&gt;red&lt;/i&gt;" in page
    assert "5/5 pass" in page and "data:image/" in page
    assert 'alt="&lt;b&gt;a red fox&lt;/b&gt;, image 1 of 1, graded 5/5 pass"' in page


def test_records_written_before_request_kind_are_images(demo_session, monkeypatch):
    fox = _fox(demo_session)
    wg.grade(fox, "a fox")
    path = demo_session.history.folder / "history.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        if line.get("request_kind") == "image":
            del line["request_kind"]  # as an older wisgate_nb wrote it
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    for bulk in (True, False):  # read with pyarrow, and line by line without it
        if not bulk:
            monkeypatch.setattr(loading, "_pyarrow", lambda: None)
        loaded = History.load(path.parent)
        assert [r.request_kind for r in loaded.records] == ["image", "grade"]
        assert loaded.df["request_kind"].tolist() == ["image", "grade"]


def test_a_spent_cost_budget_stops_grading_before_anything_is_sent(session, server):
    session.config.prices = {"gpt-image-2": {"per_image": 1.0}}
    fox = wg.generate("a red fox", size="256x256")
    session.config.max_cost = 0.5
    with pytest.raises(BudgetExceededError, match="max_cost"):
        wg.grade(fox, "a red fox")
    assert not [r for r in server.emulator.requests if r.path.endswith("/chat/completions")]
    assert [r.request_kind for r in session.history.records] == ["image"]


def test_an_interrupted_grading_records_the_cancelled_request_and_resumes(demo_session, monkeypatch):
    foxes = _fox(demo_session, n=3)
    history, on_the_loop = demo_session.history, []
    append = history.append

    def noting_the_thread(record):  # the engine loop's thread never waits for the disk, a cancel's record too
        on_the_loop.append(threading.current_thread().name == "wisgate-engine")
        return append(record)

    monkeypatch.setattr(history, "append", noting_the_thread)
    with stub_judge() as stub:
        _judged_by(demo_session, stub)
        demo_session.config.max_concurrency = 1  # one at a time: the second waits at the judge, the third for a slot
        stub.hold_after = 1

        def interrupt_once_the_second_is_sent() -> None:
            if wait_until(lambda: len(stub.requests) >= 2, timeout=30):
                _thread.interrupt_main()

        watcher = threading.Thread(target=interrupt_once_the_second_is_sent)
        watcher.start()
        with pytest.raises(KeyboardInterrupt):
            wg.grade(foxes, "a red fox", demo=False)
        watcher.join(5)
        judges = [r for r in demo_session.history.records if r.request_kind == "grade"]
        assert sorted(r.status for r in judges) == ["cancelled", "cancelled", "ok"]  # every request is recorded
        assert on_the_loop == [False, False, False]
        assert len(demo_session.history.grades_df) == 1
        stub.hold_after, sent = None, len(stub.requests)
        grades = wg.grade(foxes, "a red fox", demo=False)
    assert len(stub.requests) == sent + 2 and sum(g.cached for g in grades) == 1 and not grades.failures


def test_at_most_max_concurrency_judge_requests_are_in_flight(demo_session):
    images = [_fox(demo_session, n=3), _fox(demo_session, n=3)]
    with stub_judge() as stub:
        _judged_by(demo_session, stub)
        demo_session.config.max_concurrency = 2
        stub.delay = 0.2  # each answer takes a while: the requests overlap as much as they may
        grades = wg.grade(images, "a red fox", demo=False)
    assert len(stub.requests) == 6 and len(grades) == 6 and not grades.failures  # one round trip an image
    assert stub.most_in_flight == 2


def test_the_judge_setting_names_the_model(demo_session, monkeypatch):
    assert demo_session.config.judge == "gpt-4.1-mini"
    monkeypatch.setenv("WISGATE_JUDGE", "judge-from-env")
    assert wg.WisGate().judge == "judge-from-env"
    fox = _fox(demo_session)
    with stub_judge() as stub:
        _judged_by(demo_session, stub)
        demo_session.config.judge = "judge-from-config"
        wg.grade(fox, "a fox", demo=False)
    assert stub.requests[0]["json"]["model"] == "judge-from-config"
    assert demo_session.history.grades_df["judge"].tolist() == ["judge-from-config"]


def test_comparisons_of_the_last_results_skip_the_judge_requests(demo_session):
    fox, car = wg.generate("a red fox", size="256x256"), wg.generate("a blue car", size="256x256")
    wg.grade([fox, car], "a red fox")  # the last two records are now the judge's
    assert [r.prompt for r in demo_session.history.compare(last=2).records] == ["a red fox", "a blue car"]
    assert [r.id for r in demo_session.history.results(last=1)] == [car.id]
    assert len(demo_session.history.select(last=2)) == 2  # select still sees every request


def test_a_grades_file_with_a_line_cut_short_keeps_the_others_and_names_the_line(tmp_path):
    """A crash may cut the last grade line short: the lines before it still count, and the warning says which."""
    from wisgate_nb.records import grades

    folder = tmp_path / "runs" / "s1"
    folder.mkdir(parents=True)
    whole = {"id": "r1", "index": 0, "digest": "d1", "rubric": "a fox", "judge": "j", "score": 4, "pass": True,
             "reason": "a fox — with U+2028\u2028inside", "error": None}
    (folder / GRADES_FILE).write_text(json.dumps(whole, ensure_ascii=False) + '\n{"id": "r1", "index": 1, "dig',
                                      encoding="utf-8")
    with pytest.warns(UserWarning, match=r"grades: line 2 of .* cannot be read"):
        book = grades.GradeBook([folder])
    assert book.lines == [whole] and book.cached("d1", "a fox", "j") == whole
