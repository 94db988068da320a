"""pandas views of the history (pandas is imported here, on first use, never at package import).

``History.df`` is built once and then extended: each batch of new rows (the chunks of a load, or the
records appended since the last look) becomes a small frame with the same columns and dtypes, added at
the end; an update (rating, tags, note) changes only its cells. ``images_df`` and the usage tables are
derived the same way, row batch by row batch, and rebuilt only after an update. What users get is a
copy that costs nothing under pandas' copy-on-write: changing it never changes the history's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigurationError
from .chunks import Chunk
from .columns import COLUMNS, KINDS, UPDATABLE, default
from .spending import USAGE_KEYS, price_of

_MAJOR = int(pd.__version__.split(".")[0])
COPY_ON_WRITE = _MAJOR >= 3 or pd.get_option("mode.copy_on_write") is True
_JOIN_CHUNKS = 64  # extensions after which text columns are joined back into one piece each
IMAGE_COLUMNS = ["id", "index", "path", "prompt", "model", "size", "quality", "status", "rating", "tags", "revised_prompt"]
_SUMMED = ["requests", "images", "reused", "total_tokens"]
# pandas' own text dtype (Arrow-backed where pyarrow is installed), the nullable Int64, numpy's others
_DTYPES = {"str": pd.StringDtype(na_value=np.nan) if _MAJOR >= 3 else np.dtype(object), "Int": pd.Int64Dtype(),
           "float": np.dtype(np.float64), "bool": np.dtype(bool), "int": np.dtype(np.int64)}


def export(frame: pd.DataFrame, path, fmt: str):
    """Write ``History.df`` as CSV (list and dict values: paths, tags, params, grades... as JSON text, which any
    reader parses back) or Parquet (tuples as lists). Returns the path."""
    import json
    from pathlib import Path

    def as_json(value):
        return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False, default=str)

    frame = frame.copy()
    for column in frame.select_dtypes(include="object").columns:
        if fmt == "csv":
            frame[column] = frame[column].map(lambda v: as_json(v) if isinstance(v, (tuple, list, dict)) else v)
        else:
            frame[column] = frame[column].map(lambda v: list(v) if isinstance(v, tuple) else v)
    (frame.to_csv if fmt == "csv" else frame.to_parquet)(path, index=False)
    return Path(path)


def handed_out(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy for the user: free under copy-on-write, a real copy on older pandas."""
    return frame.copy(deep=not COPY_ON_WRITE)


class _Columns:
    """One chunk's values, each field read once for the column being made."""

    def __init__(self, chunk: Chunk):
        self.chunk, self._values = chunk, {}

    def values(self, name: str) -> list:
        if name not in self._values:
            self._values[name] = self.chunk.column(name)
        return self._values[name]

    def tuples(self, name: str, prefixes: dict[str, str] | None = None, *, shared: bool = False) -> list:
        if ("tuples", name) not in self._values:
            self._values["tuples", name] = self.chunk.tuples(name, prefixes, shared=shared)
        return self._values["tuples", name]

    def forget(self) -> None:
        """Drop the values read so far, except the revised prompts (a column, and the per-image list)."""
        kept = self._values.get(("tuples", "revised_prompts"))
        self._values = {} if kept is None else {("tuples", "revised_prompts"): kept}

    def series(self, name: str) -> pd.Series:
        table = self.chunk.table
        if table is not None and name in table.column_names:
            return table.column(name).to_pandas()  # vectorised: no Python object per value
        return pd.Series(self.values(name), dtype=object)

    def template(self, key: str) -> pd.Series | list:
        if self.chunk.table is not None:
            return self.chunk.table.column("template").combine_chunks().field(key).to_pandas()
        return [t.get(key) if isinstance(t, dict) else None for t in self.values("template")]


def _typed(cols: _Columns, name: str, kind: str, values: list | None = None):
    """A scalar column in its dtype: vectorised from a bulk parse, made at once from dicts (no astype pass)."""
    dtype = _DTYPES[kind]
    table = cols.chunk.table
    if values is None and table is not None and name in table.column_names:
        series = table.column(name).to_pandas()
        if kind == "int" or (kind == "str" and default(name) is not None):  # a line from before the field
            series = series.fillna(default(name) or 0 if kind == "int" else default(name))
        return series.array if series.dtype == dtype else series.astype(dtype).array
    values = cols.values(name) if values is None else values
    if kind == "str" and default(name) is not None:  # a text field with a default: lines from before it have it too
        values = [default(name) if v is None else v for v in values]
    if kind == "int":
        empty = default(name) or 0
        return np.array([empty if v is None else v for v in values], dtype=np.int64)
    if kind == "bool":
        return np.array([bool(v) for v in values], dtype=bool)
    if kind == "float":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return pd.array(values, dtype=dtype)  # text and Int64: None is missing


