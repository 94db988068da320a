"""The history tab: the session's records with thumbnails; compare, re-run, rate and tag them.

Every record is reached: a page of PAGE rows, newest first, with "newer" and "older" buttons, and a search
over the prompt and the tags. Rows and their widgets are (re)built on the main thread only: on Refresh, when
the tab is opened, on a page or a search, and after an action here. The engine thread just flags that new
results are waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as widgets

from ..errors import ConfigurationError
from ..output import html
from . import thumbs
from .words import guarded, plural

PAGE = 50  # rows a page shows
ROW_THUMB = "96px"
ROW_THUMBS_WIDTH = "200px"  # room for two thumbnails a row (four wrap 2 x 2): every row's text starts here
COMPARE_THUMB = "200px"


class _Row:
    """One record: a checkbox, its thumbnails (shared Image widgets) and a description."""

    def __init__(self, record, images: Sequence[widgets.Image]):
        self.record = record
        self.checkbox = widgets.Checkbox(value=False, indent=False, description=record.id,  # its label: the id
                                         layout=widgets.Layout(width="136px", min_width="136px"))
        self.info = widgets.HTML(layout=widgets.Layout(flex="1 1 auto"))
        tiles = [thumbs.tile(img, ROW_THUMB) for img in images[:4]]
        strip = widgets.HBox(tiles, layout=widgets.Layout(width=ROW_THUMBS_WIDTH, min_width=ROW_THUMBS_WIDTH,
                                                          flex_flow="row wrap", grid_gap="4px"))
        self.box = widgets.HBox([self.checkbox, strip, self.info],
                                layout=widgets.Layout(border_bottom=f"1px solid {html.BORDER}", padding="3px"))
        self.update(record)

    def update(self, record, grade: tuple[float, str] | None = None) -> None:
        self.record = record
        r = record
        status = r.status if r.status == "ok" else f"{r.status}: {html.short(r.error or '', 140)}"
        bits = [r.size or "", r.quality or "", f"{r.latency_s:.1f} s" if r.latency_s else "", plural(r.images, "image"),
                "★" * r.rating if r.rating else "", "tags: " + ", ".join(r.tags) if r.tags else "",
                f"grade {grade[0]:.1f}/5 for “{html.short(grade[1], 60)}”" if grade else ""]
        self.info.value = html.text_html([r.started_at[11:19], f" · {r.source} · ",
                                          (status, html.STATUS_TONES.get(r.status, "error"))],
                                         html.short(r.prompt, 160), (" · ".join(b for b in bits if b), "muted"),
                                         cls="wisgate-history-row")


class HistoryTab(widgets.VBox):
    """The session's records, newest first, as a table of thumbnails."""

    def __init__(self, session, store: thumbs.ThumbStore, *, rerun: Callable, report: Callable):
        self._session = session
        self._store = store
        self._rerun = rerun
        self._report = report
        self.rows: dict[str, _Row] = {}

        def button(text: str, icon: str, handler: Callable, tip: str) -> widgets.Button:
            b = widgets.Button(description=text, icon=icon, tooltip=tip, layout=widgets.Layout(width="auto"))
            b.on_click(guarded(handler, report))
            return b

        self._refresh_button = button("Refresh", "refresh", self._on_refresh_click, "show the latest records")
        self._compare_button = button("Compare", "columns", self._on_compare_click,
                                      "show the selected records side by side")
        self._rerun_button = button("Re-run", "repeat", self._on_rerun_click,
                                    "generate again with the same prompt and options")
        self._stars = widgets.Dropdown(options=[("no stars", 0)] + [("★" * i, i) for i in range(1, 6)], value=0,
                                       description="stars", style={"description_width": "initial"},
                                       layout=widgets.Layout(width="150px"))
        self._rate_button = button("Rate", "star", self._on_rate_click, "give the selected records these stars")
        self._tag_text = widgets.Text(placeholder="tag, another tag", description="tags",
                                      style={"description_width": "initial"}, layout=widgets.Layout(width="200px"))
        self._tag_button = button("Tag", "tag", self._on_tag_click, "add these tags to the selected records")
        self._sort = widgets.Dropdown(options=[("newest first", "newest"), ("best grade first", "grade")],
                                      value="newest", description="sort", style={"description_width": "initial"},
                                      layout=widgets.Layout(width="210px"))
        self._sort.observe(guarded(self._on_search, report), names="value")
        self._search = widgets.Text(placeholder="words of a prompt, or a tag", description="search",
                                    continuous_update=False, style={"description_width": "initial"},
                                    layout=widgets.Layout(width="300px"))
        self._search.observe(guarded(self._on_search, report), names="value")
        self._newer = button("newer", "chevron-left", self._on_newer_click, f"the {PAGE} newer records")
        self._older = button("older", "chevron-right", self._on_older_click, f"the {PAGE} older records")
        self._start = 0  # rows of the newest first list above this page
        self._note = widgets.HTML()
        self._rows = widgets.VBox()
        self._compare_view = widgets.VBox(layout=widgets.Layout(display="none", border=f"1px solid {html.BORDER}",
                                                                padding="6px"))
        self._compare_view.add_class("wisgate-compare")
        toolbar = widgets.HBox([self._refresh_button, self._compare_button, self._rerun_button, self._stars,
                                self._rate_button, self._tag_text, self._tag_button, self._sort],
                               layout=widgets.Layout(flex_flow="row wrap"))
        pager = widgets.HBox([self._search, self._newer, self._older], layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([toolbar, pager, self._note, self._compare_view, self._rows])
        self.add_class("wisgate-history")

    # -- main thread ---------------------------------------------------------------------
    def _page(self) -> tuple[list, int]:
        """(this page's records, newest first; how many records there are to page through)."""
        history = self._session.history
        frame = history.df
        if not len(frame):
            return [], 0
        keep = frame["request_kind"] == "image"  # a judge's requests are in History.df, not rows here
        query = self._search.value.strip().lower()
        if query:
            keep &= (frame["prompt"].str.lower().str.contains(query, regex=False)
                     | frame["tags"].map(lambda tags: any(query in str(t).lower() for t in tags)))
        found = frame[keep][::-1]  # newest first
        if self._sort.value == "grade":  # best first, the ungraded last, newest first among equals
            found = found.sort_values("grade", ascending=False, na_position="last", kind="stable")
        page = list(found["id"][self._start:self._start + PAGE])
        by_id = {r.id: r for r in history.select(ids=page)} if page else {}  # select(ids=[]) is every record
        return [by_id[i] for i in page], len(found)

    def refresh(self) -> None:
        """Rebuild this page of the table from the session's history (newest first, or best grade first)."""
        history = self._session.history
        shown, total = self._page()
        if not shown and self._start:  # the page emptied (fewer matches now): back to the first
            self._start = 0
            shown, total = self._page()
        grades = _grades(history)
        for record in shown:
            row = self.rows.get(record.id)
            if row is None:
                self.rows[record.id] = _Row(record, self._store.images(history, record))
            self.rows[record.id].update(record, grades.get(record.id))
        self._rows.children = tuple(self.rows[r.id].box for r in shown)
        self._newer.disabled = self._start == 0
        self._older.disabled = self._start + PAGE >= total
        query = self._search.value.strip()
        what = f"{plural(total, 'record')} matching {query!r}" if query else f"{plural(total, 'record')} of this session"
        if total > len(shown):
            what = f"records {self._start + 1}–{self._start + len(shown)} (newest first) of {what}"
        self._say(f"{what}; tick two or more to compare them" if total else
                  f"no record matches {query!r}" if query else "no records yet: generate something first")

    def selected_ids(self) -> list[str]:
        """Ids of the checked records, oldest first."""
        return [rid for rid, row in sorted(self.rows.items(), key=lambda item: item[1].record.started_at)
                if row.checkbox.value]

    def select(self, ids: Sequence[str]) -> None:
        """Check exactly these records (refreshing first if needed)."""
        if any(i not in self.rows for i in ids):
            self.refresh()
        for rid, row in self.rows.items():
            row.checkbox.value = rid in ids

    def compare(self, ids: Sequence[str]) -> None:
        """Show records side by side, every image of each, laid out like ``History.compare`` (its order kept)."""
        if len(ids) < 2:
            raise ConfigurationError("select two or more records to compare (tick their boxes)")
        history = self._session.history
        comparison = history.compare(ids=list(ids))
        columns, rows = comparison.layout()
        records = comparison.records
        shown: widgets.Widget
        if len(records) == 2 and all(r.status == "ok" and len(r.paths) == 1 for r in records):
            shown = comparison.slider()  # two single images: one over the other, with a divider to drag
        elif comparison.is_grid():  # prompts across, combinations down
            cells: list[widgets.Widget] = [widgets.HTML("")]
            cells += [widgets.HTML(html.text_html((html.short(c, 200), "b"))) for c in columns]
            for label, records in rows:
                cells.append(widgets.HTML(html.text_html((label, "b"))))
                cells += [self._compare_cell(history, comparison, r, label=False) if r is not None else widgets.Box()
                          for r in records]
            shown = widgets.GridBox(cells, layout=widgets.Layout(
                grid_template_columns=f"160px repeat({len(columns)}, max-content)", grid_gap="8px"))
        else:  # one column per result, side by side, wrapping
            shown = widgets.HBox([self._compare_cell(history, comparison, r) for r in rows[0][1]],
                                 layout=widgets.Layout(flex_flow="row wrap", grid_gap="16px"))
        differs = ", ".join((["prompt"] if comparison.prompts_vary else []) + comparison.keys) or "nothing"
        code = f"wisgate_nb.history().compare(ids={list(ids)!r})"
        note = widgets.HTML(html.text_html([f"{len(comparison.records)} results · differ in: {differs} · "
                                            "a static copy for the saved notebook: ", (code, "code")], tone="muted"))
        note.layout.flex = "1 1 auto"
        close = widgets.Button(description="Close", icon="times", layout=widgets.Layout(width="auto", flex="0 0 auto"))
        close.on_click(guarded(lambda _b: self._hide_compare(), self._report))
        self._compare_view.children = (widgets.HBox([note, close]), shown)
        self._compare_view.layout.display = None

    def _compare_cell(self, history, comparison, record, *, label: bool = True) -> widgets.Widget:
        """One result: its label, all its images side by side (or its error), its caption."""
        head = [widgets.HTML(html.text_html((html.short(comparison.label(record), 200), "b")))] if label else []
        caption = widgets.HTML(html.text_html(comparison.caption(record)[0], tone="muted"))
        if record.status != "ok":
            tone = html.STATUS_TONES.get(record.status, "error")
            body: widgets.Widget = widgets.HTML(html.text_html(f"{record.status}: {html.short(record.error or '', 160)}",
                                                               tone=tone))
        else:
            images = self._store.images(history, record)
            body = widgets.HBox([thumbs.tile(img, COMPARE_THUMB) for img in images],
                                layout=widgets.Layout(flex_flow="row wrap", grid_gap="6px"))
        cell = widgets.VBox([*head, body, caption], layout=widgets.Layout(max_width="620px"))
        cell.add_class("wisgate-compare-cell")
        return cell

    def _hide_compare(self) -> None:
        self._compare_view.children = ()
        self._compare_view.layout.display = "none"

    def _say(self, text: str, error: bool = False) -> None:
        self._note.value = html.text_html(text, tone="error" if error else "muted")

    def _selected_or_complain(self) -> list[str]:
        ids = self.selected_ids()
        if not ids:
            raise ConfigurationError("tick the box of at least one record first")
        return ids

    def _on_refresh_click(self, _button) -> None:
        self.refresh()

    def _on_search(self, _change) -> None:
        self._start = 0
        self.refresh()

    def _on_newer_click(self, _button) -> None:
        self._start = max(0, self._start - PAGE)
        self.refresh()

    def _on_older_click(self, _button) -> None:
        self._start += PAGE
        self.refresh()

    def _on_compare_click(self, _button) -> None:
        self.compare(self.selected_ids())

    def _on_rerun_click(self, _button) -> None:
        for rid in self._selected_or_complain():
            self._rerun(self._session.history[rid])

    def _on_rate_click(self, _button) -> None:
        for rid in self._selected_or_complain():
            self._session.history.rate(rid, int(self._stars.value))
        self.refresh()

    def _on_tag_click(self, _button) -> None:
        tags = [t.strip() for t in self._tag_text.value.split(",") if t.strip()]
        if not tags:
            raise ConfigurationError("type a tag first (several: separate them with commas)")
        for rid in self._selected_or_complain():
            self._session.history.tag(rid, *tags)
        self._tag_text.value = ""
        self.refresh()

    # -- any thread ----------------------------------------------------------------------
    def mark_stale(self, count: int) -> None:
        """New records are waiting (from the engine thread: only a trait assignment)."""
        self._say(f"{plural(count, 'new result')}: press Refresh to see them")


def _grades(history) -> dict[str, tuple[float, str]]:
    """Each graded record's mean grade and rubric (its newest grading)."""
    from ..records.grades import record_grades

    out = {}
    for rid, (rubric, _judge, lines) in history.grade_book.by_record().items():
        mean = record_grades(lines)[0]
        if mean is not None:
            out[rid] = (mean, rubric)
    return out
