"""How a front door shows its requests while the runner (``core/runner.py``) runs them.

A ``Show`` is told, in this order: ``started(requests)`` (the caller's thread), then from the engine thread
``on_partial(index, blob)`` (a streamed single request's previews), ``on_status(text)`` (retry and wait words),
``on_done(index, result)`` once per request (a Generation, or the error it ended with), and ``finished(outcome,
error)`` exactly once: the Generation (one request) or the batch (several: ``.results`` in the order asked and
their ``.comparison``), or the error that ended the call (a ``CancelledError`` for a cancelled job).

The shows here: ``Show`` (nothing), ``Previews`` and ``Progress`` (the Python API: one request, a sweep),
``Cell`` (a blocking magic cell's live line, replaced by the result), ``Background`` (a ``--bg`` cell's area,
filled in when done), ``Lines`` (the CLI's stderr). The panel's ``ResultSlot`` is a Show too.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError
from typing import Any

from . import html
from .live import Live, Waiting, describe, elapsed, preview_callback


def shown(outcome: Any) -> Any:
    """What displays an outcome: a Generation itself, a batch its Comparison."""
    return getattr(outcome, "comparison", outcome)


class Show:
    """Shows nothing; the base of every show (each method may be left as it is)."""

    def started(self, requests) -> None:
        pass

    def on_partial(self, index: int, blob) -> None:
        pass

    def on_status(self, text: str) -> None:
        pass

    def on_done(self, index: int, result) -> None:
        pass

    def finished(self, outcome, error: BaseException | None) -> None:
        pass

    def refused(self, error: BaseException) -> None:
        """A submitted request refused as it went out (nothing sent; the caller gets ``error`` raised)."""


class _Counts:
    """Several requests' count of done and failed, from any thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self.done = self.failed = 0

    def add(self, result) -> tuple[int, str]:
        """(done so far, ", 2 failed" or "")."""
        with self._lock:
            self.done += 1
            self.failed += isinstance(result, Exception)
            return self.done, f", {self.failed} failed" if self.failed else ""


class Previews(Show):
    """The Python API's for one request: a streamed request's previews in place (or given to the caller's
    ``on_partial``), gone when the call returns. ``live=False``: the caller's callback only."""

    def __init__(self, on_partial: Callable | None = None, *, live: bool = True):
        self._callback = on_partial
        self._live_allowed = live
        self._live: Live | None = None

    def started(self, requests) -> None:
        request = requests[0]
        if self._live_allowed and self._callback is None and request.body.get("stream"):
            self._live = Live(html.status_html(f"waiting for the first preview of: {request.prompt[:80]}"))
            if self._live.active:
                self._callback = preview_callback(self._live, request.prompt)

    def on_partial(self, index: int, blob) -> None:
        if self._callback is not None:
            self._callback(index, blob)

    def finished(self, outcome, error: BaseException | None) -> None:
        if self._live is not None:
            self._live.update("")  # the result is shown by the caller; the previews disappear


class Progress(Show):
    """The Python API's for a sweep (and an experiment's): 'k of N requests done, f failed · 12 s' in a live
    line, when there is more than one request (``enabled=False``: none)."""

    def __init__(self, *, enabled: bool = True):
        self._enabled = enabled
        self._live: Live | None = None
        self._total = 0
        self._counts = _Counts()
        self._started = time.monotonic()

    def started(self, requests) -> None:
        self._total, self._started = len(requests), time.monotonic()
        self._live = Live(html.status_html(f"0 of {self._total} requests done"),
                          enabled=self._enabled and self._total > 1)

    def on_done(self, index: int, result) -> None:
        done, failed = self._counts.add(result)
        self._live.update(html.status_html(f"{done} of {self._total} requests done{failed} · "
                                           f"{elapsed(time.monotonic() - self._started)}"))


class Cell(Show):
    """A blocking magic cell's: a live line (prompt, size, n, seconds, retries; or 'N requests at once · k done')
    until the result takes its place; without a frontend (or ``enabled=False``: --no-display) nothing, or the
    result displayed when ``enabled``."""

    def __init__(self, *, enabled: bool = True):
        self._enabled = enabled
        self._waiting: Waiting | None = None
        self._total = 0
        self._counts = _Counts()

    def started(self, requests) -> None:
        self._total = len(requests)
        what = describe(requests[0]) if self._total == 1 else f"{self._total} requests at once · 0 done"
        self._waiting = Waiting(what, enabled=self._enabled)

    def on_partial(self, index: int, blob) -> None:
        if self._waiting.active:
            self._waiting.on_partial(index, blob)

    def on_status(self, text: str) -> None:
        self._waiting.on_status(text)

    def on_done(self, index: int, result) -> None:
        if self._total > 1:
            done, failed = self._counts.add(result)
            self._waiting.set_what(f"{self._total} requests at once · {done} done{failed}")

    def finished(self, outcome, error: BaseException | None) -> None:
        if error is not None:
            self._waiting.finish()
        elif self._waiting.active:
            self._waiting.finish(shown(outcome))
        elif self._enabled:
            from IPython.display import display

            display(shown(outcome))


class Background(Show):
    """A ``--bg`` cell's: an area saying what runs in the background, filled in with the result (or the error,
    or 'Cancelled') when the job ends; ``keep(outcome)`` is called first (the magic's ``--out``)."""

    def __init__(self, *, enabled: bool = True, keep: Callable[[Any], None] | None = None):
        self._enabled = enabled
        self._keep = keep
        self._area: Live | None = None
        self._preview: Callable | None = None

    def started(self, requests) -> None:
        one = len(requests) == 1
        words = (f"generating in the background: {requests[0].prompt[:100]}" if one
                 else f"{len(requests)} requests running in the background")
        self._area = Live(html.status_html(words), enabled=self._enabled)
        if one and requests[0].streamed:
            self._preview = preview_callback(self._area, requests[0].prompt)

    def on_partial(self, index: int, blob) -> None:
        if self._preview is not None:
            self._preview(index, blob)

    def refused(self, error: BaseException) -> None:
        self._area.update("")  # nothing runs in the background: the raised error says why

    def finished(self, outcome, error: BaseException | None) -> None:
        if isinstance(error, CancelledError):
            self._area.update(html.error_card_html("Cancelled", "cancelled before it finished (recorded in the "
                                                                "history)", tone="warn"))
        elif error is not None:
            self._area.update(html.error_card_html(type(error).__name__, str(error)))
        else:
            if self._keep is not None:
                self._keep(outcome)
            self._area.update_obj(shown(outcome))


class Lines(Show):
    """The CLI's: a line on stderr per preview that arrives."""

    def on_partial(self, index: int, blob) -> None:
        print(f"preview {index + 1} arrived ({blob.width}x{blob.height})", file=sys.stderr, flush=True)
