"""The engine: one background thread per kernel that owns an asyncio loop.

Everything that touches the network runs on this loop, so the kernel's own loop is never
blocked, nested or patched. Front doors submit coroutines and get a :class:`Job`, a
``concurrent.futures.Future`` that is done only when its coroutine has really finished.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any

POLL_S = 0.05  # how often a blocking wait wakes up to notice an interrupt
SETTLE_S = 2.0  # how long an interrupted wait lets the cancelled request write its history row


class Job(concurrent.futures.Future):
    """A coroutine running on the engine loop.

    Unlike the future of ``run_coroutine_threadsafe``, ``cancel()`` only asks the task to stop: the
    job becomes cancelled once the task has run its cancellation handlers (the history row), so
    "done" always means "finished and recorded".
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        super().__init__()
        self._loop = loop
        self._task: asyncio.Task | None = None

    def cancel(self) -> bool:
        with self._condition:
            if self.done():
                return False
        self._loop.call_soon_threadsafe(self._cancel_task)
        return True

    def _cancel_task(self) -> None:  # on the engine loop, always after _start (the loop is FIFO)
        # One more turn of the loop first: a task cancelled before its first step would never enter
        # its try block, and a request that never went out must be recorded as cancelled too.
        self._loop.call_soon(self._task.cancel)

    def _start(self, coro: Coroutine) -> None:  # on the engine loop
        self._task = self._loop.create_task(coro)
        self._task.add_done_callback(self._finish)

    def _finish(self, task: asyncio.Task) -> None:
        if task.cancelled():
            super().cancel()
            self.set_running_or_notify_cancel()  # wakes concurrent.futures.wait(), which cancel() does not
        elif task.exception() is not None:
            self.set_exception(task.exception())
        else:
            self.set_result(task.result())


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
        # Its own worker threads, named, so that the engine's work is told apart from a server's in the process.
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(thread_name_prefix=f"{self._name}-worker"))
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_default_executor())  # joins the to_thread() workers
            loop.close()

        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        ready.wait()
        self._loop = loop

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Job:
        """Run a coroutine on the engine loop; returns its Job at once."""
        loop = self.loop
        job = Job(loop)
        loop.call_soon_threadsafe(job._start, coro)
        return job

    def every(self, seconds: float, tick: Callable[[], bool]) -> Job:
        """Call ``tick()`` on the engine loop every ``seconds`` while it returns True (a panel's clock)."""
        async def ticking() -> None:
            while True:
                await asyncio.sleep(seconds)
                if not tick():
                    return

        return self.submit(ticking())

    def run(self, coro: Coroutine[Any, Any, Any], *, settle_s: float = SETTLE_S) -> Any:
        """Run a coroutine and wait for it; Ctrl-C / a kernel interrupt cancels it."""
        return wait(self.submit(coro), settle_s=settle_s)

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


def wait(future: concurrent.futures.Future, *, settle_s: float = SETTLE_S) -> Any:
    """Wait for a job in short slices so that an interrupt lands within POLL_S.

    On interrupt the job is cancelled and given up to ``settle_s`` to record how it ended, then
    :class:`Cancelled` (a KeyboardInterrupt) propagates.
    """
    try:
        while True:
            try:
                return future.result(timeout=POLL_S)
            except concurrent.futures.TimeoutError:
                continue
    except KeyboardInterrupt as exc:
        future.cancel()
        concurrent.futures.wait([future], timeout=settle_s)
        raise Cancelled("interrupted: the request was cancelled (recorded in the history as cancelled)") from exc


class Cancelled(KeyboardInterrupt):
    """A blocking wait was interrupted and its request cancelled."""

    def _render_traceback_(self) -> list[str]:
        # IPython formats a full traceback of an interrupt slowly (up to a second on first use);
        # one line is all the user needs, and the cell returns at once.
        return [f"\x1b[31mKeyboardInterrupt\x1b[0m: {self}"]
