"""The runner of the front doors (core/runner.py): plan's checks, run and submit telling a Show, and every door
going through it. Against the demo server on loopback (the `session` fixture) or in-process (`demo_session`)."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import pytest
from conftest import TEST_KEY

import wisgate_nb
from wisgate_nb import cli
from wisgate_nb.core import runner
from wisgate_nb.core.runner import Ask, Batch
from wisgate_nb.emulator import Fault
from wisgate_nb.errors import ConfigurationError, WisGateError
from wisgate_nb.output.shows import Show

SMALL = {"size": "128x128"}


class Recording(Show):
    """A show that writes down what it is told, in order (from any thread)."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.ended = threading.Event()
        self._lock = threading.Lock()

    def _note(self, *call) -> None:
        with self._lock:
            self.calls.append(call)

    def started(self, requests) -> None:
        self._note("started", len(requests))

    def on_partial(self, index: int, blob) -> None:
        self._note("on_partial", index)

    def on_status(self, text: str) -> None:
        self._note("on_status", text)

    def on_done(self, index: int, result) -> None:
        self._note("on_done", index, result)

    def finished(self, outcome, error) -> None:
        self._note("finished", outcome, error)
        self.ended.set()

    def refused(self, error) -> None:
        self._note("refused", error)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls if c[0] != "on_status"]


# -- plan: every refusal before anything is sent -------------------------------------------------------------

@pytest.mark.parametrize("ask, message", [
    (Ask(("one", "two"), endpoint="edits", images=("x.png",)), "exactly one prompt"),
    (Ask(("one",), endpoint="edits", images=("x.png",), vary={"size": ["128x128", "256x256"]}), "no --vary"),
    (Ask(("one",), mask="mask.png"), "--mask goes with --edit"),
    (Ask(("a fox", "a cat"), template="product-shot"), "at most one block"),
    (Ask((), sweep=True), "sweep needs prompts"),
    (Ask(("a fox",), options={"size": "12x12"}), "64 to 4096"),
    (Ask(("a fox", "a cat"), options={"n": 11}), "1 to 10"),
])
def test_plan_refuses_before_anything_is_sent(session, server, ask, message):
    with pytest.raises(ConfigurationError, match=message):
        runner.plan(session, ask)
    assert server.emulator.image_requests == [] and len(session.history) == 0


def test_plan_single_sweep_and_source(session):
    (one,) = runner.plan(session, Ask(("a fox",), options=SMALL, source="cli", tags=("t",)))
    assert one.prompt == "a fox" and one.source == "cli" and one.group is None and one.tags == ("t",)
    several = runner.plan(session, Ask(("a fox", "a cat"), vary={"size": ["128x128", "256x256"]}, source="magic"))
    assert [(r.prompt, r.body["size"]) for r in several] == [("a fox", "128x128"), ("a fox", "256x256"),
                                                             ("a cat", "128x128"), ("a cat", "256x256")]
    assert {r.source for r in several} == {"magic"} and len({r.group for r in several}) == 1
    assert several[0].group.startswith("sweep-")
    (swept,) = runner.plan(session, Ask(("a fox",), options=SMALL, sweep=True))
    assert swept.group is not None  # a sweep of one is still a sweep
    (edit,) = runner.plan(session, Ask(("make it blue",), endpoint="edits", images=(_png(),), options=SMALL))
    assert edit.endpoint == "edits" and len(edit.images) == 1


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buffer, "PNG")
    return buffer.getvalue()


# -- run: the show told in order, finished once ----------------------------------------------------------------

def test_run_one_tells_the_show_in_order_and_returns_the_generation(session, server):
    show = Recording()
    requests = runner.plan(session, Ask(("a lighthouse",), options=SMALL))
    generation = runner.run(session, requests, show)
    assert isinstance(generation, wisgate_nb.Generation) and generation.prompt == "a lighthouse"
    assert show.names() == ["started", "on_done", "finished"]
    assert show.calls[0] == ("started", 1)
    assert show.calls[-2] == ("on_done", 0, generation) and show.calls[-1] == ("finished", generation, None)


