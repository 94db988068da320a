"""Table tests of the engine (core/engine.py): one loop thread, Jobs that are done only once their coroutine
has really finished (a cancelled request has written its record), an interruptible wait — written so that
mutation testing (README, "Mutation testing"; tools/mutation.sh) finds no change these tests miss.

No server and no kernel: plain coroutines on the engine loop; an interrupt is ``_thread.interrupt_main``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest
from bounds import INTERRUPT_S

from wisgate_nb.core.engine import Cancelled, Engine, Job, wait


@pytest.fixture
def engine():
    engine = Engine("test-engine")
    yield engine
    engine.close()


async def where() -> tuple[str, str]:
    """The thread a coroutine runs on, and the thread of its to_thread work."""
    worker = await asyncio.to_thread(lambda: threading.current_thread().name)
    return threading.current_thread().name, worker


async def waits_then_records(recorded: list, *, started: threading.Event | None = None, records_in: float = 0.0):
    """A request that waits; cancelled, it takes ``records_in`` seconds to write its history row ("cancelled"
    appended to ``recorded``) before the cancel goes on. ``started`` is set once it runs."""
    try:
        if started is not None:
            started.set()
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        if records_in:
            await asyncio.sleep(records_in)
        recorded.append("cancelled")
        raise


def test_a_coroutine_runs_on_the_engine_s_own_thread_and_its_workers_are_named(engine):
    job = engine.submit(where())
    assert isinstance(job, Job) and isinstance(job, concurrent.futures.Future)
    thread, worker = job.result(5)
    assert thread == "test-engine" and worker.startswith("test-engine-worker")
    assert engine.run(where())[0] == "test-engine"
    assert Engine()._name == "wisgate-engine"


def test_the_loop_starts_on_first_use_and_again_after_close():
    engine = Engine("lazy-engine")
    assert engine._loop is None and engine._thread is None  # nothing started by making it
    try:
        first = engine.loop
        assert engine.loop is first and engine._thread.daemon and engine._thread.is_alive()
        engine.close()
        assert engine._loop is None and not any(t.name == "lazy-engine" and t.is_alive() for t in threading.enumerate())
        engine.close()  # twice: nothing to do
        assert engine.run(where())[0] == "lazy-engine" and engine.loop is not first
    finally:
        engine.close()


def test_a_job_gives_the_coroutine_s_result_or_its_error(engine):
    async def fails():
        raise LookupError("missing")

    assert engine.run(asyncio.sleep(0, result="ok")) == "ok"
    job = engine.submit(fails())
    assert isinstance(job.exception(5), LookupError)
    with pytest.raises(LookupError, match="missing"):
        engine.run(fails())


def test_a_cancelled_job_is_done_only_once_its_coroutine_has_recorded_the_cancel(engine):
    recorded, started = [], threading.Event()
    job = engine.submit(waits_then_records(recorded, started=started, records_in=0.1))  # writing its history row
    started.wait(5)
    assert job.cancel() is True
    assert not job.cancelled() or recorded  # not done before its record
    done, _ = concurrent.futures.wait([job], timeout=30)  # woken by the cancel, not by the timeout
    assert job in done and job.cancelled() and recorded == ["cancelled"]
    assert job.cancel() is False  # done already


def test_a_job_cancelled_before_its_first_step_still_runs_its_handler(engine):
    recorded = []
    for _ in range(20):  # cancelled at once, from this thread, every time
        job = engine.submit(waits_then_records(recorded))
        job.cancel()
        concurrent.futures.wait([job], timeout=30)
        assert job.cancelled()
    assert recorded == ["cancelled"] * 20


def test_a_finished_job_cannot_be_cancelled(engine):
    job = engine.submit(asyncio.sleep(0, result=1))
    assert job.result(5) == 1 and job.cancel() is False and not job.cancelled()


def test_every_ticks_until_told_to_stop(engine):
    ticks = []

    def tick() -> bool:
        ticks.append(threading.current_thread().name)
        return len(ticks) < 3

    job = engine.every(0.01, tick)
    assert job.result(5) is None and ticks == ["test-engine"] * 3


def test_close_cancels_what_is_running_and_lets_it_record(engine):
    recorded, started = [], threading.Event()
    job = engine.submit(waits_then_records(recorded, started=started))
    started.wait(5)
    engine.close()
    assert recorded == ["cancelled"] and job.cancelled()
    assert not engine._thread and not any(t.name == "test-engine" and t.is_alive() for t in threading.enumerate())


def interrupted_after(job: Job, seconds: float) -> list[float]:
    """A kernel interrupt ``seconds`` from now, as the main thread meets it: when its wait for the job next
    wakes up (Python runs a signal's handler between two steps of the main thread, not inside a blocked one).
    Returns the list that gets the interrupt's time."""
    at, result = time.perf_counter() + seconds, job.result
    interrupted: list[float] = []

    def result_or_interrupt(timeout=None):
        try:
            return result(timeout)
        finally:
            if time.perf_counter() >= at and not interrupted:
                interrupted.append(at)
                raise KeyboardInterrupt

    job.result = result_or_interrupt
    return interrupted


def test_close_lets_every_running_request_record_its_cancel_not_only_the_first(engine):
    recorded, started = [], threading.Barrier(3)

    async def request(name: str, records_in: float):
        try:
            await asyncio.to_thread(started.wait, 5)
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(records_in)  # writing its history row
            recorded.append(name)
            raise

    jobs = [engine.submit(request("quick", 0.01)), engine.submit(request("slow", 0.3))]
    started.wait(5)
    engine.close()
    assert recorded == ["quick", "slow"] and all(job.cancelled() for job in jobs)


def test_an_interrupt_cancels_the_waited_job_lets_it_record_then_says_so(engine):
    recorded, started = [], threading.Event()
    job = engine.submit(waits_then_records(recorded, started=started, records_in=0.2))  # its row takes a moment
    started.wait(5)
    interrupted_after(job, 0.05)
    with pytest.raises(Cancelled) as info:
        wait(job)
    assert recorded == ["cancelled"] and job.cancelled()  # within SETTLE_S
    assert str(info.value) == "interrupted: the request was cancelled (recorded in the history as cancelled)"
    assert isinstance(info.value, KeyboardInterrupt) and isinstance(info.value.__cause__, KeyboardInterrupt)
    assert info.value._render_traceback_() == [f"\x1b[31mKeyboardInterrupt\x1b[0m: {info.value}"]


def test_an_interrupt_lands_within_a_poll(engine):
    job = engine.submit(asyncio.sleep(30))
    interrupted = interrupted_after(job, 0.1)
    with pytest.raises(Cancelled):
        wait(job, settle_s=0)
    assert time.perf_counter() - interrupted[0] < INTERRUPT_S  # the wait wakes up often to notice it


@pytest.mark.parametrize(("records_after", "settle_s", "recorded"), [
    (2.1, 4.0, ["cancelled"]),  # recorded while the wait lets it: longer than the default SETTLE_S of 2 s
    (2.0, 0.1, []),  # the wait does not wait for it longer than settle_s
])
def test_an_interrupted_run_gives_the_cancel_settle_s_and_no_more(engine, monkeypatch, records_after, settle_s,
                                                                    recorded):
    written = []
    submit = engine.submit
    monkeypatch.setattr(engine, "submit", lambda coro: _interrupted(submit(coro)))  # Engine.run makes its job
    with pytest.raises(Cancelled):
        engine.run(waits_then_records(written, records_in=records_after), settle_s=settle_s)
    assert written == recorded


def _interrupted(job: Job) -> Job:
    """The job, with an interrupt 0.05 s from now as its waiter meets it."""
    interrupted_after(job, 0.05)
    return job


def test_an_engine_closed_has_closed_its_loop_and_joined_its_workers(engine):
    assert engine.run(where())[1].startswith("test-engine-worker")
    loop = engine.loop
    engine.close()
    assert loop.is_closed()
    assert not [t.name for t in threading.enumerate() if t.name.startswith("test-engine-worker") and t.is_alive()]
