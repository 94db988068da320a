"""The session's insides (issue 29): the budget checked and reserved in one step, one client per target, a
result's decoded images and thumbnails kept in memory, and no blocking disk I/O on the engine loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import CancelledError

import pytest
from bounds import NO_HANG_S
from conftest import TEST_KEY
from reliability_helpers import wait_until

from wisgate_nb import BudgetExceededError, WisGateError
from wisgate_nb.emulator import Fault

# ---- check-and-reserve: one step, under the session's lock, before anything is sent --------------------


@pytest.fixture
def slow_session(session, server):
    """The loopback session, with a server that takes a moment (a request can be seen in flight)."""
    server.emulator.config.latency = 0.3
    return session


def race(requests, submit) -> list:
    """Submit each request from its own thread, all at once; each thread's Job or BudgetExceededError."""
    barrier, outcomes = threading.Barrier(len(requests)), [None] * len(requests)

    def one(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = submit(requests[i])
        except BudgetExceededError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_two_threads_taking_the_last_image_one_wins_the_other_is_refused_before_sending(slow_session, server):
    slow_session.config.max_images = 3
    slow_session.run(slow_session.prepare("two made", size="64x64", n=2))
    # a panel click and a background cell: each planned while the last image was still free
    requests = [slow_session.prepare(f"racer {i}", size="64x64") for i in range(2)]
    outcomes = race(requests, slow_session.submit)
    refused = [o for o in outcomes if isinstance(o, BudgetExceededError)]
    jobs = [o for o in outcomes if not isinstance(o, BudgetExceededError)]
    assert len(refused) == 1 and len(jobs) == 1
    assert "image budget is used up: 3 of max_images=3" in str(refused[0])
    assert slow_session._reserved_images == 1  # the winner's image, in flight
    jobs[0].result(30)
    assert len(server.emulator.image_requests) == 2  # the loser sent nothing
    winner = requests[outcomes.index(jobs[0])]
    assert [r.prompt for r in slow_session.history.records] == ["two made", winner.prompt]
    assert slow_session._reserved_images == 0


def test_a_sweep_reserves_all_of_its_images_or_none(slow_session, server):
    slow_session.config.max_images = 3
    sweep = [slow_session.prepare(p, size="64x64", n=2) for p in ("a", "b")]  # each fits alone, not together
    with pytest.raises(BudgetExceededError, match=r"these 2 requests ask for 4 images, but only 3 of this session's "
                                                  r"max_images=3 are left \(0 used\)"):
        slow_session.submit_many(sweep)
    assert slow_session._reserved_images == 0 and server.emulator.image_requests == []
    assert len(slow_session.history) == 0
    slow_session.run_many([slow_session.prepare(p, size="64x64") for p in ("c", "d", "e")])  # exactly 3: all go
    assert len(server.emulator.image_requests) == 3 and slow_session._reserved_images == 0


def test_a_sweep_and_a_request_racing_for_the_last_images(slow_session, server):
    slow_session.config.max_images = 2
    sweep = [slow_session.prepare(p, size="64x64") for p in ("a", "b")]
    single = slow_session.prepare("single", size="64x64")
    outcomes = race([sweep, single], lambda r: slow_session.submit_many(r) if isinstance(r, list)
                    else slow_session.submit(r))
    assert sum(isinstance(o, BudgetExceededError) for o in outcomes) == 1
    winner = next(o for o in outcomes if not isinstance(o, BudgetExceededError))
    winner.result(30)
    sent = len(server.emulator.image_requests)
    assert sent == (2 if winner is outcomes[0] else 1)
    assert len(slow_session.history) == sent and slow_session._reserved_images == 0


def test_reservations_return_to_zero_after_success_error_and_cancel(slow_session, server):
    slow_session.config.max_images = 10
    slow_session.run(slow_session.prepare("ok", size="64x64", n=2))
    assert slow_session._reserved_images == 0
    server.emulator.schedule(Fault("status", 400))
    with pytest.raises(WisGateError):
        slow_session.run(slow_session.prepare("refused", size="64x64", n=2))
    assert slow_session._reserved_images == 0
    job = slow_session.submit(slow_session.prepare("cancelled", size="64x64", n=2))
    job.cancel()
    with pytest.raises(CancelledError):
        job.result(30)
    assert slow_session._reserved_images == 0
    sweep = slow_session.submit_many([slow_session.prepare(p, size="64x64") for p in ("s1", "s2", "s3")])
    sweep.cancel()  # at once: some of its requests may never have started
    with pytest.raises(CancelledError):
        sweep.result(30)
    assert slow_session._reserved_images == 0
    statuses = [r.status for r in slow_session.history.records]
    assert statuses[:3] == ["ok", "error", "cancelled"]
    assert sorted(statuses[3:]) == ["cancelled"] * 3  # every request of the sweep ends in the history, once


# ---- one client per target: made once for its settings, a changed setting makes a new one --------------


def test_one_client_per_target_made_once_and_again_when_a_setting_changes(session, server, monkeypatch):
    import wisgate_nb.http.client as client_module

    checks = []
    real_check = client_module.check_settings
    monkeypatch.setattr(client_module, "check_settings", lambda *a: checks.append(1) or real_check(*a))
    session.run(session.prepare("one", size="64x64"))
    session.run(session.prepare("two", size="64x64"))
    first = session._client(session.target())
    assert session._clients.constructed == 1 and len(checks) == 1  # its settings checked once, not per request
    session.config.timeout = 30.0
    second = session._client(session.target())
    assert second is not first and second.timeout == 30.0 and session._clients.constructed == 2
    assert second.pacer is first.pacer  # one rate-limit pacer per base URL, whatever its clients
    assert session._client(session.target()) is second
    session.config.api_key = TEST_KEY  # a new Secret of the same key: the same client
    assert session._client(session.target()) is second
    session.config.api_key = "sk-wg-another-key-0000000000"
    third = session._client(session.target())
    assert third is not second and session._clients.constructed == 3
    session.config.max_retries = 0
    assert session._client(session.target()) is not third
    session.config.rate_limit_wait = 5.0
    assert session._client(session.target()).rate_limit_wait == 5.0
    assert session._client(session.target(demo=True)).base_url != third.base_url  # demo: a client of its own
    assert len(checks) == session._clients.constructed == 6
    for text in (repr(session._clients), str(session._clients), repr(session)):
        assert TEST_KEY not in text and "another-key" not in text and "0000" not in text


def test_a_changed_setting_is_used_by_the_next_request(session, server):
    session.run(session.prepare("one", size="64x64"))
    session.config.api_key = "sk-wg-a-wrong-key-1111111111"
    from wisgate_nb.errors import AuthenticationError

    with pytest.raises(AuthenticationError):
        session.run(session.prepare("two", size="64x64"))
    session.config.api_key = TEST_KEY
    session.run(session.prepare("three", size="64x64"))
    assert [r.status for r in session.history.records] == ["ok", "error", "ok"]


# ---- a result keeps what it made in memory: the files are for the history ------------------------------


def count_decodes(monkeypatch) -> list:
    """Every decode of pixels Pillow does from now on (ImageFile.load: reading a header is not one)."""
    from PIL import ImageFile

    decodes = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: decodes.append(im.size) or real_load(im))
    return decodes


