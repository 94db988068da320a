"""A chunk of record lines as a load or a batch of appends hands them over: columns to build frames from.

A chunk is either a pyarrow Table (lines parsed in bulk) or dicts (lines parsed one by one, or Records
appended in this process); both give the same values, field by field, so the frames built from them
are the same whichever way the lines were read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_SLICE = 16_384  # rows of a list column turned into tuples at a time


@dataclass
class Chunk:
    """Record lines: ``table`` (pyarrow) or ``rows`` (dicts), and where each line is (file number, offset).

    A piece of one file parsed in bulk leaves the offsets to be found when first needed (``place``):
    then ``offsets`` is None, ``lines`` numbers each record's line in the piece and ``span`` is the piece.
    """

    table: Any
    rows: list[dict] | None
    files: Sequence[int]
    offsets: Sequence[int] | None
    lines: Sequence[int] | None = None
    span: tuple[int, int, int, int] | None = None  # file number, first byte, end, lines parsed

    def __len__(self) -> int:
        return len(self.rows) if self.rows is not None else self.table.num_rows

    def column(self, name: str) -> list:
        """One field's values as Python objects (None where a line leaves it out)."""
        if self.rows is not None:
            return [row.get(name) for row in self.rows]
        if name not in self.table.column_names:
            return [None] * len(self)
        return self.table.column(name).to_pylist()

    def tuples(self, name: str, prefixes: dict[str, str] | None = None, *, shared: bool = False) -> list[tuple | None]:
        """A list field's values as tuples (None where a line leaves it out); ``shared``: equal ones one object.

        With ``prefixes`` (session -> its folder and a separator), the items are file names made full paths.
        Made from the columns with no Python object on the way (what is made and dropped fragments memory).
        """
        seen: dict | None = {} if shared else None
        if self.rows is not None or name not in self.table.column_names:
            values = self.column(name)
            if prefixes is not None:
                heads = [prefixes.get(session, "") for session in self.column("session")]
                return [None if v is None else tuple([_join(head, p) for p in v]) for head, v in zip(heads, values)]
            return _share([None if v is None else tuple(v) for v in values], seen)
        column = self.table.column(name).combine_chunks()
        if not hasattr(column, "offsets"):  # not a list: whatever the inference made of it
            return _share([None if v is None else tuple(v) for v in column.to_pylist()], seen)
        sessions = self.table.column("session").combine_chunks() if prefixes is not None else None
        out: list[tuple | None] = []
        for start in range(0, len(column), _SLICE):  # a slice at a time: what is made on the way stays small
            part = column.slice(start, _SLICE)
            out += _share(_list_tuples(part, None if sessions is None else sessions.slice(start, _SLICE), prefixes),
                          seen)
        return out

    def dicts(self, name: str) -> list[dict | None]:
        """A dict field's values without the keys whose value is None (the bulk parser adds those).

        Equal dicts of scalars are one object (options repeat a lot): change a copy, never one in place.
        """
        if self.rows is not None or name not in self.table.column_names:
            return _shared_dicts(without_none(v) for v in self.column(name))
        import pyarrow as pa

        column = self.table.column(name).combine_chunks()
        kind = column.type
        if not pa.types.is_struct(kind) or any(pa.types.is_nested(kind.field(i).type) for i in range(kind.num_fields)):
            return _shared_dicts(without_none(v) for v in column.to_pylist())
        names = [kind.field(i).name for i in range(kind.num_fields)]
        valid = column.is_valid().to_pylist()
        if not names:  # {} on every line
            return [{} if ok else None for ok in valid]
        made: dict[tuple, dict] = {}  # one dict per distinct row of values, made from the columns
        shared = []
        for ok, key in zip(valid, zip(*(child.to_pylist() for child in column.flatten()))):
            if not ok:
                shared.append(None)
                continue
            if key not in made:
                made[key] = {k: v for k, v in zip(names, key) if v is not None}
            shared.append(made[key])
        return shared

    def sessions(self) -> list[tuple[str, int]]:
        """(session, file number) pairs of these lines, in the order they first appear."""
        if self.table is not None and len(set(self.files)) == 1:  # one file: its sessions, found in place
            import pyarrow.compute as pc

            return [(session, self.files[0]) for session in pc.unique(self.table.column("session")).to_pylist()]
        return list(dict.fromkeys(zip(self.column("session"), self.files)))

    def add_sums(self, sums) -> None:
        """Add these records to running usage ``Sums`` (grouped first where the lines are columns)."""
        if self.rows is not None:
            for r in self.rows:
                sums.add(r.get("model"), r.get("status") == "ok", r.get("reused"), r.get("images") or 0,
                         r.get("total_tokens") or 0)
            return
        import pyarrow as pa
        import pyarrow.compute as pc

        t = self.table
        columns = {"model": t["model"], "ok": pc.equal(t["status"], "ok").fill_null(False),
                   "reused": t["reused"].fill_null(False), "images": t["images"].fill_null(0),
                   "tokens": t["total_tokens"].fill_null(0)}
        groups = pa.table(columns).group_by(["model", "ok", "reused"]).aggregate(
            [("images", "sum"), ("tokens", "sum"), ("images", "count")])
        for g in groups.to_pylist():
            sums.add(g["model"], g["ok"], g["reused"], g["images_sum"], g["tokens_sum"], g["images_count"])

    def take(self, keep: Sequence[int]) -> Chunk:
        """Only these lines (by position), in this order."""
        def pick(values):
            return None if values is None else [values[i] for i in keep]

        rows, table = pick(self.rows), None if self.table is None else self.table.take(list(keep))
        return Chunk(table, rows, pick(self.files), pick(self.offsets), pick(self.lines), self.span)