def _column(cols: _Columns, name: str, folders: dict[str, str]):
    kind = KINDS[name]
    if name == "paths":  # full paths, in the folder of each record's session
        prefixes = {session: os.path.join(folder, "") for session, folder in folders.items()}
        return pd.Series([ps or () for ps in cols.tuples("paths", prefixes)], dtype=object)
    if name in ("template", "template_version"):
        raw = cols.template("name" if name == "template" else "version")
        return raw.astype(_DTYPES[kind]).array if isinstance(raw, pd.Series) else _typed(cols, name, kind, raw)
    if name == "revised_prompt":
        first = [next(filter(None, ps), None) if ps else None for ps in cols.tuples("revised_prompts", shared=True)]
        return _typed(cols, name, kind, first)
    if kind == "time":
        return pd.to_datetime(cols.series(name), utc=True, format="ISO8601", errors="coerce").dt.as_unit("us")
    if kind == "tuple":
        empty = default(name)
        return pd.Series([empty if v is None else v for v in cols.tuples(name, shared=True)], dtype=object)
    if kind == "dict":  # as users see them in the frame: keys whose value is None left out
        empty = default(name)
        return pd.Series([empty if v is None else v for v in cols.chunk.dicts(name)], dtype=object)
    if kind == "object":
        return pd.Series(cols.values(name), dtype=object)
    return _typed(cols, name, kind)


def chunk_frame(chunk: Chunk, folders: dict[str, str]) -> tuple[pd.DataFrame, list[tuple]]:
    """(the frame of a chunk's records, every record's revised prompts per image)."""
    cols, data = _Columns(chunk), {}
    for name in COLUMNS:
        data[name] = _column(cols, name, folders)
        cols.forget()  # what one column was made from goes before the next is made (the peak stays low)
    frame = pd.DataFrame(data, copy=False)
    return frame, [v or () for v in cols.tuples("revised_prompts", shared=True)]  # equal ones one tuple


def _joined(chunks: list[Chunk]) -> list[Chunk]:
    """Runs of chunks parsed in bulk put together where their types agree: one conversion, not one a piece."""
    out: list[Chunk] = []
    for chunk in chunks:
        last = out[-1] if out else None
        if chunk.table is None or last is None or last.table is None:
            out.append(chunk)
            continue
        import pyarrow as pa

        try:  # options inferred differently in two pieces get the keys of both (missing ones: None)
            out[-1] = Chunk(pa.concat_tables([last.table, chunk.table], promote_options="permissive"), None, (), None)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # values whose types do not agree
            out.append(chunk)
    return out


class Frames:
    """History.df and the views derived from it, extended as rows arrive (the store holds the lock)."""

    def __init__(self) -> None:
        self.frame = chunk_frame(Chunk(None, [], [], []), {})[0]
        self.revised: list[tuple] = []
        self.version = 0  # bumped when cells change: derived views are rebuilt then
        self._extensions = 0
        self.images = _Derived(_images_of)
        self.usage = _Derived(_usage_of)
        self.usage_by_tag = _Derived(lambda frames, start: _by_tag(_usage_of(frames, start)))

    def extend(self, chunks: Iterable[Chunk], folders: dict[str, str]) -> None:
        """Add these chunks' records at the end, in order."""
        parts = [chunk_frame(chunk, folders) for chunk in _joined([chunk for chunk in chunks if len(chunk)])]
        if not parts:
            return
        frames = [p[0] for p in parts]
        self.frame = pd.concat([self.frame, *frames] if len(self.frame) else frames, ignore_index=True)
        for _, revised in parts:
            self.revised += revised
        self._extensions += 1
        if self._extensions % _JOIN_CHUNKS == 0:
            self._join_chunks()

    def change(self, changes: dict[int, dict]) -> None:
        """Set rating, tags or note of these rows (row number -> the changed values)."""
        for column in UPDATABLE:
            cells = [(row, values[column]) for row, values in changes.items() if column in values]
            if not cells:
                continue
            series = self.frame[column].copy()
            for row, value in cells:
                series.iat[row] = tuple(value) if column == "tags" else value
            self.frame[column] = series
        self.version += 1

    def matching(self, rows: Sequence[int], *, prompt: str | None, group: str | None, status: str | None) -> list[bool]:
        """Which of these rows have the prompt substring (in any case), the group and the status."""
        part = self.frame if rows == range(len(self.frame)) else self.frame.iloc[list(rows)]
        keep = np.ones(len(part), dtype=bool)
        if prompt:
            keep &= part["prompt"].str.lower().str.contains(prompt.lower(), regex=False).fillna(False).to_numpy(bool)
        for column, value in (("group", group), ("status", status)):
            if value:
                keep &= (part[column] == value).fillna(False).to_numpy(bool)
        return keep.tolist()

    def _join_chunks(self) -> None:
        for name in self.frame.columns:
            array = self.frame[name].array
            if getattr(self.frame[name].dtype, "storage", None) == "pyarrow" and hasattr(array, "__arrow_array__"):
                self.frame[name] = pd.array(array.__arrow_array__().combine_chunks(), dtype=self.frame[name].dtype)


