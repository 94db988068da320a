"""Table tests of the session (core/session.py): the budget checked and reserved in one step, every request
in the history once however it ends, the cache, a sweep, the callbacks, the slots — written so that mutation
testing (README, "Mutation testing"; tools/mutation.sh) finds no change these tests miss.

No socket: the session's demo target is the in-process demo server (``WisGate(demo=True)``), reached through
its transport; its faults are scheduled on it as on the loopback one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import threading
import time
import warnings
from datetime import datetime

import pytest
from bounds import LATENCY_FLOOR

from wisgate_nb.config import WisGate
from wisgate_nb.core import session as sessions
from wisgate_nb.core.session import Session
from wisgate_nb.core.targets import DEMO_BASE_URL, NO_KEY_MESSAGE
from wisgate_nb.emulator import Fault
from wisgate_nb.errors import BudgetExceededError, ConfigurationError, WisGateError
from wisgate_nb.http.chat import ChatClient


@pytest.fixture
def session(tmp_path, monkeypatch):
    for name in ("WISGATE_API_KEY", "WISDOM_GATE_KEY", "WISGATE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no project profiles
    session = Session(WisGate(demo=True, history_dir=str(tmp_path / "runs"), size="256x256", max_retries=0))
    yield session
    session.close()


def emulator(session):
    """The in-process demo server's state (made on first use)."""
    session._client(session.target())
    return session._clients._demo[0].state.emulator


def statuses(session) -> list[str]:
    return [r.status for r in session.history.records]


# ---- state --------------------------------------------------------------------------------------------------


def test_the_history_is_made_once_in_the_history_folder(session, tmp_path):
    assert session._history is None
    history = session.history
    assert history is session.history and history.folder.parent == tmp_path / "runs"
    given = Session(WisGate(demo=True), history=history)
    assert given.history is history and repr(given) == f"<Session history={history!r} demo=True>"


def test_where_requests_go_and_the_one_time_demo_notice(session):
    assert session.target().base_url == DEMO_BASE_URL and session.target().demo
    assert session.announce_demo() == ("wisgate_nb demo mode: images are drawn by the embedded demo server, with no "
                                       "key and no network. Set a key and demo=False for real images.")
    assert session.announce_demo() is None and session.announce_demo() is None
    with pytest.raises(ConfigurationError) as info:
        session.target(demo=False)
    assert str(info.value) == NO_KEY_MESSAGE


def test_a_target_for_a_named_profile(session, tmp_path):
    (tmp_path / "wisgate_nb.toml").write_text('[profiles.staging]\nbase_url = "https://staging.example/v1"\n')
    session.config.api_key = "sk-session-tables-0123456789abcdef"
    target = session.target(demo=False, profile="staging")
    assert (target.base_url, target.profile, target.demo) == ("https://staging.example/v1", "staging", False)
    assert session.target(demo=False).profile is None


def test_a_request_runs_and_ends_in_the_history(session):
    session.config.demo_latency = 0.2
    began = time.perf_counter()
    generation = session.run(session.prepare("a fox"))
    took = time.perf_counter() - began
    assert LATENCY_FLOOR * 0.2 <= generation.record.latency_s <= took  # the request's own time, as it went
    assert generation.record.session == session.history.session
    assert datetime.fromisoformat(generation.record.started_at)
    assert generation is session.last and generation.record == session.history.records[0]
    assert (generation.record.status, generation.record.images, generation.record.demo) == ("ok", 1, True)
    assert generation.paths[0].exists() and session._reserved_images == 0
    assert len(emulator(session).requests) == 1


# ---- the budget: checked and reserved in one step -----------------------------------------------------------


def test_prepare_counts_the_images_in_flight(session):
    session.config.max_images = 4
    session.config.demo_latency = 0.3
    jobs = [session.submit(session.prepare("a fox", n=2)), session.submit(session.prepare("a cat", n=2))]
    assert session._reserved_images == 4  # each request's images add up
    with pytest.raises(BudgetExceededError, match="used up: 4 of max_images=4"):
        session.prepare("a cat")
    [job.result(30) for job in jobs]
    assert session._reserved_images == 0
    with pytest.raises(BudgetExceededError, match="used up: 4 of max_images=4"):  # made, no longer in flight
        session.prepare("a cat")


def test_a_request_that_no_longer_fits_is_refused_with_nothing_reserved_sent_or_recorded(session):
    session.config.max_images = 3
    first, second = session.prepare("a fox", n=2), session.prepare("a cat", n=2)  # each fits alone
    session.config.demo_latency = 0.3
    job = session.submit(first)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(BudgetExceededError) as info:
            session.submit(second)
        gc.collect()
    assert str(info.value).startswith("this request asks for 2 images, but only 1 of this session's max_images=3")
    assert not [w for w in caught if "Session." in str(w.message)]  # the request's coroutine was closed
    assert session._reserved_images == 2
    job.result(30)
    assert statuses(session) == ["ok"] and len(emulator(session).requests) == 1 and session._reserved_images == 0


