"""Live notebook output from the engine thread: display handles only, never ``print`` or ``with out:``.

A ``DisplayHandle.update`` sent from a background thread reaches the browser (it is addressed by
display id); printed text or an Output widget context from that thread would be lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import html
from .thumbnails import THUMB_PX, data_uri, thumbnail_bytes


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where display handles reach a frontend)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Live:
    """A display area updated in place (no-op outside a kernel)."""

    def __init__(self, html: str, *, enabled: bool = True):
        self._handle = None
        if enabled and in_kernel():
            from IPython.display import HTML, display

            self._handle = display(HTML(html), display_id=True)

    @property
    def active(self) -> bool:
        return self._handle is not None

    def update(self, html: str, metadata: dict | None = None) -> None:
        if self._handle is not None:
            from IPython.display import HTML

            self._handle.update(HTML(html), metadata=metadata or {})

    def update_obj(self, obj) -> None:
        if self._handle is not None:
            self._handle.update(obj)


def preview_callback(live: Live, prompt: str, px: int = THUMB_PX) -> Callable:
    """on_partial(index, blob) that shows the newest partial image in place of the previous one."""

    def on_partial(index: int, blob) -> None:
        data, mime = thumbnail_bytes(blob.data, px)
        tile = html.Tile(data_uri(data, mime), (f"preview {index + 1} · {prompt[:80]}",))
        live.update(html.grid_html([tile]))

    return on_partial


@contextmanager
def previews(request, on_partial: Callable | None) -> Iterator[Callable | None]:
    """Partial previews for a streamed request: the caller's callback, or an in-place display."""
    if on_partial is not None or not request.body.get("stream"):
        yield on_partial
        return
    live = Live(html.status_html(f"waiting for the first preview of: {request.prompt[:80]}"))
    if not live.active:
        yield None
        return
    try:
        yield preview_callback(live, request.prompt)
    finally:
        live.update("")  # the final result is shown by the caller; the previews disappear


@contextmanager
def progress(total: int, *, enabled: bool = True) -> Iterator[Callable]:
    """on_done(index, result) that counts finished requests in a live line."""
    live = Live(html.status_html(f"0 of {total} requests done"), enabled=enabled and total > 1)
    lock = threading.Lock()
    counts = {"done": 0, "failed": 0}

    def on_done(index: int, result) -> None:
        with lock:
            counts["done"] += 1
            counts["failed"] += isinstance(result, Exception)
            failed = f", {counts['failed']} failed" if counts["failed"] else ""
            live.update(html.status_html(f"{counts['done']} of {total} requests done{failed}"))

    yield on_done
