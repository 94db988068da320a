"""Side by side: results in the order given, every image of each, laid out by what actually varies.

- One thing varies (the prompt, or some settings), or the results do not fill a grid: one column
  per result, side by side (wrapping on narrow screens), each headed by what differs.
- Prompts and settings both vary and every prompt ran with every combination (a sweep): a table with
  a column per prompt, in the order typed, and a row per combination of the settings.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..options import OPTIONS, image_options
from ..output import html
from .views import record_result

CELL_PX = 256
_DELIVERY = frozenset(o.name for o in OPTIONS if o.delivery)  # streaming: how the images came, not what they are


def _order() -> tuple[str, ...]:
    """Parameters worth comparing, in the order their labels name them: the registry's image options."""
    return (*(o.name for o in image_options()), "template_version")


def _settings(record) -> dict:
    """What was asked. A quality left to the server is "server default", whatever the server then chose (a
    cancelled request never learns it): a request and its re-run do not differ in it."""
    asked = record.params.get("quality") if record.params else record.quality  # old records: no params
    values = {"model": record.model, "size": record.size, "quality": asked or "server default", "n": record.n}
    for key, value in record.params.items():
        if key != "prompt" and key not in _DELIVERY and key not in values:
            values[key] = value
    template = record.template or {}
    if template:
        values["template_version"] = template.get("version")
        for field, value in (template.get("fields") or {}).items():
            values[f"{field}"] = value
    return values


def differing_keys(records: Sequence) -> list[str]:
    """The parameters whose values are not the same for every record, in a stable order."""
    settings = [_settings(r) for r in records]
    order = _order()
    keys = sorted({k for s in settings for k in s}, key=lambda k: (order.index(k) if k in order else 99, k))
    return [k for k in keys if len({repr(s.get(k)) for s in settings}) > 1]


def ids_in_order(results: Sequence) -> list[str]:
    """History ids of a batch's results (Generations, or errors that carry ``record_id``), in request order."""
    ids = [getattr(r, "id", None) if not isinstance(r, BaseException) else getattr(r, "record_id", None)
           for r in results]
    return [i for i in ids if i]


class Comparison:
    """Records laid out side by side, in the order given; renders itself as static HTML."""

    def __init__(self, records: Sequence, history, *, by: str | Sequence[str] | None = None, title: str | None = None):
        self.records = list(records)
        self.history = history
        self.title = title
        if by is None:
            self.keys = differing_keys(self.records)
        else:
            self.keys = [by] if isinstance(by, str) else list(by)
        # Fields that vary label the results; the prompt (or what is left of it) is handled on its own.
        self.keys = [k for k in self.keys if k != "prompt"]

    def _settings_label(self, record) -> str:
        settings = _settings(record)
        return ", ".join(f"{k}={settings.get(k)}" for k in self.keys)

    def _prompt_label(self, record) -> str:
        template = record.template or {}
        if template and any(k in (template.get("fields") or {}) for k in self.keys):
            return f"template {template.get('name')} v{template.get('version')}"
        return record.prompt

    @property
    def prompts_vary(self) -> bool:
        return len({self._prompt_label(r) for r in self.records}) > 1

    def is_grid(self) -> bool:
        """True when prompts and settings both vary and every prompt has exactly one result per combination."""
        if not (self.prompts_vary and self.keys):
            return False
        cells = [(self._prompt_label(r), self._settings_label(r)) for r in self.records]
        prompts, combos = set(p for p, _ in cells), set(c for _, c in cells)
        return len(prompts) > 1 and len(combos) > 1 and len(set(cells)) == len(cells) == len(prompts) * len(combos)

    def label(self, record) -> str:
        """What tells this result from the others: its prompt, its differing settings, or both."""
        parts = [html.short(self._prompt_label(record), 200)] if self.prompts_vary else []
        if self.keys:
            parts.append(self._settings_label(record))
        return " · ".join(parts)

    def layout(self) -> tuple[list[str], list[tuple[str, list]]]:
        """(column labels, [(row label, [record or None per column])]): see the module's docstring."""
        if not self.is_grid():
            return [self.label(r) for r in self.records], [("", list(self.records))]
        prompts = list(dict.fromkeys(self._prompt_label(r) for r in self.records))
        combos = list(dict.fromkeys(self._settings_label(r) for r in self.records))
        found = {(self._prompt_label(r), self._settings_label(r)): r for r in self.records}
        return prompts, [(combo, [found.get((p, combo)) for p in prompts]) for combo in combos]

    def caption(self, record) -> list[str]:
        """A result's caption in a comparison: its time and id (what differs is in its label)."""
        bits = [f"{record.latency_s:.1f} s" if record.latency_s else "", record.id,
                "reused" if record.reused else "", f"profile {record.profile}" if record.profile else ""]
        return [" · ".join(b for b in bits if b)]

    def result(self, record, *, label: bool = True) -> html.Result:
        """One record as a result of this comparison: all its images, its caption (and its label)."""
        return record_result(self.history, record, CELL_PX, caption=self.caption(record),
                             label=(self.label(record) or None) if label else None,
                             settings=self._settings_label(record) if self.keys else "")

    @property
    def df(self):
        import pandas as pd

        frame = self.history.df
        if not len(frame):
            return pd.DataFrame()
        order = {record.id: i for i, record in enumerate(self.records)}
        chosen = frame[frame["id"].isin(order)]
        return chosen.sort_values("id", key=lambda ids: ids.map(order)).reset_index(drop=True)

    def _heading(self) -> str | None:
        if self.records and not self.prompts_vary:
            prompt = html.short(self._prompt_label(self.records[0]), 200)
            return f"{self.title} — {prompt}" if self.title else prompt
        return self.title

    def _repr_html_(self) -> str:
        differs = ", ".join((["prompt"] if self.prompts_vary else []) + self.keys) or "nothing (repeated runs)"
        note = f"{len(self.records)} results · differ in: {differs}"
        if len(self.records) == 2:
            note += " · .slider() lays the two one over the other, with a divider to drag"
        if not self.is_grid():
            results = [self.result(r) for r in self.records]
            return html.grid_html(results, title=self._heading(), note=note, px=CELL_PX)
        columns, rows = self.layout()
        table = [(label, [self.result(r, label=False) if r is not None else None for r in cells])
                 for label, cells in rows]
        return html.matrix_html(columns, table, title=self._heading(), note=note, px=CELL_PX,
                                corner=f"{', '.join(self.keys)} (rows) · prompt (columns)")

    def slider(self, position: float = 50.0):
        """The two results one over the other with a divider to drag (output/slider.py): two results only."""
        from ..errors import ConfigurationError
        from ..output.slider import CompareSlider

        shown = [r for r in self.records if r.status == "ok" and r.paths]
        if len(self.records) != 2 or len(shown) != 2:
            raise ConfigurationError(f"a slider lays two results one over the other; this comparison has "
                                     f"{len(shown)} result(s) with images (of {len(self.records)})")
        paths = [self.history.full_paths(r)[0] for r in shown]
        labels = [f"{self.label(r)} · {r.id}" if self.label(r) else r.id for r in shown]
        return CompareSlider(*paths, labels=tuple(labels), position=position)

    def __repr__(self) -> str:
        differs = ", ".join((["prompt"] if self.prompts_vary else []) + self.keys) or "nothing"
        return f"<Comparison of {len(self.records)} results; they differ in {differs}>"