def _share(values: list, seen: dict | None) -> list:
    """The values, equal ones one object (a tuple cannot be changed in place), when ``seen`` is a dict."""
    if seen is None:
        return values
    out = []
    for value in values:
        try:
            out.append(seen.setdefault(value, value))
        except TypeError:  # holds something that cannot be a key
            out.append(value)
    return out


def _list_tuples(column, sessions, prefixes: dict[str, str] | None) -> list[tuple | None]:
    """A pyarrow list array's values as tuples, file names made full paths with ``prefixes`` (see Chunk.tuples)."""
    import numpy as np

    flat = column.flatten()
    if prefixes is not None:
        flat = _full_paths(flat, sessions, column, prefixes)
    elif flat.null_count == len(flat):  # nothing but missing items (revised prompts, mostly): no values
        sizes = np.diff(column.offsets.to_numpy()).tolist()
        shared = {size: (None,) * size for size in set(sizes)}
        return [shared[size] for size in sizes] if not column.null_count else [
            shared[size] if ok else None for size, ok in zip(sizes, column.is_valid().to_pylist())]
    values = flat.to_numpy(zero_copy_only=False).tolist()  # one pass, not an object per list
    offsets = column.offsets.to_numpy()
    sizes = set(np.diff(offsets).tolist())
    if len(sizes) == 1 and not column.null_count:  # all of one length (two paths, two tags...): zip them
        size = sizes.pop()
        return list(zip(*(values[i::size] for i in range(size)))) if size else [()] * len(column)
    valid, starts = column.is_valid().to_numpy(zero_copy_only=False).tolist(), (offsets - offsets[0]).tolist()
    return [tuple(values[a:b]) if ok else None for a, b, ok in zip(starts, starts[1:], valid)]


def _shared_dicts(values) -> list:
    """The dicts, equal ones (same keys, same values of the same types) one object."""
    seen: dict = {}
    shared = []
    for value in values:
        try:
            shared.append(seen.setdefault(tuple((k, type(v), v) for k, v in value.items()), value))
        except (AttributeError, TypeError):  # None, or values that cannot be keys (lists, dicts)
            shared.append(value)
    return shared


def without_none(value):
    """A dict without the keys whose value is None, at every depth (how the frame shows dicts)."""
    if type(value) is dict:
        return {k: without_none(v) if type(v) in (dict, list) else v for k, v in value.items() if v is not None}
    if type(value) is list:
        return [without_none(v) if type(v) in (dict, list) else v for v in value]
    return value


def _join(prefix: str, name: str) -> str:
    """A file name in a folder (``prefix``: the folder and a separator), unless the name is a full path."""
    return name if os.path.isabs(name) else prefix + name


def _full_paths(names, sessions, lists, prefixes: dict[str, str]):
    """Each file name (a pyarrow array, items of ``lists``) made a full path in its line's session folder."""
    import pyarrow as pa
    import pyarrow.compute as pc

    known = pc.unique(sessions)
    heads = pa.array([prefixes.get(s, "") for s in known.to_pylist()], pa.string())
    per_item = heads.take(pc.index_in(sessions, value_set=known).take(pc.list_parent_indices(lists)))
    joined = pc.binary_join_element_wise(per_item, names, "")
    absolute = pc.starts_with(names, os.sep)
    if os.altsep:
        absolute = pc.or_(absolute, pc.starts_with(names, os.altsep))
    return pc.if_else(absolute, names, joined)
