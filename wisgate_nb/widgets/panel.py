"""The panel: options, Generate and Cancel, a status line, a gallery of results and a history tab.

Click handlers run on the main thread: they validate (``session.prepare``), make the result's widgets
and submit; the request runs on the engine thread, so the kernel is free at once. Everything after
that is trait assignment from the engine thread (see ``slot.py``).
"""

from __future__ import annotations

import threading
import time

import ipywidgets as widgets

from ..core import runner
from ..core.session import current
from ..output import html
from .edit import EditBox
from .form import OptionsForm
from .history_tab import HistoryTab
from .keys import KeyGuard
from .picker import TemplatePicker
from .reload import ReloadNote
from .slot import ResultSlot
from .thumbs import ThumbStore
from .words import elapsed, explain, guarded, plural, totals_line

TICK_S = 0.5  # how often running generations' elapsed times are refreshed
MAX_SLOTS = 20  # results kept in the gallery (all stay in the history tab)
DOUBLE_CLICK_S = 1.0  # a second click on Generate for the same request within this is not sent again
PROMPT_HINT = "Describe the image, e.g. 'a lighthouse on a cliff at dusk, oil painting'"
TEMPLATE_HINT = "Optional: extra detail added to the template's prompt"


class Panel(widgets.VBox):
    """Generate images by clicking; the kernel stays free while they are made."""

    def __init__(self, session=None):
        self._session = session if session is not None else current()
        self._store = ThumbStore()
        self._slots: list[ResultSlot] = []
        self._lock = threading.Lock()
        self._said: tuple[str, str | None] = ("ready", "muted")  # the one status line: the newest news
        self._last_click: tuple[tuple, float] | None = None  # (what was sent, when): the double-click guard
        self._note = ReloadNote()
        self._unseen = 0
        self._ticking = None  # the engine's clock job while something runs
        self._quota = None  # what a classroom gateway last said is left (QuotaLeft), shown in the header
        self._build_form()
        self._edit_box = EditBox(self._session, send=self._start, options=lambda: self._form.values("edits"),
                                 report=self._report_error)
        self._gallery = widgets.VBox()
        self._gallery.add_class("wisgate-gallery")
        self._history_tab = HistoryTab(self._session, self._store, rerun=self._rerun, report=self._report_error)
        super().__init__(self._layout())
        self.add_class("wisgate-panel")
        if self._session.config.demo:
            self._say("demo mode: images are drawn by the built-in demo server (no key, no network)", "muted")
        self._render_status()
        self._refresh_totals()
        self._ask_quota()
        self._session.when_request_ends(self._on_request_end)  # magic cells too: the header never goes stale

    # -- building (main thread) -----------------------------------------------------------
    def _build_form(self) -> None:
        """The option widgets, starting from the session's settings (the panel keeps its own copies)."""
        report = self._report_error
        self._template = TemplatePicker(report, on_change=self._on_template_change)
        self._prompt = widgets.Textarea(placeholder=PROMPT_HINT, description="prompt", style={"description_width": "initial"},
                                        layout=widgets.Layout(width="100%", height="80px"))
        self._form = OptionsForm(self._session.config)
        self._generate = widgets.Button(description="Generate", icon="play", button_style="primary",
                                        tooltip="send the prompt; the notebook stays free while it works")
        self._cancel = widgets.Button(description="Cancel", icon="stop", tooltip="cancel every running generation",
                                      disabled=True)
        self._status = widgets.HTML()
        for widget, name in ((self._prompt, "prompt"), (self._generate, "generate"), (self._cancel, "cancel"),
                             (self._status, "status")):
            widget.add_class(f"wisgate-{name}")  # stable hooks for browser tests and custom CSS
        self._totals = widgets.HTML()
        self._generate.on_click(guarded(self._on_generate_click, report))
        self._cancel.on_click(guarded(self._on_cancel_click, report))

    def _layout(self) -> list[widgets.Widget]:
        form = widgets.VBox([
            self._template,
            self._prompt,
            *self._form.rows(),
            widgets.HBox([self._generate, self._cancel]),
            self._status,
        ])
        hint = widgets.HTML(html.text_html(["Widgets are not kept in a saved notebook: run ", (".snapshot()", "code"),
                                            " on this panel in a cell for a static copy of its results."],
                                           tone="faint", size=11))
        self._pages = {"Generate": widgets.VBox([form, self._edit_box, self._gallery, hint]),
                       "History": self._history_tab}
        self._history_tab.layout.display = "none"
        # Two toggle buttons, not an ipywidgets Tab: a Tab drawn while its cell is off screen (JupyterLab's
        # default windowing, a page reloaded on a running kernel) never gets its tab bar's listeners, and its
        # tabs stop switching; buttons listen to clicks and keys wherever and whenever they are drawn.
        self._switch = widgets.ToggleButtons(options=list(self._pages), value="Generate",
                                             tooltips=["the form and the results", "every record of the session"])
        self._switch.add_class("wisgate-tabs")
        self._switch.observe(guarded(self._on_tab_change, self._report_error), names="value")
        title = widgets.HTML(html.text_html(("wisgate_nb", "b"), size=13))
        return [widgets.HBox([title, self._totals], layout=widgets.Layout(justify_content="space-between")),
                self._switch, *self._pages.values(), self._note.hider, KeyGuard(layout=widgets.Layout(display="none"))]

    # -- handlers (main thread) -----------------------------------------------------------
    def _on_generate_click(self, _button) -> None:
        request = self._request()
        what = (request.endpoint, request.prompt, repr(sorted(request.body.items())), request.target.where)
        now = time.monotonic()
        if self._last_click is not None and self._last_click[0] == what and now - self._last_click[1] < DOUBLE_CLICK_S:
            self._say("Generate was pressed twice: the request was sent once (press again to send another)", "muted")
            return
        self._last_click = (what, now)
        self._start(request)

    def _on_cancel_click(self, _button) -> None:
        cancelled = sum(slot.cancel() for slot in self.running)
        self._say(f"cancelled {plural(cancelled, 'generation')}" if cancelled else "nothing is running", "warn")

    def _on_template_change(self, name: str | None) -> None:
        self._prompt.placeholder = PROMPT_HINT if name is None else TEMPLATE_HINT

    def _on_tab_change(self, change) -> None:
        for name, page in self._pages.items():
            page.layout.display = None if name == change["new"] else "none"
        if change["new"] == "History":
            self._unseen = 0
            self._history_tab.refresh()

    def _request(self):
        """A validated request from the form (ConfigurationError, shown in the status, if not valid)."""
        ask = runner.Ask((self._prompt.value,), template=self._template.name, fields=self._template.fields(),
                         options=self._form.values(), source="panel")
        request, = runner.plan(self._session, ask)
        return request

    def _start(self, request, title: str | None = None) -> ResultSlot:
        """Submit a request and give it its own place at the top of the gallery."""
        slot = ResultSlot(request, title=title, on_done=guarded(self._slot_done, self._report_error),
                          on_edit=self._edit_box.show_for, report=self._report_error)
        slot.attach(runner.submit(self._session, [request], slot.show))
        with self._lock:
            self._slots.append(slot)
        self._gallery.children = (slot, *self._gallery.children[: MAX_SLOTS - 1])
        self._say("working", None)  # a new start is the newest news; _tick words it
        self._tick()
        if self._ticking is None or self._ticking.done():
            self._ticking = self._session.engine.every(TICK_S, guarded(self._tick, self._report_error))
        return slot

    def _rerun(self, record) -> ResultSlot:
        """Generate (or edit) again with a record's prompt, options and input images."""
        request = runner.plan_again(self._session, record, source="panel")
        self._switch.value = "Generate"
        return self._start(request, title=f"re-run of {record.id}")

    # -- any thread: trait assignments only -----------------------------------------------
    def _slot_done(self, slot: ResultSlot) -> None:
        if slot.record is not None:
            self._store.register(slot.record.id, slot.images[: slot.record.images])
        if slot.state == "error":
            self._say(explain(slot.error), "error")
        elif slot.state == "ok":
            left = len(self.running)
            self._say(f"done: {slot.summary}" + (f" · {plural(left, 'generation')} still running" if left else ""),
                      "ok")
        elif slot.state == "cancelled" and not self._said[0].startswith("cancelled"):
            self._say("cancelled", "warn")
        self._unseen += 1
        self._history_tab.mark_stale(self._unseen)
        self._refresh_totals()
        self._update_note()

    def _update_note(self) -> None:
        folder = self._session.history.folder
        self._note.update([s.record for s in self.slots if s.record is not None and s.state == "ok"],
                          html.link_for(folder) if folder else None)

    def _tick(self) -> bool:
        """Refresh elapsed times; True while something is still running."""
        running = self.running
        for slot in running:
            slot.tick()
        if running and self._said[1] is None:  # only a working line moves on; news stays until newer news
            longest = max(time.monotonic() - s.started for s in running)
            what = f" · {running[0].phase}" if len(running) == 1 else ""
            self._say(f"working: {plural(len(running), 'generation')} in flight · {elapsed(longest)}{what}", None)
        self._cancel.disabled = not running
        return bool(running)

    def _report_error(self, exc: BaseException) -> None:
        self._say(explain(exc), "error")

    def _say(self, text: str, tone: str | None) -> None:
        """Replace the status line (tone None: a working line that ticks)."""
        self._said = (text, tone)
        self._cancel.disabled = not self.running
        self._render_status()

    def _render_status(self) -> None:
        text, tone = self._said
        self._status.value = html.text_html(text, tone=tone or "muted", cls="wisgate-panel-status")

    def _refresh_totals(self) -> None:
        session = self._session
        totals = session.history.totals(session.config.prices or None)
        lines = [totals_line(totals)] + ([self._quota.text] if self._quota is not None else [])
        self._totals.value = html.text_html(*lines, tone="muted", cls="wisgate-totals")

    def _on_request_end(self) -> None:
        """Any request of the session ended (this panel's, a magic cell's): the totals and the quota move."""
        guarded(self._refresh_totals, self._report_error)()
        self._ask_quota()

    def _ask_quota(self) -> None:
        """Ask a classroom gateway what is left, on the engine; the header shows it when it answers."""
        async def ask() -> None:
            self._quota = await self._session.aquota()
            if self._quota is not None:
                guarded(self._refresh_totals, self._report_error)()

        self._session.engine.submit(ask())

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

        Options are the form's fields, one per image option (size, n, quality, model, output_format, stream,
        background, ...). Invalid values raise ConfigurationError and nothing is sent.
        """
        self._prompt.value = prompt
        for name, value in options.items():
            self._form.set(name, value)
        return self._start(self._request())

    def wait(self, timeout: float | None = None) -> list[ResultSlot]:
        """Block until every generation of this panel has ended (for scripts and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for slot in self.slots:
            slot.settled.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._update_note()  # from the main thread too: an executed notebook keeps only this cell's updates
        return self.slots

    def snapshot(self, title: str | None = None):
        """A static side-by-side record of this panel's results, to keep in the saved notebook."""
        ids = self.record_ids
        if not ids:
            from IPython.display import HTML

            return HTML(html.status_html("the panel has no results yet: generate something first"))
        comparison = self._session.history.compare(ids=ids)
        comparison.title = title or f"wisgate_nb panel: {plural(len(ids), 'result')}"
        return comparison

    def _ipython_display_(self) -> None:
        """The live widget, then a plain note that a reopened notebook still shows (see ``reload.py``)."""
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
        self._note.show()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = self._note.text()  # what a front end without the widget shows
        return bundle

    def close(self) -> None:
        """Cancel what is running and close the panel's widget."""
        for slot in self.running:
            slot.cancel()
        super().close()