def test_a_sweep_reserves_all_of_its_images_or_none(session):
    session.config.max_images = 3
    requests = [session.prepare(p) for p in ("a", "b", "c", "d")]
    with pytest.raises(BudgetExceededError) as info:
        session.submit_many(requests)
    assert "these 4 requests ask for 4 images, but only 3" in str(info.value)
    assert session._reserved_images == 0 and len(session.history) == 0
    assert [g.record.status for g in session.run_many(requests[:3])] == ["ok"] * 3
    assert session._reserved_images == 0


def test_an_engine_that_cannot_take_the_request_gives_its_images_back(session, monkeypatch):
    def refuse(coro):
        raise RuntimeError("the engine is gone")

    monkeypatch.setattr(session.engine, "submit", refuse)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="the engine is gone"):
            session.submit(session.prepare("a fox", n=2))
        gc.collect()
    assert session._reserved_images == 0 and not [w for w in caught if "Session." in str(w.message)]


def test_a_request_executed_directly_gives_back_nothing_it_did_not_reserve(session):
    session.config.demo_latency = 2.0
    demo = emulator(session)
    job = session.submit(session.prepare("a fox", n=2))
    while not demo.requests:
        threading.Event().wait(0.01)
    session.config.demo_latency = 0.0
    assert session.engine.run(session.execute(session.prepare("a cat"))).record.status == "ok"
    assert session._reserved_images == 2  # the first request's images are still in flight
    job.result(30)
    assert session._reserved_images == 0


def test_the_slots_follow_the_engine_loop_when_it_is_started_again(session):
    session.config.max_concurrency = 1
    session.config.demo_latency = 0.05
    assert len(session.run_many([session.prepare(p) for p in "ab"])) == 2  # the slot waited for
    session.engine.close()  # the next request starts a new loop
    assert [g.record.status for g in session.run_many([session.prepare(p) for p in "cd"])] == ["ok", "ok"]


def test_giving_back_never_goes_below_nothing(session):
    session._reserved_images = 1
    session._release(3)
    assert session._reserved_images == 0


# ---- every request ends in the history, once ---------------------------------------------------------------


def test_an_error_is_recorded_and_raised_with_its_record_id(session):
    emulator(session).schedule(Fault("status", status=400, message="the prompt is refused"))
    with pytest.raises(WisGateError) as info:
        session.run(session.prepare("a fox", n=2))
    record = session.history.records[0]
    assert (record.status, record.error_type) == ("error", type(info.value).__name__)
    assert "the prompt is refused" in record.error and info.value.record_id == record.id
    assert (record.attempts, record.attempt_statuses) == (1, "400") and session._reserved_images == 0
    assert session.last is None


def test_a_bug_of_ours_is_recorded_and_raised_as_is(session, monkeypatch):
    class Broken:
        async def generate(self, body, **kwargs):
            raise KeyError("oops")

    monkeypatch.setattr(session, "_client", lambda target, kind=None: Broken())
    with pytest.raises(KeyError) as info:
        session.run(session.prepare("a fox"))
    record = session.history.records[0]
    assert (record.status, record.error, record.error_type) == ("error", "KeyError: 'oops'", "KeyError")
    assert not hasattr(info.value, "record_id") and session._reserved_images == 0


def test_a_cancelled_request_is_recorded_as_cancelled_and_gives_its_images_back(session):
    session.config.demo_latency = 5
    job = session.submit(session.prepare("a fox", n=2))
    demo = emulator(session)
    while not demo.requests:
        threading.Event().wait(0.01)
    job.cancel()
    with pytest.raises(concurrent.futures.CancelledError):
        job.result(30)
    record = session.history.records[0]
    assert (record.status, record.error) == ("cancelled", "cancelled by the user") and session._reserved_images == 0
    assert (record.attempts, record.attempt_statuses) == (1, "cancelled")  # the attempt that was in flight


def test_an_edit_sends_its_images_and_records_their_digests(session):
    generation = session.run(session.prepare("a fox"))
    edited = session.run(session.prepare("a fox in a hat", endpoint="edits", images=[generation.data[0]]))
    assert edited.record.endpoint == "edits" and edited.record.inputs == session.prepare(
        "x", endpoint="edits", images=[generation.data[0]]).input_digests
    assert emulator(session).requests[-1].path.endswith("/images/edits")
    assert (edited.record.attempts, edited.record.attempt_statuses) == (1, "200")


