"""Live notebook output from the engine thread: display handles only, never ``print`` or ``with out:``.

A ``DisplayHandle.update`` sent from a background thread reaches the browser (it is addressed by
display id); printed text or an Output widget context from that thread would be lost.

``Waiting`` is the blocking magic's live line: what is being made, for how long, retries and waits.
The main thread replaces it with the result when the call returns, so an executed notebook (which
keeps only what arrived while its cell ran) ends with the result in that very output.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from . import html
from .thumbnails import THUMB_PX, data_uri, image_size, thumbnail_bytes

TICK_S = 1.0  # how often a waiting line's elapsed time moves on


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where display handles reach a frontend)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def elapsed(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``2 min 05 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


class Live:
    """A display area updated in place (no-op outside a kernel)."""

    def __init__(self, html: str, *, enabled: bool = True, text: str = ""):
        self._handle = None
        if enabled and in_kernel():
            from IPython.display import display

            self._handle = display({"text/html": html, "text/plain": text}, raw=True, display_id=True)

    @property
    def active(self) -> bool:
        return self._handle is not None

    def update(self, html: str, metadata: dict | None = None, *, text: str = "") -> None:
        if self._handle is not None:
            self._handle.update({"text/html": html, "text/plain": text}, raw=True, metadata=metadata or {})

    def update_obj(self, obj) -> None:
        if self._handle is not None:
            self._handle.update(obj)


def describe(request) -> str:
    """What a request makes, in a few words: prompt, size, n, quality."""
    body = request.body
    bits = [repr(html.short(request.prompt, 80)), str(body.get("size") or ""), f"n={request.n}",
            str(body.get("quality") or "")]
    return " · ".join(b for b in bits if b)


class Waiting:
    """A live line while a blocking call waits: ``generating 'a fox' · 1024x1024 · n=2 · 3.0 s · retry…``.

    Ticks on its own thread (display updates only); ``finish`` (main thread) stops the ticks first and
    then puts the result, or nothing, in the line's place.
    """

    def __init__(self, what: str, *, enabled: bool = True, tick_s: float = TICK_S):
        self._what = what
        self._status = ""  # the client's newest retry/wait words
        self._preview = ""  # the newest partial image, as HTML
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._live = Live(self._html(), enabled=enabled, text=self._text())
        if self._live.active:
            threading.Thread(target=self._ticks, args=(tick_s,), name="wisgate-waiting", daemon=True).start()

    @property
    def active(self) -> bool:
        return self._live.active

    def _text(self) -> str:
        words = f"{self._what} · {elapsed(time.monotonic() - self._started)}"
        return words + (f" · {self._status}" if self._status else "")

    def _html(self) -> str:
        return self._preview + html.text_html(f"generating {self._text()}", tone="muted",
                                              cls="wisgate-nb wisgate-waiting")

    def _refresh(self) -> None:
        with self._lock:
            if not self._stop.is_set():
                self._live.update(self._html(), text=self._text())

    def _ticks(self, tick_s: float) -> None:
        while not self._stop.wait(tick_s):
            self._refresh()

    def set_what(self, what: str) -> None:
        self._what = what
        self._refresh()

    def on_status(self, text: str) -> None:
        """Retry and wait words from the client, e.g. 'HTTP 429 (rate limit): waiting 4 s, retry 1 of 2'."""
        self._status = str(text)
        self._refresh()

    def on_partial(self, index: int, blob) -> None:
        """A partial image: shown above the line, in place of the previous one."""
        data, mime = thumbnail_bytes(blob.data, THUMB_PX)
        result = html.Result((html.Tile(data_uri(data, mime), size=image_size(data)),), (f"preview {index + 1}",))
        self._preview = html.grid_html([result])
        self._refresh()

    def finish(self, result=None) -> None:
        """Stop ticking; the result (anything IPython displays) replaces the line, or the line goes."""
        with self._lock:
            self._stop.set()
        if result is not None:
            self._live.update_obj(result)
        else:
            self._live.update("")


def preview_callback(live: Live, prompt: str, px: int = THUMB_PX) -> Callable:
    """on_partial(index, blob) that shows the newest partial image in place of the previous one."""

    def on_partial(index: int, blob) -> None:
        data, mime = thumbnail_bytes(blob.data, px)
        tile = html.Tile(data_uri(data, mime), size=image_size(data))
        result = html.Result((tile,), (f"preview {index + 1} · {prompt[:80]}",))
        live.update(html.grid_html([result]))

    return on_partial
