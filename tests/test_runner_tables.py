"""Table tests of the runner of the front doors — core/runner.py: how an Ask is planned, and what run and submit
tell a Show — with a fake session of plain objects (no kernel, no server), fast enough for mutation testing
(README, "Mutation testing"). tests/test_runner.py runs the same paths against the demo server.
"""

from __future__ import annotations

from concurrent.futures import CancelledError, Future
from types import SimpleNamespace

import pytest

from wisgate_nb.core import runner
from wisgate_nb.core.runner import Ask, Batch
from wisgate_nb.errors import ConfigurationError, WisGateError
from wisgate_nb.output.shows import Show


class Planner:
    """Stands in for core/plans: writes down each plan asked for and returns its name."""

    def __init__(self, monkeypatch):
        self.calls = []
        self.sessions = []
        monkeypatch.setattr(runner, "plan_one", lambda session, prompt, **kw: self._note(session, "one", prompt, kw))
        monkeypatch.setattr(runner, "plan_sweep", lambda session, prompts, **kw: self._note(session, "sweep", prompts, kw))

    def _note(self, session, kind, prompt, kwargs):
        self.sessions.append(session)
        self.calls.append((kind, prompt, kwargs))
        return [kind] if kind == "sweep" else kind


@pytest.fixture
def planner(monkeypatch):
    return Planner(monkeypatch)


COMMON = dict(tags=("t",), demo=True, cache=False, source="cli")


def test_one_prompt_is_one_plan_with_its_template_fields_and_options(planner):
    ask = Ask(prompts=("a fox",), template="poster", fields={"style": "ink"}, options={"size": "256x256"},
              full=True, **COMMON)
    assert runner.plan("session", ask) == ["one"]
    assert planner.sessions == ["session"]
    assert planner.calls == [("one", "a fox", dict(template="poster", fields={"style": "ink"}, full=True, **COMMON,
                                                   size="256x256"))]


def test_no_prompt_is_one_plan_of_none(planner):
    runner.plan("session", Ask(template="poster"))
    assert planner.calls[0][:2] == ("one", None)
    assert planner.calls[0][2]["template"] == "poster"


@pytest.mark.parametrize("ask", [
    Ask(prompts=("a", "b")),
    Ask(prompts=("a",), vary={"size": ["256x256", "512x512"]}),
    Ask(prompts=("a",), sweep=True),
    Ask(sweep=True, template="poster", fields={"style": "ink"}),
])
def test_several_prompts_a_vary_or_sweep_make_a_sweep(planner, ask):
    assert ask.several
    assert runner.plan("session", ask) == ["sweep"]
    assert planner.sessions == ["session"]
    kind, prompts, kwargs = planner.calls[0]
    assert (kind, prompts) == ("sweep", list(ask.prompts) or None)
    assert kwargs == dict(template=ask.template, tags=(), demo=None, cache=None, source="api",
                          **ask.fields, **ask.vary)


def test_a_sweep_gets_options_then_fields_then_the_vary(planner):
    ask = Ask(prompts=("a", "b"), options={"size": "256x256", "quality": "low"}, fields={"quality": "high"},
              vary={"size": ["512x512"]}, **COMMON)
    runner.plan("session", ask)
    assert planner.calls[0][2] == dict(template=None, **COMMON, size=["512x512"], quality="high")


def test_one_prompt_without_vary_is_not_several():
    assert not Ask(prompts=("a",)).several
    assert not Ask().several


def test_an_edit_is_one_plan_with_its_images_and_mask(planner):
    ask = Ask(prompts=("brighter",), endpoint="edits", images=("a.png", "b.png"), mask="m.png",
              options={"size": "256x256"}, full=True, **COMMON)
    assert runner.plan("session", ask) == ["one"]
    assert planner.calls == [("one", "brighter", dict(endpoint="edits", images=["a.png", "b.png"], mask="m.png",
                                                      full=True, **COMMON, size="256x256"))]


@pytest.mark.parametrize(("ask", "message"), [
    (Ask(prompts=("a", "b"), endpoint="edits"), "--edit takes exactly one prompt and no --vary"),
    (Ask(endpoint="edits"), "--edit takes exactly one prompt and no --vary"),
    (Ask(prompts=("a",), endpoint="edits", vary={"size": ["256x256"]}), "--edit takes exactly one prompt and no --vary"),
    (Ask(prompts=("a",), endpoint="edits", sweep=True), "--edit takes exactly one prompt and no --vary"),
    (Ask(prompts=("a",), mask="m.png"), "--mask goes with --edit IMAGE"),
    (Ask(prompts=("a", "b"), template="poster"),
     "--template takes at most one block of extra detail, not several prompts"),
])
def test_what_cannot_be_planned_is_refused_before_planning(planner, ask, message):
    with pytest.raises(ConfigurationError) as info:
        runner.plan("session", ask)
    assert str(info.value) == message
    assert planner.calls == []


