"""One Session per kernel: the wiring of settings, the engine, one connection pool and the history.

Front doors call ``prepare`` on the main thread — every check happens there, before anything is
submitted — then ``run`` (blocking, interruptible) or ``submit`` (returns a Job at once), which check
the budget again and reserve its images in one step. ``execute`` runs on the engine loop, touches no
disk there, and always ends in the history.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from ..config import WisGate
from ..errors import WisGateError
from ..records import Generation, History, new_id, now_iso
from ..records.reuse import find_reusable
from .clients import Clients
from .engine import Engine, Job, wait
from .recording import base_fields, record_failure, reuse_result, save_result, settled
from .requests import Request, build_request
from .targets import Target, resolve_target

logger = logging.getLogger("wisgate_nb")


class Session:
    """Everything one kernel needs to generate images."""

    def __init__(self, config: WisGate | None = None, *, engine: Engine | None = None,
                 history: History | None = None):
        self.config = config or WisGate()
        self.engine = engine or Engine()
        self._history = history
        self._clients = Clients()  # one client per target, over one connection pool (on the engine loop)
        self._lock = threading.Lock()
        self._reserved_images = 0
        self.last: Generation | None = None
        self._demo_announced = False
        self._semaphore: asyncio.Semaphore | None = None
        self._semaphore_key: tuple | None = None
        self._when_ended: list[weakref.WeakMethod] = []  # e.g. a panel's quota line, after a magic cell's request

    # -- state ---------------------------------------------------------------------------
    @property
    def history(self) -> History:
        with self._lock:
            if self._history is None:
                self._history = History.create(self.config.history_dir)
            return self._history

    def target(self, *, demo: bool | None = None, profile: str | None = None) -> Target:
        """Where requests go now; raises the no-key message when there is neither key nor demo."""
        return resolve_target(self.config, demo=demo, profile=profile)

    def announce_demo(self) -> str | None:
        """A one-time notice that results are demo images."""
        if self._demo_announced:
            return None
        self._demo_announced = True
        return ("wisgate_nb demo mode: images are drawn by the embedded demo server, "
                "with no key and no network. Set a key and demo=False for real images.")

    def stream_fallback(self, target: Target) -> str | None:
        """Why streamed requests to this target are sent without streaming this session, if they are."""
        return self._clients.no_stream.get(target.base_url)

    def prepare(self, prompt: str, **kwargs: Any) -> Request:
        """Validate everything and build a Request (see ``requests.build_request``); nothing is sent."""
        with self._lock:
            reserved = self._reserved_images
        return build_request(self.config, self.history, prompt, reserved=reserved, **kwargs)

    # -- running -------------------------------------------------------------------------
    def run(self, request: Request, *, on_partial: Callable | None = None,
            on_status: Callable | None = None) -> Generation:
        """Send and wait; a kernel interrupt cancels the request and records it as cancelled."""
        return wait(self.submit(request, on_partial=on_partial, on_status=on_status))

    def submit(self, request: Request, *, on_partial: Callable | None = None,
               on_status: Callable | None = None) -> Job:
        """Send in the background; returns the Job of the Generation at once.

        BudgetExceededError here, with nothing reserved or sent, if its images no longer fit.
        """
        return self._send([request], self.execute(request, on_partial=on_partial, on_status=on_status, reserved=True))

    def run_many(self, requests: Sequence[Request], *, on_done: Callable | None = None) -> list:
        """Send several requests concurrently (max_concurrency); results or exceptions, in order."""
        return wait(self.submit_many(requests, on_done=on_done))

    def submit_many(self, requests: Sequence[Request], *, on_done: Callable | None = None) -> Job:
        """``submit`` for several: all of their images are reserved, or none and nothing is sent."""
        requests = list(requests)
        return self._send(requests, self._gather(requests, on_done), asking=f"these {len(requests)} requests ask")

    def _send(self, requests: list[Request], coro, asking: str = "this request asks") -> Job:
        """Check the budget and reserve the images in one step, then hand the coroutine to the engine."""
        images = sum(r.n for r in requests)
        history = self.history
        try:
            with self._lock:  # two threads (a panel click, a background cell) cannot both take the last images
                for request in requests:  # each under its own profile's limit (the same one, mostly)
                    request.budget.check(history, images, reserved=self._reserved_images, asking=asking)
                self._reserved_images += images
        except BaseException:
            coro.close()  # never started: nothing to record
            raise
        try:
            return self.engine.submit(coro)
        except BaseException:
            coro.close()
            self._release(images)
            raise

    async def _gather(self, requests: list[Request], on_done: Callable | None) -> list:
        started: set[int] = set()

        async def one(index: int, request: Request):
            started.add(index)
            try:
                result = await self.execute(request, reserved=True)
            except WisGateError as exc:
                result = exc
            if on_done is not None:
                _safe_call(on_done, index, result)
            return result

        try:  # return_exceptions: a cancel ends the sweep once every request has written its record, not at the first
            results = await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)), return_exceptions=True)
            bug = next((r for r in results if isinstance(r, BaseException) and not isinstance(r, WisGateError)), None)
            if bug is not None:
                raise bug
            return results
        finally:  # a sweep cancelled at once: its requests that never began are recorded and given back too
            for index in sorted(set(range(len(requests))) - started):
                await asyncio.shield(self._never_began(requests[index]))

    async def _never_began(self, request: Request) -> None:
        history = self.history
        base = base_fields(request, new_id(), history.session or "", now_iso())
        try:
            await settled(asyncio.to_thread(record_failure, history, base, time.perf_counter(), "cancelled", None))
        finally:
            self._release(request.n)

    def _slots(self) -> asyncio.Semaphore:
        """The session's request slots on the running engine loop (made again if the loop or limit changed)."""
        key = (id(asyncio.get_running_loop()), self.config.max_concurrency)
        if self._semaphore is None or self._semaphore_key != key:
            self._semaphore, self._semaphore_key = asyncio.Semaphore(self.config.max_concurrency), key
        return self._semaphore

    def _release(self, images: int) -> None:
        with self._lock:
            self._reserved_images = max(0, self._reserved_images - images)

    async def execute(self, request: Request, *, on_partial: Callable | None = None,
                      on_status: Callable | None = None, reserved: bool = False) -> Generation:
        """Send one request on the engine loop and record how it ended, whatever happens."""
        history = self.history
        base = base_fields(request, new_id(), history.session or "", now_iso())
        t0 = time.perf_counter()
        attempts: list[str] = []  # the client adds a word per attempt as it ends, whatever the outcome
        try:
            if request.cache:
                reused = await asyncio.to_thread(find_reusable, history, base["cache_key"])
                if reused is not None:
                    self.last = await settled(asyncio.to_thread(reuse_result, history, request, reused, base, t0))
                    return self.last
            client = self._client(request.target)
            async with self._slots():  # at most max_concurrency requests in flight per session
                if request.endpoint == "generations":
                    response = await client.generate(request.body, on_partial=on_partial, on_status=on_status,
                                                     attempt_log=attempts)
                else:
                    response = await client.edit(request.body, list(request.images), request.mask,
                                                 on_partial=on_partial, on_status=on_status, attempt_log=attempts)
            if response.stream_fallback:  # later cells and the panel do not ask this endpoint to stream
                self._clients.no_stream.setdefault(request.target.base_url, response.stream_fallback)
            latency = time.perf_counter() - t0
            self.last = await settled(save_result(history, request, base, response, latency,
                                                  self.config.thumbnail_px))
            return self.last
        except asyncio.CancelledError:
            await settled(asyncio.to_thread(record_failure, history, base, t0, "cancelled", None, tuple(attempts)))
            raise
        except Exception as exc:  # a WisGateError, or a bug of ours: recorded, then surfaced as is
            await settled(asyncio.to_thread(record_failure, history, base, t0, "error", exc, tuple(attempts)))
            if isinstance(exc, WisGateError):
                exc.record_id = base["id"]  # lets a front door point at the history row
            raise
        finally:
            if reserved:
                self._release(request.n)
            self._ended()

    def when_request_ends(self, method: Callable[[], Any]) -> None:
        """Call ``method()`` (a bound method, held weakly) on the engine thread whenever a request ends."""
        with self._lock:
            self._when_ended = [ref for ref in self._when_ended if ref() is not None] + [weakref.WeakMethod(method)]

    def _ended(self) -> None:
        with self._lock:
            methods = [m for m in (ref() for ref in self._when_ended) if m is not None]
        for method in methods:
            _safe_call(method)

    def _client(self, target: Target, kind: type | None = None):
        """The ImagesClient (or ``kind``: the judge's ChatClient) for the target, made once per settings."""
        return self._clients.get(target, kind)

    def check_endpoint(self, target: Target) -> str:
        """Whether the endpoint answers (GET /models), in words; never raises."""
        async def check() -> str:
            return await self._client(target).check()

        try:
            return wait(self.engine.submit(check()))
        except WisGateError as exc:
            return f"no: {type(exc).__name__}: {exc}"

    def quota(self, target: Target | None = None):
        """What a classroom gateway says is left today (``QuotaLeft``), or None elsewhere; never raises."""
        return wait(self.engine.submit(self.aquota(target)))

    async def aquota(self, target: Target | None = None):
        """``quota()`` on the engine loop (the panel's header asks without blocking anyone)."""
        try:
            target = target or self.target()
        except WisGateError:
            return None
        return None if target.demo else await self._client(target).quota()

    def close(self) -> None:
        """Close the connection pools and stop the engine thread."""
        pools = self._clients.release()

        async def _close() -> None:
            for pool in pools:
                await pool.aclose()

        if pools:
            try:
                self.engine.submit(_close()).result(5)
            except Exception:
                logger.debug("closing the connection pools failed", exc_info=True)
        self.engine.close()

    def __repr__(self) -> str:
        return f"<Session history={self._history!r} demo={self.config.demo}>"


def _safe_call(fn: Callable, *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        logger.warning("a result callback failed", exc_info=True)


# -- the kernel's session -----------------------------------------------------------------
_current: Session | None = None
_current_lock = threading.Lock()


def current() -> Session:
    """The session of this kernel (created on first use)."""
    global _current
    with _current_lock:
        if _current is None:
            _current = Session()
        return _current


def set_current(session: Session | None) -> Session | None:
    """Replace the kernel's session (tests, %reload_ext); returns the previous one."""
    global _current
    with _current_lock:
        previous, _current = _current, session
        return previous
