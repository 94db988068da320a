"""The panel: options, Generate and Cancel, a status line, a gallery of results and a history tab.

Click handlers run on the main thread: they validate (``session.prepare``), make the result's widgets
and submit; the request runs on the engine thread, so the kernel is free at once. Everything after
that is trait assignment from the engine thread (see ``slot.py``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable
from html import escape

import ipywidgets as widgets

from .. import render
from ..errors import ConfigurationError
from ..session import current
from .edit import EditBox
from .history_tab import HistoryTab
from .picker import TemplatePicker
from .slot import ResultSlot
from .thumbs import ThumbStore
from .words import elapsed, explain, guarded, plural, totals_line

SIZES = ("1024x1024", "1536x1024", "1024x1536", "512x512", "auto")
CUSTOM = "custom"
QUALITIES = (("server default", ""), ("low", "low"), ("medium", "medium"), ("high", "high"), ("auto", "auto"))
FORMATS = (("server default", ""), ("png", "png"), ("jpeg", "jpeg"), ("webp", "webp"))
MODELS = ("gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2")
PARTIALS = 2  # partial previews per image when streaming
MAX_SLOTS = 20  # results kept in the gallery (all stay in the history tab)
PROMPT_HINT = "Describe the image, e.g. 'a lighthouse on a cliff at dusk, oil painting'"
TEMPLATE_HINT = "Optional: extra detail added to the template's prompt"
_STATUS_STYLE = "font-family:sans-serif;font-size:12px;min-height:18px"


class Panel(widgets.VBox):
    """Generate images by clicking; the kernel stays free while they are made."""

    def __init__(self, session=None):
        self._session = session if session is not None else current()
        self._store = ThumbStore()
        self._slots: list[ResultSlot] = []
        self._lock = threading.Lock()
        self._activity = "ready"
        self._problem: str | None = None
        self._unseen = 0
        self._ticker = _Ticker(guarded(self._tick, self._report_error))
        self._build_form()
        self._edit_box = EditBox(self._session, send=self._start, options=self._options, report=self._report_error)
        self._gallery = widgets.VBox()
        self._gallery.add_class("wisgate-gallery")
        self._history_tab = HistoryTab(self._session, self._store, rerun=self._rerun, report=self._report_error)
        super().__init__(self._layout())
        self.add_class("wisgate-panel")
        if self._session.config.demo:
            self._activity = "demo mode: images are drawn by the built-in demo server (no key, no network)"
        self._render_status()
        self._refresh_totals()

    # -- building (main thread) -----------------------------------------------------------
    def _build_form(self) -> None:
        """The option widgets, starting from the session's settings (the panel keeps its own copies)."""
        cfg = self._session.config
        report = self._report_error
        self._template = TemplatePicker(report, on_change=self._on_template_change)
        self._prompt = widgets.Textarea(placeholder=PROMPT_HINT, layout=widgets.Layout(width="100%", height="80px"))
        self._model = widgets.Combobox(value=cfg.model, options=list(dict.fromkeys((cfg.model, *MODELS))),
                                       ensure_option=False, description="model")
        size = cfg.size or "1024x1024"
        self._size = widgets.Dropdown(options=[*SIZES, CUSTOM], value=size if size in SIZES else CUSTOM,
                                      description="size", layout=widgets.Layout(width="220px"))
        self._custom_size = widgets.Text(value="" if size in SIZES else size, placeholder="WxH, e.g. 1280x720",
                                         layout=widgets.Layout(width="160px"), disabled=size in SIZES)
        self._n = widgets.IntSlider(value=cfg.n, min=1, max=10, description="n")
        self._quality = widgets.Dropdown(options=_with(QUALITIES, cfg.quality), value=cfg.quality or "",
                                         description="quality", layout=widgets.Layout(width="220px"))
        self._format = widgets.Dropdown(options=_with(FORMATS, cfg.output_format), value=cfg.output_format or "",
                                        description="format", layout=widgets.Layout(width="220px"))
        self._stream = widgets.Checkbox(value=False, description="stream previews", indent=False)
        self._generate = widgets.Button(description="Generate", icon="play", button_style="primary",
                                        tooltip="send the prompt; the notebook stays free while it works")
        self._cancel = widgets.Button(description="Cancel", icon="stop", tooltip="cancel every running generation")
        self._status = widgets.HTML()
        for widget, name in ((self._prompt, "prompt"), (self._generate, "generate"), (self._cancel, "cancel"),
                             (self._status, "status")):
            widget.add_class(f"wisgate-{name}")  # stable hooks for browser tests and custom CSS
        self._totals = widgets.HTML()
        self._size.observe(guarded(self._on_size_change, report), names="value")
        self._generate.on_click(guarded(self._on_generate_click, report))
        self._cancel.on_click(guarded(self._on_cancel_click, report))

    def _layout(self) -> list[widgets.Widget]:
        form = widgets.VBox([
            self._template,
            self._prompt,
            widgets.HBox([self._model, self._size, self._custom_size], layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self._n, self._quality, self._format, self._stream],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self._generate, self._cancel]),
            self._status,
        ])
        hint = widgets.HTML('<div style="font-family:sans-serif;font-size:11px;color:#888">Widgets are not kept '
                            "in a saved notebook: run <code>.snapshot()</code> on this panel in a cell for a "
                            "static copy of its results.</div>")
        page = widgets.VBox([form, self._edit_box, self._gallery, hint])
        self._tabs = widgets.Tab(children=[page, self._history_tab], titles=["Generate", "History"])
        self._tabs.observe(guarded(self._on_tab_change, self._report_error), names="selected_index")
        title = widgets.HTML('<b style="font-family:sans-serif">wisgate_nb</b>')
        return [widgets.HBox([title, self._totals], layout=widgets.Layout(justify_content="space-between")),
                self._tabs]

    # -- handlers (main thread) -----------------------------------------------------------
    def _on_generate_click(self, _button) -> None:
        self._problem = None
        self._start(self._request())

    def _on_cancel_click(self, _button) -> None:
        cancelled = sum(slot.cancel() for slot in self.running)
        self._activity = f"cancelled {plural(cancelled, 'generation')}" if cancelled else "nothing is running"
        self._render_status()

    def _on_size_change(self, change) -> None:
        self._custom_size.disabled = change["new"] != CUSTOM

    def _on_template_change(self, name: str | None) -> None:
        self._prompt.placeholder = PROMPT_HINT if name is None else TEMPLATE_HINT

    def _on_tab_change(self, change) -> None:
        if change["new"] == 1:
            self._unseen = 0
            self._history_tab.refresh()

    def _options(self) -> dict:
        """The panel's options as ``session.prepare`` takes them (never written to session.config)."""
        size = self._custom_size.value.strip() if self._size.value == CUSTOM else self._size.value
        if self._size.value == CUSTOM and not size:
            raise ConfigurationError("type a custom size as WIDTHxHEIGHT, e.g. 1280x720")
        options = {"model": self._model.value.strip() or None, "size": size, "n": self._n.value,
                   "quality": self._quality.value or None, "output_format": self._format.value or None}
        if self._stream.value:
            options.update(stream=True, partial_images=PARTIALS)
        return options

    def _request(self):
        """A validated request from the form (ConfigurationError, shown in the status, if not valid)."""
        prompt, template = self._template.render(self._prompt.value)
        return self._session.prepare(prompt, source="panel", template=template, **self._options())

    def _start(self, request, title: str | None = None) -> ResultSlot:
        """Submit a request and give it its own place at the top of the gallery."""
        slot = ResultSlot(request, title=title, on_done=guarded(self._slot_done, self._report_error),
                          on_edit=self._edit_box.show_for, report=self._report_error)
        slot.attach(self._session.submit(request, on_partial=slot.on_partial, on_status=slot.on_status))
        with self._lock:
            self._slots.append(slot)
        self._gallery.children = (slot, *self._gallery.children[: MAX_SLOTS - 1])
        self._ticker.start()
        self._tick()
        return slot

    def _rerun(self, record) -> ResultSlot:
        """Generate again with a record's prompt and options."""
        if record.endpoint != "generations":
            raise ConfigurationError(f"{record.id} is an edit; its input image is not kept, so it cannot be re-run "
                                     "from here: press Edit… under the image instead")
        request = self._session.prepare(record.prompt, source="panel", template=record.template, model=record.model,
                                        **dict(record.params))
        self._tabs.selected_index = 0
        return self._start(request, title=f"re-run of {record.id}")

    # -- any thread: trait assignments only -----------------------------------------------
    def _slot_done(self, slot: ResultSlot) -> None:
        if slot.record is not None:
            self._store.register(slot.record.id, slot.images[: slot.record.images])
        if slot.state == "error":
            self._problem = explain(slot.error)
        elif not self.running:
            self._activity = {"ok": f"done: {slot.summary}", "cancelled": "cancelled"}.get(slot.state, "")
        self._unseen += 1
        self._history_tab.mark_stale(self._unseen)
        self._refresh_totals()
        self._render_status()

    def _tick(self) -> bool:
        """Refresh elapsed times; True while something is still running or finishing."""
        running = self.running
        for slot in running:
            slot.tick()
        if running:
            longest = max(time.monotonic() - s.started for s in running)
            what = f" · {running[0].phase}" if len(running) == 1 else ""
            self._activity = f"working: {plural(len(running), 'generation')} in flight · {elapsed(longest)}{what}"
            self._render_status()
            return True
        settling = [s for s in self.slots if s.future is not None and not _settled(s.future)]
        if not settling:
            self._refresh_totals()  # cancelled requests are recorded after their future is done
        return bool(settling)

    def _report_error(self, exc: BaseException) -> None:
        self._problem = explain(exc)
        self._render_status()

    def _render_status(self) -> None:
        problem = (f'<div style="color:#a00000">{escape(self._problem)}</div>' if self._problem else "")
        self._status.value = (f'<div style="{_STATUS_STYLE}"><div style="color:#555">{escape(self._activity)}</div>'
                              f"{problem}</div>")

    def _refresh_totals(self) -> None:
        session = self._session
        totals = session.history.totals(session.config.prices or None)
        style = "font-family:sans-serif;font-size:12px;color:#666"
        self._totals.value = f'<span style="{style}">{escape(totals_line(totals))}</span>'

    # -- public ------------------------------------------------------------------------------
    @property
    def slots(self) -> list[ResultSlot]:
        """Every generation started from this panel, oldest first."""
        with self._lock:
            return list(self._slots)

    @property
    def running(self) -> list[ResultSlot]:
        return [s for s in self.slots if s.running]

    @property
    def record_ids(self) -> list[str]:
        """History ids of this panel's successful results, oldest first."""
        return [s.record.id for s in self.slots if s.record is not None]

    def generate(self, prompt: str, **options) -> ResultSlot:
        """Fill the form and press Generate from code (for tutorials and scripts); returns the result's slot.

        Options are the form's fields: size, n, quality, model, output_format, stream. Invalid values
        raise ConfigurationError and nothing is sent.
        """
        fields = {"size": self._size, "n": self._n, "quality": self._quality, "model": self._model,
                  "output_format": self._format, "stream": self._stream}
        unknown = sorted(set(options) - set(fields))
        if unknown:
            raise ConfigurationError(f"the panel has no field {', '.join(unknown)}; it has {', '.join(fields)}")
        self._prompt.value = prompt
        for name, value in options.items():
            widget = fields[name]
            if name == "size" and value not in [o[1] if isinstance(o, tuple) else o for o in widget.options]:
                widget.value, self._custom_size.value = CUSTOM, str(value)
            else:
                try:
                    widget.value = value
                except Exception as exc:  # a traitlets error: the value is not one of the choices
                    raise ConfigurationError(f"the panel's {name} cannot be {value!r}: {exc}") from None
        self._problem = None
        return self._start(self._request())

    def wait(self, timeout: float | None = None) -> list[ResultSlot]:
        """Block until every generation of this panel has ended (for scripts and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for slot in self.slots:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            _settled(slot.future, left)
            slot.settled.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return self.slots

    def snapshot(self, title: str | None = None):
        """A static side-by-side record of this panel's results, to keep in the saved notebook."""
        ids = self.record_ids
        if not ids:
            from IPython.display import HTML

            return HTML(render.status_html("the panel has no results yet: generate something first"))
        comparison = self._session.history.compare(ids=ids)
        comparison.title = title or f"wisgate_nb panel: {plural(len(ids), 'result')}"
        return comparison

    def close(self) -> None:
        """Cancel what is running and close the panel's widget."""
        for slot in self.running:
            slot.cancel()
        super().close()


def _with(options: tuple, value: str | None) -> list:
    """Dropdown options, plus the session's value if it is not among them."""
    if value and value not in {v for _, v in options}:
        return [*options, (value, value)]
    return list(options)


def _settled(future, timeout: float | None = 0.0) -> bool:
    """True once a request has really ended (a cancelled one has also written its history row)."""
    if future is None:
        return True
    done = getattr(future, "wisgate_done", None)
    if done is not None:
        return done.wait(timeout)
    with contextlib.suppress(concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
        future.exception(timeout=timeout)
    return future.done()


class _Ticker:
    """A daemon thread that calls ``tick`` twice a second while it returns True."""

    def __init__(self, tick: Callable[[], bool], interval: float = 0.5):
        self._tick = tick
        self._interval = interval
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._kicked = False

    def start(self) -> None:
        with self._lock:
            self._kicked = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wisgate-panel-ticker", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            busy = self._tick()
            with self._lock:
                if not busy and not self._kicked:
                    self._thread = None
                    return
                self._kicked = False