def test_a_fresh_result_shows_and_gives_its_images_without_its_files_or_a_decode(session, server, monkeypatch):
    result = session.run(session.prepare("kept in memory", size="256x256", n=2))
    files = [*result.paths, *result.thumbs]
    on_disk = [p.read_bytes() for p in files]
    for path in files:
        path.unlink()
    decodes = count_decodes(monkeypatch)
    images = result.images
    html = result.html()
    thumb, mime = result.thumbnail(1)
    assert decodes == []  # the client's decoded images, the thumbnails drawn for the history: nothing again
    assert [im.size for im in images] == [(256, 256)] * 2 and mime == "image/jpeg"
    assert thumb == on_disk[3] and html.count("data:image/jpeg;base64,") == 2  # the very thumbnails written
    assert result.first_image == on_disk[0]  # an edit of it takes its bytes, not the file
    for path, data in zip(files, on_disk):  # the history's files were exactly those
        path.write_bytes(data)


def test_changing_the_images_changes_neither_the_display_nor_the_files(session, server):
    result = session.run(session.prepare("a picture to paint on", size="64x64"))
    before, file_before = result.html(), result.paths[0].read_bytes()
    result.image.paste((255, 0, 255), (0, 0, 64, 64))
    assert result.html() == before and result.paths[0].read_bytes() == file_before
    assert result.images[0].getpixel((3, 3))[:3] == (255, 0, 255)  # the user's change stays theirs


