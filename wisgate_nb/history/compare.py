"""Side-by-side comparison: a row per prompt, a column per combination of the parameters that differ."""

from __future__ import annotations

from collections.abc import Sequence

from ..output import html
from .views import record_tiles

# Parameters worth comparing, in the order their columns are labelled.
_KEYS = ("model", "size", "quality", "n", "output_format", "background", "moderation", "output_compression",
         "template_version")


def _settings(record) -> dict:
    values = {"model": record.model, "size": record.size, "quality": record.quality, "n": record.n}
    for key, value in record.params.items():
        if key not in ("prompt", "stream", "partial_images") and key not in values:
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
    keys = sorted({k for s in settings for k in s}, key=lambda k: (_KEYS.index(k) if k in _KEYS else 99, k))
    return [k for k in keys if len({repr(s.get(k)) for s in settings}) > 1]


class Comparison:
    """Records laid out side by side; renders itself as a static HTML table."""

    def __init__(self, records: Sequence, history, *, by: str | Sequence[str] | None = None, title: str | None = None):
        self.records = list(records)
        self.history = history
        self.title = title
        if by is None:
            self.keys = differing_keys(self.records)
        else:
            self.keys = [by] if isinstance(by, str) else list(by)
        # Fields that vary are columns; the prompt (or what is left of it) labels the rows.
        self.keys = [k for k in self.keys if k != "prompt"]

    def _column(self, record) -> str:
        settings = _settings(record)
        return ", ".join(f"{k}={settings.get(k)}" for k in self.keys) or "result"

    def _row(self, record) -> str:
        template = record.template or {}
        if template and any(k in (template.get("fields") or {}) for k in self.keys):
            return f"template {template.get('name')} v{template.get('version')}"
        return record.prompt

    def layout(self) -> tuple[list[str], list[tuple[str, list]]]:
        """(column labels, [(row label, [record or None per column])])."""
        columns = list(dict.fromkeys(self._column(r) for r in self.records))
        rows: dict[str, dict[str, object]] = {}
        for record in self.records:
            rows.setdefault(self._row(record), {})[self._column(record)] = record
        return columns, [(label, [cells.get(c) for c in columns]) for label, cells in rows.items()]

    @property
    def df(self):
        import pandas as pd

        frame = self.history.df
        return frame[frame["id"].isin([r.id for r in self.records])].reset_index(drop=True) if len(frame) else pd.DataFrame()

    def _repr_html_(self) -> str:
        columns, rows = self.layout()
        table = []
        for label, cells in rows:
            tiles = []
            for record in cells:
                if record is None:
                    tiles.append(html.Tile(None, ("—",)))
                    continue
                caption = [f"{record.latency_s:.1f} s" if record.latency_s else "", record.id]
                if record.reused:
                    caption.append("reused")
                if record.profile:
                    caption.append(f"profile {record.profile}")
                tiles_of = record_tiles(self.history, record, 256, caption=[" · ".join(c for c in caption if c)])
                tiles.append(tiles_of[0] if tiles_of else html.Tile(None, ("no image",)))
            table.append((label, tiles))
        differs = ", ".join(self.keys) if self.keys else "nothing but the prompt"
        note = f"{len(self.records)} results · columns differ in: {differs}"
        if len(self.records) == 2:
            note += " · .slider() lays the two one over the other, with a divider to drag"
        return html.rows_html(columns, table, title=self.title, note=note)

    def slider(self, position: float = 50.0):
        """The two results one over the other with a divider to drag (output/slider.py): two results only."""
        from ..errors import ConfigurationError
        from ..output.slider import CompareSlider

        shown = [r for r in self.records if r.status == "ok" and r.paths]
        if len(self.records) != 2 or len(shown) != 2:
            raise ConfigurationError(f"a slider lays two results one over the other; this comparison has "
                                     f"{len(shown)} result(s) with images (of {len(self.records)})")
        paths = [self.history.full_paths(r)[0] for r in shown]
        labels = [f"{self._column(r)} · {r.id}" if self.keys else r.id for r in shown]
        return CompareSlider(*paths, labels=tuple(labels), position=position)

    def __repr__(self) -> str:
        return f"<Comparison of {len(self.records)} results by {', '.join(self.keys) or 'prompt'}>"