def test_a_sweep_of_one_prompt_may_have_a_template(planner):
    runner.plan("session", Ask(prompts=("a",), template="poster", vary={"size": ["256x256"]}))
    assert planner.calls[0][:2] == ("sweep", ["a"])


# ---- plan_again ----


class Prepared:
    def __init__(self, folder=None):
        self.asked = []
        self.history = SimpleNamespace(folder_of=lambda record: folder)

    def prepare(self, prompt, **kwargs):
        self.asked.append((prompt, kwargs))
        return "request"


def record(**kw):
    return SimpleNamespace(**{"prompt": "a fox", "template": "poster", "model": "gpt-image-1",
                              "endpoint": "generations", "params": {"size": "256x256"}, "inputs": (), "mask": None,
                              "id": "r1", **kw})


def test_plan_again_asks_for_the_records_request_anew():
    session = Prepared()
    assert runner.plan_again(session, record(), source="panel") == "request"
    assert session.asked == [("a fox", dict(source="panel", template="poster", model="gpt-image-1",
                                            endpoint="generations", size="256x256"))]


def test_plan_again_of_an_edit_finds_its_kept_inputs(tmp_path):
    (tmp_path / "inputs").mkdir()
    for name in ("aaa.png", "bbb.png", "mmm.png"):
        (tmp_path / "inputs" / name).write_bytes(b"png")
    session = Prepared(tmp_path)
    runner.plan_again(session, record(endpoint="edits", inputs=("bbb", "aaa"), mask="mmm"), source="api")
    assert session.asked[0][1]["images"] == [tmp_path / "inputs" / "bbb.png", tmp_path / "inputs" / "aaa.png"]
    assert session.asked[0][1]["mask"] == tmp_path / "inputs" / "mmm.png"
    assert session.asked[0][1]["endpoint"] == "edits"


# ---- run and submit: what the show is told ----


class Told(Show):
    def __init__(self):
        self.calls = []

    def started(self, requests):
        self.calls.append(("started", list(requests)))

    def on_partial(self, index, blob):
        self.calls.append(("on_partial", index, blob))

    def on_status(self, text):
        self.calls.append(("on_status", text))

    def on_done(self, index, result):
        self.calls.append(("on_done", index, result))

    def finished(self, outcome, error):
        self.calls.append(("finished", outcome, error))


class Result:
    def __init__(self, id):
        self.id = id


class Failed(WisGateError):
    def __init__(self, record_id):
        super().__init__("failed")
        self.record_id = record_id


class FakeSession:
    """A session that answers at once: run gives ``answers[request]`` (raised when an error)."""

    def __init__(self, answers):
        self.answers, self.asked, self.jobs = answers, [], []
        self.history = SimpleNamespace(compare=lambda ids: ("comparison", tuple(ids)))

    def _answer(self, request):
        answer = self.answers[request]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def run(self, request, *, on_partial, on_status):
        self.asked.append(("run", request, on_partial, on_status))
        if on_partial:
            on_partial(0, "preview")
        on_status("waiting 2 s")
        return self._answer(request)

    def run_many(self, requests, *, on_done):
        self.asked.append(("run_many", list(requests)))
        results = [self.answers[r] for r in requests]
        for i, result in reversed(list(enumerate(results))):  # finished out of order
            on_done(i, result)
        return results

    def submit(self, request, *, on_partial, on_status):
        self.asked.append(("submit", request, on_partial, on_status))
        job = Future()
        self.jobs.append(job)
        return job

    def submit_many(self, requests, *, on_done):
        self.asked.append(("submit_many", list(requests), on_done))
        job = Future()
        self.jobs.append(job)
        return job


class Req:
    """A planned request as the runner reads it: only whether it streams."""

    def __init__(self, name, streamed=False):
        self.name, self.streamed = name, streamed

    def __repr__(self):
        return self.name





A, B, S = Req("a"), Req("b"), Req("s", streamed=True)


def test_run_one_returns_its_result_and_tells_the_show_in_order():
    show, result = Told(), Result("g1")
    session = FakeSession({A: result})
    assert runner.run(session, (r for r in [A]), show) is result
    assert show.calls == [("started", [A]), ("on_status", "waiting 2 s"), ("on_done", 0, result),
                          ("finished", result, None)]
    assert session.asked[0][2] is None  # not streamed: no previews asked for
    assert session.asked[0][3] == show.on_status


def test_run_one_streamed_passes_the_previews_on():
    show, result = Told(), Result("g1")
    runner.run(FakeSession({S: result}), [S], show)
    assert show.calls[1] == ("on_partial", 0, "preview")