def test_a_result_from_the_history_reads_its_files(session, server):
    result = session.run(session.prepare("from the history", size="64x64", cache=True))
    reused = session.run(session.prepare("from the history", size="64x64", cache=True))  # nothing sent: files
    assert reused.reused and reused.thumbnails == () and reused.decoded == ()
    assert reused.images[0].tobytes() == result.images[0].tobytes()
    assert reused.thumbnail(0) == result.thumbnail(0) and reused.html().count("data:image/jpeg") == 1
    assert reused.first_image == reused.paths[0]


# ---- no blocking disk I/O on the engine loop; every request ends in the history once ---------------------


def test_the_history_is_written_off_the_engine_loop_and_every_request_once(slow_session, server, monkeypatch):
    """A slow disk (an fsync that takes its time) never stops the engine loop: a tick it runs while the
    history is written still comes. Success, error, cancel and a cached reuse alike."""
    history, ticks, on_loop = slow_session.history, [], []

    def on_the_loop() -> bool:
        try:
            asyncio.get_running_loop()
            return True
        except RuntimeError:
            return False

    def slow(method):
        def wrapped(*args, **kwargs):
            on_loop.append(on_the_loop())
            if not on_loop[-1]:  # the loop is free: a tick it runs comes while this write still waits
                tick = slow_session.engine.submit(asyncio.sleep(0))
                tick.result(NO_HANG_S)
                ticks.append(tick.done())
            return method(*args, **kwargs)
        return wrapped

    for name in ("append", "ensure_folder", "_by_cache_key"):
        monkeypatch.setattr(history, name, slow(getattr(history, name)))
    slow_session.run(slow_session.prepare("made", size="64x64", cache=True))
    assert slow_session.run(slow_session.prepare("made", size="64x64", cache=True)).reused
    server.emulator.schedule(Fault("status", 400))
    with pytest.raises(WisGateError):
        slow_session.run(slow_session.prepare("refused", size="64x64"))
    job = slow_session.submit(slow_session.prepare("cancelled", size="64x64"))
    job.cancel()
    with pytest.raises(CancelledError):
        job.result(NO_HANG_S)
    assert on_loop and not any(on_loop) and len(ticks) == len(on_loop)
    records = list(history)
    assert [(r.prompt, r.status, r.reused) for r in records] == [
        ("made", "ok", False), ("made", "ok", True), ("refused", "error", False), ("cancelled", "cancelled", False)]
    assert len({r.id for r in records}) == 4 and slow_session._reserved_images == 0


def test_a_cancel_while_the_result_is_written_keeps_its_one_record(slow_session, monkeypatch):
    """Cancelled while its files and record are still being written: the write ends, the record is the
    result's own, and no second (cancelled) record follows."""
    history = slow_session.history
    writing, release = threading.Event(), threading.Event()
    real_append = history.append

    def held_append(record):
        if record.status == "ok":
            writing.set()
            release.wait(NO_HANG_S)
        return real_append(record)

    monkeypatch.setattr(history, "append", held_append)
    job = slow_session.submit(slow_session.prepare("cancelled while written", size="64x64"))
    assert writing.wait(NO_HANG_S)
    job.cancel()
    release.set()
    with pytest.raises(CancelledError):
        job.result(NO_HANG_S)
    assert [r.status for r in history] == ["ok"] and slow_session._reserved_images == 0


def test_a_sweep_cancelled_in_flight_ends_once_every_request_is_recorded(slow_session, server, monkeypatch):
    """The sweep's Job ends cancelled only after each of its requests wrote its record (a slow disk too)."""
    history = slow_session.history
    real_append = history.append
    monkeypatch.setattr(history, "append", lambda record: time.sleep(0.05) or real_append(record))
    slow_session.config.max_concurrency = 2
    job = slow_session.submit_many([slow_session.prepare(p, size="64x64") for p in ("a", "b", "c")])
    assert wait_until(lambda: len(server.emulator.image_requests) == 2, timeout=NO_HANG_S)  # two at the server
    job.cancel()
    with pytest.raises(CancelledError):
        job.result(NO_HANG_S)
    assert sorted((r.prompt, r.status) for r in history) == [("a", "cancelled"), ("b", "cancelled"),
                                                            ("c", "cancelled")]
    assert slow_session._reserved_images == 0