def test_run_one_streamed_gives_previews_before_the_end(session, server):
    show = Recording()
    requests = runner.plan(session, Ask(("a comet",), options={**SMALL, "stream": 2}))
    runner.run(session, requests, show)
    names = show.names()
    assert names[0] == "started" and names[-2:] == ["on_done", "finished"]
    assert names.count("on_partial") == 2 and set(names[1:-2]) == {"on_partial"}


def test_run_one_error_reaches_finished_and_is_raised(session, server):
    server.emulator.schedule(Fault("status", status=400, message="bad prompt"))
    show = Recording()
    requests = runner.plan(session, Ask(("a fox",), options=SMALL))
    with pytest.raises(WisGateError) as caught:
        runner.run(session, requests, show)
    assert show.names() == ["started", "on_done", "finished"]
    assert show.calls[-2] == ("on_done", 0, caught.value)
    assert show.calls[-1] == ("finished", None, caught.value)
    assert session.history.records[-1].status == "error"  # and it ended in the history


def test_run_several_gives_a_batch_in_the_order_asked_with_errors_inside(session, server):
    asked = ["a fox", "a cat", "an owl"]
    server.emulator.schedule(Fault("slow", delay=0.5))  # whichever arrives first finishes last
    server.emulator.schedule(Fault("status", status=400, message="not this one"))
    show = Recording()
    batch = runner.run(session, runner.plan(session, Ask(tuple(asked), options=SMALL)), show)
    assert isinstance(batch, Batch)
    ids = [r.record_id if isinstance(r, Exception) else r.id for r in batch.results]
    assert [session.history[i].prompt for i in ids] == asked
    assert len(batch.errors) == 1 and isinstance(batch.errors[0], WisGateError)
    assert [r.prompt for r in batch.comparison.records] == asked
    names = show.names()
    assert names[0] == "started" and names.count("on_done") == 3 and names[-1] == "finished"
    assert names.count("finished") == 1 and show.calls[-1] == ("finished", batch, None)
    assert sorted(c[1] for c in show.calls if c[0] == "on_done") == [0, 1, 2]


def test_run_a_sweep_of_one_is_a_batch(session, server):
    requests = runner.plan(session, Ask(("a fox",), options=SMALL, sweep=True))
    batch = runner.run(session, requests, batch=True)
    assert isinstance(batch, Batch) and [r.prompt for r in batch.comparison.records] == ["a fox"]


# -- submit: the Job at once, the show told when it ends --------------------------------------------------------

def test_submit_returns_the_job_and_tells_the_show_when_it_ends(session, server):
    server.emulator.config.latency = 0.3
    show = Recording()
    job = runner.submit(session, runner.plan(session, Ask(("a fox",), options=SMALL)), show)
    assert show.names() == ["started"]  # nothing else yet: the job runs
    generation = job.result(timeout=20)
    assert show.ended.wait(5)
    assert show.names() == ["started", "on_done", "finished"] and show.calls[-1] == ("finished", generation, None)


def test_submit_several_finishes_with_a_batch(session, server):
    show = Recording()
    job = runner.submit(session, runner.plan(session, Ask(("a fox", "a cat"), options=SMALL)), show)
    results = job.result(timeout=20)
    assert show.ended.wait(5)
    (finished,) = [c for c in show.calls if c[0] == "finished"]
    assert isinstance(finished[1], Batch) and finished[1].results == results and finished[2] is None


def test_submit_refused_by_the_budget_tells_the_show_and_raises(session, server):
    """The budget is checked and reserved as the request goes out: refused there, the show hears ``refused``
    (a --bg cell's line goes), the error is raised, nothing is sent."""
    from wisgate_nb.errors import BudgetExceededError

    session.config.max_images = 1
    requests = runner.plan(session, Ask(("a fox",), options=SMALL))  # fits when planned
    session._reserved_images = 1  # then another request takes the last image
    show = Recording()
    with pytest.raises(BudgetExceededError):
        runner.submit(session, requests, show)
    assert show.names() == ["started", "refused"] and server.emulator.image_requests == []