def test_an_edit_sends_its_mask_and_tells_its_partial_images(session):
    import io

    from PIL import Image

    image, mask = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(image, format="PNG")
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(mask, format="PNG")
    partials = []
    edited = session.run(session.prepare("a hat", endpoint="edits", images=[image.getvalue()], mask=mask.getvalue(),
                                         stream=True, partial_images=2), on_partial=lambda *a: partials.append(a))
    assert edited.record.mask is not None and len(partials) == 2
    assert "mask" in emulator(session).requests[-1].form


def test_a_failed_edit_records_its_attempts(session):
    generation = session.run(session.prepare("a fox"))
    emulator(session).schedule(Fault("status", status=400, message="no hats"))
    with pytest.raises(WisGateError):
        session.run(session.prepare("a hat", endpoint="edits", images=[generation.data[0]]))
    record = session.history.records[-1]
    assert (record.status, record.attempts, record.attempt_statuses) == ("error", 1, "400")


def test_an_edit_that_did_not_stream_says_so_on_its_status(session):
    import io

    from PIL import Image

    image = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(image, format="PNG")
    emulator(session).config.stream_500 = True
    told = []
    session.run(session.prepare("a hat", endpoint="edits", images=[image.getvalue()], stream=True), on_status=told.append)
    assert len(told) == 1 and told[0].endswith(": asking once more, without streaming")


def test_a_cached_request_reuses_an_identical_result_without_sending(session):
    first = session.run(session.prepare("a fox", cache=True))
    again = session.run(session.prepare("a fox", cache=True))
    other = session.run(session.prepare("a cat", cache=True))
    uncached = session.run(session.prepare("a fox"))
    assert again.record.reused and again.record.id != first.record.id and again.paths != first.paths
    assert [p.read_bytes() for p in again.paths] == [p.read_bytes() for p in first.paths]
    assert (first.record.reused, other.record.reused, uncached.record.reused) == (False, False, False)
    assert len(emulator(session).requests) == 3 and len(session.history) == 4


def test_a_streamed_request_tells_its_partial_images_as_they_come(session):
    partials = []
    generation = session.run(session.prepare("a fox", stream=True, partial_images=2), on_partial=lambda *a: partials.append(a))
    assert len(partials) == 2 and generation.record.status == "ok"


def test_a_stream_the_endpoint_did_not_honour_is_remembered(session):
    assert session.stream_fallback(session.target()) is None
    emulator(session).config.stream_500 = True
    told = []
    first = session.run(session.prepare("a fox", stream=True), on_status=told.append)
    reason = session.stream_fallback(session.target())
    assert first.record.stream_fallback == reason and reason
    assert len(told) == 1 and told[0].endswith(": asking once more, without streaming")
    session._clients.no_stream[session.target().base_url] = "kept"
    session.run(session.prepare("a fox", stream=True))
    assert session.stream_fallback(session.target()) == "kept"  # the first reason stays


# ---- a sweep -------------------------------------------------------------------------------------------------


def test_a_sweep_gives_results_and_errors_in_order_and_tells_each_as_it_ends(session):
    emulator(session).schedule(Fault("status", status=400, message="no"))
    done = []
    results = session.run_many([session.prepare(p) for p in ("a", "b")],
                               on_done=lambda i, r: done.append((i, type(r).__name__)))
    assert isinstance(results[0], WisGateError) and results[1].record.status == "ok"
    assert sorted(done) == [(0, type(results[0]).__name__), (1, "Generation")]
    assert sorted(statuses(session)) == ["error", "ok"] and session._reserved_images == 0


def test_a_failing_callback_is_logged_with_its_traceback_not_raised(session, caplog):
    with caplog.at_level(logging.WARNING, logger="wisgate_nb"):
        results = session.run_many([session.prepare("a")], on_done=lambda i, r: 1 / 0)
    assert results[0].record.status == "ok"
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("WARNING", "a result callback failed")]
    assert caplog.records[0].exc_info[0] is ZeroDivisionError


def test_a_bug_in_a_sweep_is_raised_once_every_request_is_recorded(session, monkeypatch):
    calls = []

    class HalfBroken:
        async def generate(self, body, **kwargs):
            calls.append(body["prompt"])
            if body["prompt"] == "a":
                raise KeyError("oops")
            await asyncio.sleep(0.1)
            raise WisGateError("server said no")

    monkeypatch.setattr(session, "_client", lambda target, kind=None: HalfBroken())
    with pytest.raises(KeyError):
        session.run_many([session.prepare(p) for p in ("a", "b")])
    assert sorted(statuses(session)) == ["error", "error"] and session._reserved_images == 0


