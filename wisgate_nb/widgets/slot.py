"""The place of one generation in the gallery.

A slot and all its widgets are made on the main thread (in the click handler), one Image per
requested image. The engine thread then only assigns traits: partial previews replace each other
in the same Image, the final thumbnail replaces the last preview, words go into the status line.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError

import ipywidgets as widgets

from ..output import html
from ..output.shows import Show
from ..output.thumbnails import thumbnail_bytes
from . import thumbs
from .words import elapsed, explain, guarded, plural

TILE_WIDTH = "256px"
PREVIEW_PX = 256


class ResultSlot(widgets.VBox):
    """Header, status line, Cancel, and one tile (image, caption, Edit) per requested image."""

    def __init__(self, request, *, title: str | None = None, on_done: Callable | None = None,
                 on_edit: Callable | None = None, report: Callable | None = None):
        self.request = request
        self.future = None
        self.generation = None
        self.record = None
        self.error: BaseException | None = None
        self.state = "running"  # running | ok | error | cancelled
        self.started = time.monotonic()
        self.ended: float | None = None
        self.preview_count = 0
        self.summary = ""  # the final words of the status line
        self.settled = threading.Event()  # set when the result is shown and the panel told
        self._on_done = on_done
        self._on_edit = on_edit
        self._report = report or (lambda exc: None)
        self._lock = threading.Lock()
        self._image_no = 0
        self._last_partial: int | None = None
        n = request.n
        self._phase = f"waiting for {plural(n, 'image')}"
        self.images = tuple(thumbs.new_image() for _ in range(n))
        self._captions = tuple(widgets.Label(f"image {i + 1} of {n}") for i in range(n))
        self._edit_buttons = tuple(self._edit_button(i) for i in range(n))
        self._tiles = tuple(
            widgets.VBox([thumbs.tile(img, TILE_WIDTH), cap, btn],
                         layout=widgets.Layout(width=TILE_WIDTH, min_height="72px", margin="0 8px 8px 0",
                                               border=f"1px dashed {html.BORDER}"))
            for img, cap, btn in zip(self.images, self._captions, self._edit_buttons)
        )
        self._title = title
        self._header = widgets.HTML(self._header_html())
        self._status = widgets.HTML(self._status_html())
        self._cancel = widgets.Button(description="Cancel", icon="stop", tooltip="cancel this generation",
                                      layout=widgets.Layout(width="auto"))
        self._cancel.on_click(guarded(self._on_cancel_click, self._fail))
        super().__init__(
            [widgets.HBox([self._header, self._cancel]), self._status,
             widgets.HBox(self._tiles, layout=widgets.Layout(flex_flow="row wrap"))],
            layout=widgets.Layout(border=f"1px solid {html.BORDER}", padding="6px", margin="0 0 8px 0"),
        )
        self.add_class("wisgate-slot")

    # -- building (main thread) -----------------------------------------------------------
    def _edit_button(self, index: int) -> widgets.Button:
        button = widgets.Button(description="Edit…", icon="pencil", tooltip="edit this image with a prompt",
                                layout=widgets.Layout(width="auto", display="none"))
        button.on_click(guarded(lambda _b: self._on_edit_click(index), self._fail))
        return button

    def _header_html(self) -> str:
        pieces = [(f"{self._title}: ", "muted")] if self._title else []
        pieces.append((html.short(self.request.prompt, 200), "b"))
        if self.record is not None:
            pieces.append((f" · {self.record.id}" + (" · demo image" if self.record.demo else ""), "muted"))
        return html.text_html(pieces, size=13)

    def _status_html(self, text: str | None = None) -> str:
        if text is None:
            text = f"{self._phase} · {elapsed(time.monotonic() - self.started)}"
        return html.text_html(text, tone=html.STATUS_TONES.get(self.state), cls="wisgate-slot-status")

    # -- engine thread: trait assignments only --------------------------------------------
    @property
    def show(self) -> Show:
        """This slot as the runner's Show: previews, retry words and the end come to it."""
        return _Told(self)

    def attach(self, future) -> None:
        """Keep the submitted request's Job (Cancel cancels it); the runner tells ``finished`` when it ends."""
        self.future = future

    def on_partial(self, index: int, blob) -> None:
        """A partial image: it replaces the previous preview of the same image in place."""
        guarded(self._show_partial, self._report)(index, blob)

    def _show_partial(self, index: int, blob) -> None:
        with self._lock:
            if self._last_partial is not None and index <= self._last_partial:
                self._image_no += 1  # partial numbering restarts: the server moved on to the next image
            self._last_partial = index
            which = min(self._image_no, len(self.images) - 1)
            self.preview_count += 1
        data, mime = thumbnail_bytes(blob.data, PREVIEW_PX)
        with self._lock:
            if self.state != "running":
                return
            thumbs.fill(self.images[which], data, mime.split("/")[1],
                        f"preview {index + 1} of " + html.alt_text(self.request.prompt, which + 1, len(self.images)))
            self._captions[which].value = f"image {which + 1}: preview {index + 1}"
            self._phase = f"{which} of {len(self.images)} images · preview {index + 1} of image {which + 1}"
        self.tick()

    def on_status(self, text: str) -> None:
        """Retry and wait words from the client, e.g. 'HTTP 429 (rate limit): waiting 4 s, retry 1 of 2'."""
        self._phase = str(text)
        guarded(self.tick, self._report)()

    def tick(self) -> None:
        """Refresh the elapsed time of a running slot."""
        with self._lock:
            if self.state == "running":
                self._status.value = self._status_html()

    def finished(self, outcome, error: BaseException | None) -> None:
        """The request ended (the runner's Show): its result, its error or its cancel takes the slot."""
        guarded(self._finished, self._fail)(outcome, error)

    def _finished(self, generation, error: BaseException | None) -> None:
        self.ended = time.monotonic()
        try:
            with self._lock:
                if isinstance(error, CancelledError):
                    self._show_cancelled()
                elif error is not None:
                    self._show_error(error)
                else:
                    self._show_result(generation)
        finally:
            try:
                self._cancel.layout.display = "none"
                if self._on_done is not None:
                    self._on_done(self)
            finally:
                self.settled.set()

    def _show_result(self, generation) -> None:
        # Keep the files' paths, not the full-size bytes: a long session must not hold every image in memory.
        self.generation, self.record = dataclasses.replace(generation, data=()), generation.record
        self.state = "ok"
        record = generation.record
        shown = 0
        for i, image in enumerate(self.images):
            found = generation.thumbnail(i)
            if found is None:
                self._tiles[i].layout.display = "none"
                continue
            thumbs.fill(image, found[0], found[1].split("/")[1], thumbs.alt(record, i))
            shown += 1
            bits = [f"{i + 1}/{record.images}", record.size or "", f"{record.latency_s:.1f} s" if record.latency_s else ""]
            self._captions[i].value = " · ".join(b for b in bits if b)
            self._tiles[i].layout.border = "1px solid transparent"
            self._edit_buttons[i].layout.display = None
        self._header.value = self._header_html()
        extra = record.images - shown
        words = f"{shown} of {plural(len(self.images), 'image')} · {elapsed(self.ended - self.started)}"
        if record.reused:
            words += " · reused from the history (cache)"
        if generation.notice:
            words += f" · {generation.notice}"
        if extra > 0:
            words += f" · {extra} more in the history tab"
        self._say(words)

    def _say(self, words: str) -> None:
        self.summary = words
        self._status.value = self._status_html(words)

    def _show_error(self, exc: BaseException) -> None:
        self.error, self.state = exc, "error"
        for tile in self._tiles:
            tile.layout.display = "none"
        self._say(explain(exc))

    def _show_cancelled(self) -> None:
        self.state = "cancelled"
        for tile in self._tiles:
            tile.layout.display = "none"
        self._say(f"cancelled after {elapsed(self.ended - self.started)}")

    def _fail(self, exc: BaseException) -> None:
        """A bug in a callback: shown here and in the panel's status, never lost."""
        self.state, self.error = "error", exc
        self._say(explain(exc))
        self._report(exc)

    # -- user actions (main thread) -------------------------------------------------------
    @property
    def phase(self) -> str:
        """What a running generation is doing, e.g. 'waiting for 2 images'."""
        return self._phase

    @property
    def running(self) -> bool:
        return self.state == "running"

    def cancel(self) -> bool:
        """Cancel the request if it is still running (recorded as cancelled in the history)."""
        if self.future is not None and not self.future.done():
            return self.future.cancel()
        return False

    def _on_cancel_click(self, _button) -> None:
        self.cancel()

    def _on_edit_click(self, index: int) -> None:
        if self._on_edit is not None and self.record is not None:
            self._on_edit(self.record, index)


class _Told(Show):
    """What the runner tells a slot (``ResultSlot.show``)."""

    def __init__(self, slot: ResultSlot):
        self._slot = slot

    def on_partial(self, index: int, blob) -> None:
        self._slot.on_partial(index, blob)

    def on_status(self, text: str) -> None:
        self._slot.on_status(text)

    def finished(self, outcome, error: BaseException | None) -> None:
        self._slot.finished(outcome, error)