def test_a_cancelled_job_tells_the_show_once(session, server):
    server.emulator.config.latency = 5.0
    show = Recording()
    job = runner.submit(session, runner.plan(session, Ask(("a fox",), options=SMALL)), show)
    assert job.cancel()
    assert show.ended.wait(10)
    (finished,) = [c for c in show.calls if c[0] == "finished"]
    assert finished[1] is None and isinstance(finished[2], CancelledError)


# -- every door goes through the runner --------------------------------------------------------------------------

@pytest.fixture
def ran(monkeypatch):
    """The runner's run and submit, wrapped: each call's door (the requests' source) is written down."""
    calls: list[tuple[str, str]] = []
    real_run, real_submit = runner.run, runner.submit

    def run(session, requests, show=runner.NO_SHOW, **kwargs):
        calls.append(("run", requests[0].source))
        return real_run(session, requests, show, **kwargs)

    def submit(session, requests, show=runner.NO_SHOW):
        calls.append(("submit", requests[0].source))
        return real_submit(session, requests, show)

    monkeypatch.setattr(runner, "run", run)
    monkeypatch.setattr(runner, "submit", submit)
    return calls


def test_the_api_goes_through_the_runner(session, ran):
    wisgate_nb.generate("a fox", **SMALL)
    wisgate_nb.sweep(["a fox", "a cat"], **SMALL)
    assert ran == [("run", "api"), ("run", "api")]


def test_the_magic_goes_through_the_runner(shell, ran):
    shell.run("%%wisgate_image --size 128x128 --no-display\na fox")
    shell.run("%%wisgate_image --size 128x128 --no-display\na fox\n---\na cat")
    shell.run("%%wisgate_image --size 128x128 --no-display --bg --out later\na fox")
    assert ran == [("run", "magic"), ("run", "magic"), ("submit", "magic")]


def test_the_cli_goes_through_the_runner(session, ran, tmp_path, capsys):
    assert cli.main(["generate", "a fox", "--size", "128x128", "--out", str(tmp_path / "out")]) == 0
    assert ran == [("run", "cli")]
    assert TEST_KEY not in capsys.readouterr().err


def test_the_panel_and_its_edit_box_go_through_the_runner(demo_session, ran):
    from wisgate_nb.widgets import Panel

    panel = Panel(demo_session)
    try:
        panel._prompt.value = "a plain room"
        panel._generate.click()
        panel.wait(20)
        panel.slots[0]._edit_buttons[0].click()
        panel._edit_box._prompt.value = "add a red sofa"
        panel._edit_box._send_button.click()
        panel.wait(20)
    finally:
        panel.close()
    assert ran == [("submit", "panel"), ("submit", "panel")]
    assert [(s.state, s.record.endpoint) for s in panel.slots] == [("ok", "generations"), ("ok", "edits")]


def test_the_magic_binds_several_results_in_the_order_typed_and_raises_the_first_error(shell, session, server):
    server.emulator.schedule(Fault("slow", delay=0.4))  # whichever arrives first finishes last
    shell.run("%%wisgate_image --size 128x128 --no-display --out both\na fox\n---\na cat")
    assert [g.prompt for g in shell.ns["both"]] == ["a fox", "a cat"]
    server.emulator.schedule(Fault("status", status=400, message="not this one"))
    with pytest.raises(WisGateError, match="not this one"):
        shell.run("%%wisgate_image --size 128x128 --no-display --out some\nan owl\n---\na hen")
    assert sum(isinstance(r, WisGateError) for r in shell.ns["some"]) == 1  # bound before the error is raised


def test_plan_again_makes_a_records_request_anew_with_its_kept_inputs(demo_session):
    made = wisgate_nb.generate("a plain room", size="256x256", quality="low")
    edited = wisgate_nb.edit(made, "add a red sofa", size="256x256")
    again = runner.plan_again(demo_session, edited.record, source="panel")
    assert (again.endpoint, again.prompt, again.source, again.body["size"]) == ("edits", "add a red sofa", "panel",
                                                                               "256x256")
    assert len(again.images) == 1 and again.mask is None
    first = runner.plan_again(demo_session, made.record, source="panel")
    assert (first.endpoint, first.body["quality"], first.images) == ("generations", "low", ())