class _Derived:
    """A frame made from History.df rows, extended with new rows, rebuilt after cells changed."""

    def __init__(self, build):
        self.build, self.rows, self.version, self.frame = build, 0, -1, None

    def get(self, frames: Frames) -> pd.DataFrame:
        if self.frame is None or self.version != frames.version:
            self.frame, self.rows, self.version = self.build(frames, 0), len(frames.frame), frames.version
        elif self.rows < len(frames.frame):
            self.frame = pd.concat([self.frame, self.build(frames, self.rows)], ignore_index=True)
            self.rows = len(frames.frame)
        return self.frame


def _images_of(frames: Frames, start: int) -> pd.DataFrame:
    """One row per image of rows ``start:``: record id, index, path, prompt, size, model, status..."""
    frame = frames.frame.iloc[start:]
    counts = frame["paths"].map(len).to_numpy(dtype=np.int64)
    rows = np.repeat(np.arange(len(frame)), counts)
    index = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    part = frame[["id", "prompt", "model", "size", "quality", "status", "rating", "tags"]].take(rows)
    part = part.reset_index(drop=True)
    part.insert(1, "index", index.astype("int64"))
    part.insert(2, "path", pd.Series([p for ps in frame["paths"] for p in ps], dtype=object).astype(_DTYPES["str"]))
    revised = frames.revised[start:]
    part["revised_prompt"] = pd.Series([revised[r][i] if i < len(revised[r]) else None for r, i in zip(rows, index)],
                                       dtype=object).astype(_DTYPES["str"])
    return part[IMAGE_COLUMNS]


def _usage_of(frames: Frames, start: int) -> pd.DataFrame:
    """What rows ``start:`` add to a usage table, by every key it can be grouped by."""
    frame = frames.frame.iloc[start:]
    reused = frame["reused"].to_numpy(dtype=bool)
    tokens = frame["total_tokens"].fillna(0).astype("int64")
    return pd.DataFrame({
        "model": frame["model"], "profile": frame["profile"].fillna(""), "tags": frame["tags"],
        "day": frame["started_at"].dt.floor("D"), "status": frame["status"], "source": frame["source"],
        "size": frame["size"].fillna(""), "quality": frame["quality"].fillna(""), "session": frame["session"],
        "template": frame["template"].fillna(""), "requests": 1, "images": frame["images"].where(~reused, 0),
        "reused": reused.astype("int64"), "total_tokens": tokens.where(~reused, 0),
        "priced": (frame["status"] == "ok").to_numpy(dtype=bool) & ~reused, "all_images": frame["images"],
    }).reset_index(drop=True)


def _by_tag(base: pd.DataFrame) -> pd.DataFrame:
    """A usage base with a row per tag of each record (a record without tags under "")."""
    return base.assign(tags=base["tags"].map(lambda t: t or ("",))).explode("tags", ignore_index=True)


def usage_table(frames: Frames, by: str | Iterable[str], prices: dict | None) -> pd.DataFrame:
    """Requests, images, reused, tokens and estimated cost, grouped by ``by`` (see USAGE_KEYS)."""
    keys = [by] if isinstance(by, str) else list(by)
    bad = [k for k in keys if k not in USAGE_KEYS]
    if bad:
        raise ConfigurationError(f"usage(by=...) takes {', '.join(sorted(USAGE_KEYS))}, not {', '.join(bad)}")
    columns = [*keys, *_SUMMED, "cost"]
    base = (frames.usage_by_tag if "tags" in keys else frames.usage).get(frames)
    if base.empty:
        return pd.DataFrame(columns=columns)
    if prices:
        models = base["model"].unique()
        entries = {m: price_of(prices, m) for m in models}
        per_image = base["model"].map({m: float(e.get("per_image", 0.0)) if e else np.nan for m, e in entries.items()})
        per_1k = base["model"].map({m: float(e.get("per_1k_tokens", 0.0)) if e else np.nan for m, e in entries.items()})
        cost = per_image.astype(float) * base["all_images"] + per_1k.astype(float) * base["total_tokens"] / 1000
        base = base.assign(cost=cost.where(base["priced"], 0.0))
    grouped = base.groupby(keys, dropna=False, sort=True)
    result = grouped[_SUMMED].sum()
    result["cost"] = grouped["cost"].sum(min_count=1) if prices else float("nan")
    result = result.reset_index()
    if "day" in keys:
        result["day"] = result["day"].dt.strftime("%Y-%m-%d")
    return result[columns]