def test_a_sweep_cancelled_before_it_began_records_every_request_as_cancelled(session):
    session.config.max_concurrency = 1
    session.config.demo_latency = 5
    requests = [session.prepare(p, n=2) for p in ("a", "b", "c")]
    job = session.submit_many(requests)
    assert session._reserved_images == 6
    job.cancel()
    with pytest.raises(concurrent.futures.CancelledError):
        job.result(30)
    assert statuses(session) == ["cancelled"] * 3 and session._reserved_images == 0
    assert {r.session for r in session.history.records} == {session.history.session}
    assert all(datetime.fromisoformat(r.started_at) for r in session.history.records)
    assert [r.prompt for r in sorted(session.history.records, key=lambda r: r.prompt)] == ["a", "b", "c"]


def test_at_most_max_concurrency_requests_are_in_flight(session, monkeypatch):
    flying, most = [0], [0]

    class Counting:
        async def generate(self, body, **kwargs):
            flying[0] += 1
            most[0] = max(most[0], flying[0])
            await asyncio.sleep(0.05)
            flying[0] -= 1
            raise WisGateError("counted")

    monkeypatch.setattr(session, "_client", lambda target, kind=None: Counting())
    for limit in (2, 1, 3):
        session.config.max_concurrency, most[0] = limit, 0
        session.run_many([session.prepare(str(i)) for i in range(6)])
        assert most[0] == limit


# ---- the end of a request, the endpoint, the gateway's quota, closing ------------------------------------------


class Panel:
    def __init__(self):
        self.ended = []

    def quota_line(self):
        self.ended.append(threading.current_thread().name)


def test_who_asked_is_told_when_each_request_ends_while_it_lives(session, caplog):
    panel, other = Panel(), Panel()
    session.when_request_ends(panel.quota_line)
    session.when_request_ends(other.quota_line)
    session.run(session.prepare("a"))
    del other
    gc.collect()
    emulator(session).schedule(Fault("status", status=400))
    with pytest.raises(WisGateError):
        session.run(session.prepare("b"))
    assert panel.ended == ["wisgate-engine", "wisgate-engine"] and len(session._when_ended) == 2
    session.when_request_ends(panel.quota_line)
    assert len(session._when_ended) == 2  # the dead one was dropped

    class Failing:
        def quota_line(self):
            raise RuntimeError("broken panel")

    failing = Failing()
    session.when_request_ends(failing.quota_line)
    with caplog.at_level(logging.WARNING, logger="wisgate_nb"):
        assert session.run(session.prepare("c")).record.status == "ok"
    assert "a result callback failed" in caplog.text and len(panel.ended) == 4


def test_the_endpoint_check_and_the_quota_never_raise(session, monkeypatch):
    assert session.check_endpoint(session.target()).startswith("yes")

    class Down:
        async def check(self):
            raise ConfigurationError("the endpoint is down")

    monkeypatch.setattr(session, "_client", lambda target, kind=None: Down())
    assert session.check_endpoint(session.target()) == "no: ConfigurationError: the endpoint is down"
    assert session.quota() is None  # the demo has no gateway
    session.config.demo = False
    assert session.quota() is None  # no key: nothing to ask


def test_the_quota_is_asked_of_the_target_given_else_of_the_session_s(session, monkeypatch):
    asked = []

    class Gateway:
        def __init__(self, target):
            self.target = target

        async def quota(self):
            asked.append(self.target.base_url)
            return "12 images left"

    session.config.demo, session.config.api_key = False, "sk-session-tables-0123456789abcdef"
    session.config.base_url = "https://class.example/v1"
    monkeypatch.setattr(session, "_client", lambda target, kind=None: Gateway(target))
    other = session.target()
    other = type(other)(**{**other.__dict__, "base_url": "https://other.example/v1"})
    assert session.quota() == "12 images left" and session.quota(other) == "12 images left"
    assert asked == ["https://class.example/v1", "https://other.example/v1"]


def test_the_judge_s_client_is_of_its_own_kind(session):
    assert type(session._client(session.target(), ChatClient)) is ChatClient
    assert type(session._client(session.target())) is not ChatClient


def test_a_pool_that_fails_to_close_is_logged_and_the_engine_still_stops(session, caplog):
    session.run(session.prepare("a"))

    async def broken():
        raise OSError("socket gone")

    session._clients._demo[1].aclose = broken
    with caplog.at_level(logging.DEBUG, logger="wisgate_nb"):
        session.close()
    assert [r.getMessage() for r in caplog.records] == ["closing the connection pools failed"]
    assert caplog.records[0].exc_info[0] is OSError and session.engine._thread is None


def test_close_closes_the_pools_and_stops_the_engine(session):
    session.run(session.prepare("a"))
    pool = session._clients._demo[1]
    session.close()
    assert pool.is_closed and session.engine._thread is None and session._clients._demo is None


def test_the_kernel_s_session_is_made_once_and_can_be_replaced(session):
    previous = sessions.set_current(None)
    try:
        made = sessions.current()
        assert isinstance(made, Session) and sessions.current() is made
        assert sessions.set_current(session) is made and sessions.current() is session
        made.close()
    finally:
        sessions.set_current(previous)
