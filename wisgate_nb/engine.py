"""The engine: one background thread per kernel that owns an asyncio loop.

Everything that touches the network runs on this loop, so the kernel's own loop is never
blocked, nested or patched. Front doors submit coroutines and get a concurrent Future.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any

POLL_S = 0.05  # how often a blocking wait wakes up to notice an interrupt


class Engine:
    """A daemon thread running an asyncio event loop, started on first use."""

    def __init__(self, name: str = "wisgate-engine"):
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or not self._thread or not self._thread.is_alive():
                self._start()
            return self._loop

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        ready.wait()
        self._loop = loop

    def in_engine_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Run a coroutine on the engine loop; returns at once.

        The future gets a ``wisgate_done`` event, set when the coroutine has really finished
        (after cancellation too), so a waiter can let it record its outcome.
        """
        done = threading.Event()

        async def tracked() -> Any:
            try:
                return await coro
            finally:
                done.set()

        future = asyncio.run_coroutine_threadsafe(tracked(), self.loop)
        future.wisgate_done = done
        return future

    def run(self, coro: Coroutine[Any, Any, Any], *, settle_s: float = 2.0) -> Any:
        """Run a coroutine and wait for it; Ctrl-C / a kernel interrupt cancels it.

        On interrupt the task is cancelled and given up to ``settle_s`` to finish its own
        bookkeeping (the history row), then KeyboardInterrupt propagates.
        """
        future = self.submit(coro)
        return wait(future, settle_s=settle_s)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what is running, stop the loop and join the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return

        async def _shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(_shutdown(), loop).result(timeout)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)


def wait(future: concurrent.futures.Future, *, settle_s: float = 2.0) -> Any:
    """Wait for a future in short slices so that an interrupt lands within POLL_S."""
    try:
        while True:
            try:
                return future.result(timeout=POLL_S)
            except concurrent.futures.TimeoutError:
                continue
    except KeyboardInterrupt as exc:
        future.cancel()
        _settle(future, settle_s)
        raise Cancelled("interrupted: the request was cancelled (recorded in the history as cancelled)") from exc


class Cancelled(KeyboardInterrupt):
    """A blocking wait was interrupted and its request cancelled."""

    def _render_traceback_(self) -> list[str]:
        # IPython formats a full traceback of an interrupt slowly (up to a second on first use);
        # one line is all the user needs, and the cell returns at once.
        return [f"\x1b[31mKeyboardInterrupt\x1b[0m: {self}"]


def _settle(future: concurrent.futures.Future, settle_s: float) -> None:
    # A cancelled concurrent Future is "done" at once, but the task behind it still has to
    # run its cancellation handlers; they signal through this attribute when they are done.
    future.wisgate_done.wait(settle_s)
