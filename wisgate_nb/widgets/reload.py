"""What a panel's cell still says when the notebook is reopened without its kernel.

Widgets are not kept in a saved notebook: reopened, the panel's output reads "Error displaying
widget: model not found". So the panel is displayed with a plain HTML note beside it, which says
what the panel generated and how to see it again; the note is kept up to date (display updates)
and saved with the notebook. While the panel is live, a style inside the panel hides the note.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import ipywidgets as widgets

from ..output import html
from .words import plural

SHOWN = 8  # results named in the note; the rest are counted


class ReloadNote:
    """The note's display handles (one per time the panel was displayed) and the style that hides them."""

    def __init__(self):
        self.css_class = f"wisgate-reload-note-{secrets.token_hex(4)}"
        self.hider = widgets.HTML(html.panel_style_html(self.css_class),
                                  layout=widgets.Layout(display="none"))  # in the live panel only
        self._handles: list = []
        self._records: list = []
        self._folder: str | None = None

    def html(self) -> str:
        lines: list = [[("wisgate_nb panel", "b"), " — it needs its kernel: after reopening the notebook, run this "
                        "cell again to get it back."]]
        if self._records:
            named = ", ".join(f"{html.short(r.prompt, 60)!r} ({r.id})" for r in self._records[-SHOWN:])
            more = len(self._records) - SHOWN
            lines.append(f"It generated {plural(len(self._records), 'result')}: "
                         + (f"… {more} more, " if more > 0 else "") + named + ".")
            ids = [r.id for r in self._records]
            where = f'"{self._folder}"' if self._folder else '"wisgate_runs"'
            lines.append(["See them again: ", (f"wisgate_nb.History.load({where}).compare(ids={ids!r})", "code")])
        else:
            lines.append(["What it generates is kept in the session's history (", ("wisgate_nb.history()", "code"),
                          "); ", ("panel.snapshot()", "code"), " in a cell keeps a static copy in the notebook."])
        return html.text_html(*lines, tone="muted", cls=f"wisgate-nb wisgate-reload-note {self.css_class}")

    def text(self) -> str:
        done = f"; it generated {plural(len(self._records), 'result')}" if self._records else ""
        return f"wisgate_nb panel (needs a running kernel: run the cell again){done}"

    def show(self) -> None:
        """Display the note (main thread, right after the panel's own output)."""
        from IPython.display import display

        handle = display({"text/html": self.html(), "text/plain": self.text()}, raw=True, display_id=True)
        if handle is not None:
            self._handles.append(handle)

    def update(self, records: Sequence, folder: str | None) -> None:
        """The panel's results changed (any thread: display updates only)."""
        self._records, self._folder = list(records), folder
        for handle in list(self._handles):
            handle.update({"text/html": self.html(), "text/plain": self.text()}, raw=True)