def test_run_one_error_is_told_and_raised():
    show, error = Told(), Failed("r9")
    with pytest.raises(Failed) as info:
        runner.run(FakeSession({A: error}), [A], show)
    assert info.value is error
    assert show.calls[-2:] == [("on_done", 0, error), ("finished", None, error)]


def test_run_an_interrupt_still_finishes_the_show():
    show = Told()
    with pytest.raises(KeyboardInterrupt):
        runner.run(FakeSession({A: KeyboardInterrupt()}), [A], show)
    assert show.calls[-1][0:2] == ("finished", None)
    assert isinstance(show.calls[-1][2], KeyboardInterrupt)
    assert [c[0] for c in show.calls].count("on_done") == 0  # an interrupt is not a result


def test_run_several_is_a_batch_in_the_order_asked_with_errors_inside():
    show, ok, error = Told(), Result("g1"), Failed("r2")
    batch = runner.run(FakeSession({A: ok, B: error}), [A, B], show)
    assert batch == Batch([ok, error], ("comparison", ("g1", "r2")))
    assert batch.errors == [error]
    assert show.calls == [("started", [A, B]), ("on_done", 1, error), ("on_done", 0, ok), ("finished", batch, None)]


@pytest.mark.parametrize(("requests", "batch", "is_batch"), [
    ([A], None, False), ([A], False, False), ([A], True, True), ([A, B], None, True), ([A, B], True, True),
])
def test_one_request_is_a_batch_only_when_asked(requests, batch, is_batch):
    answers = {A: Result("g1"), B: Result("g2")}
    outcome = runner.run(FakeSession(answers), requests, batch=batch)
    assert isinstance(outcome, Batch) is is_batch


def test_a_batch_without_errors_has_none_and_ids_only_of_what_has_one():
    batch = Batch.of(FakeSession({}), [Result("g1"), ValueError("no id"), Result("g2")])
    assert batch.comparison == ("comparison", ("g1", "g2"))
    assert [type(e) for e in batch.errors] == [ValueError]
    assert Batch.of(FakeSession({}), [Result("g1")]).errors == []


def test_submit_one_returns_the_job_and_tells_the_show_when_it_ends():
    show, result = Told(), Result("g1")
    session = FakeSession({})
    job = runner.submit(session, [S], show)
    assert job is session.jobs[0]
    assert session.asked == [("submit", S, show.on_partial, show.on_status)]
    assert show.calls == [("started", [S])]
    job.set_result(result)
    assert show.calls[1:] == [("on_done", 0, result), ("finished", result, None)]


def test_submit_one_not_streamed_asks_for_no_previews():
    session = FakeSession({})
    runner.submit(session, [A])
    assert session.asked[0][2] is None


def test_submit_one_that_fails_tells_the_error_twice_as_run_does():
    show, error = Told(), Failed("r1")
    job = runner.submit(FakeSession({}), [A], show)
    job.set_exception(error)
    assert show.calls[1:] == [("on_done", 0, error), ("finished", None, error)]


def test_submit_several_finishes_with_a_batch():
    show, ok, error = Told(), Result("g1"), Failed("r2")
    session = FakeSession({})
    job = runner.submit(session, [A, B], show)
    assert session.asked == [("submit_many", [A, B], show.on_done)]
    job.set_result([ok, error])
    assert show.calls[1:] == [("finished", Batch([ok, error], ("comparison", ("g1", "r2"))), None)]


def test_submit_several_that_fails_as_a_whole_tells_the_error_once():
    show, error = Told(), RuntimeError("engine stopped")
    job = runner.submit(FakeSession({}), [A, B], show)
    job.set_exception(error)
    assert show.calls[1:] == [("finished", None, error)]


@pytest.mark.parametrize("requests", [[A], [A, B]])
def test_a_cancelled_job_finishes_the_show_once_with_a_cancelled_error(requests):
    show = Told()
    job = runner.submit(FakeSession({}), requests, show)
    assert job.cancel()
    assert [c[0] for c in show.calls] == ["started", "finished"]
    assert show.calls[1][1] is None and isinstance(show.calls[1][2], CancelledError)


def test_a_job_already_done_tells_the_show_at_once():
    show, result = Told(), Result("g1")
    session = FakeSession({})
    session.submit = lambda request, **kw: _done(result)
    runner.submit(session, [A], show)
    assert show.calls[-1] == ("finished", result, None)


def _done(result):
    job = Future()
    job.set_result(result)
    return job


def test_the_default_show_shows_nothing():
    assert runner.run(FakeSession({A: Result("g1")}), [A]).id == "g1"
    assert isinstance(runner.NO_SHOW, Show)
