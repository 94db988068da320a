"""Where every record of a history is: its row, its line in the log, and the Record itself if kept.

A History keeps the Records appended lately (the last ``RECENT``) as objects; any other Record is read
back, exactly as it was written, from its own line of the log (the file and byte offset are known),
with the updates made to it since. So 100,000 loaded records cost a few bytes each here, and asking
for twenty of them reads twenty lines.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import json
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .chunks import Chunk
from .columns import UPDATABLE
from .loading import place
from .record import Record

RECENT = 4096  # appended Records kept as objects; older ones are read back from their line when asked for


class Rows:
    """The row index of a history (thread-safe: rows are added from the engine thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._order: list[str] = []  # row -> record id
        self._rows: dict[str, int] = {}  # record id -> row
        self._file_of, self._offset_of = array("i"), array("q")  # row -> where its line is
        self._files: list[Path] = []
        self._file_numbers: dict[Path, int] = {}
        self._cache_keys: list[tuple[int, Any]] = [(0, [])]  # (first row, keys): pyarrow (loaded) or a list
        self._recent: OrderedDict[str, Record] = OrderedDict()
        self._changes: dict[str, dict] = {}  # record id -> rating/tags/note set by update lines
        self._unplaced: list[tuple[int, tuple, Sequence[int]]] = []  # (first row, span, lines): offsets unknown

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._rows

    def file_number(self, path: Path) -> int:
        with self._lock:
            if path not in self._file_numbers:
                self._file_numbers[path] = len(self._files)
                self._files.append(path)
            return self._file_numbers[path]

    def add(self, record: Record, number: int, offset: int) -> None:
        """A record just appended (its line is at ``offset`` of file ``number``)."""
        with self._lock:
            self._add(record.id, number, offset, record.cache_key)
            self._recent[record.id] = record
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)

    def _add(self, record_id: str, number: int, offset: int, cache_key: str | None) -> None:
        self._rows[record_id] = len(self._order)
        self._order.append(record_id)
        self._file_of.append(number)
        self._offset_of.append(offset)
        self._cache_keys[-1][1].append(cache_key)

    def add_loaded(self, files: Sequence[Path], chunks: list[Chunk]) -> list[Chunk]:
        """Rows for loaded record lines; returns the chunks without lines of an id seen again later."""
        ids = [chunk.column("id") for chunk in chunks]
        order = list(itertools.chain.from_iterable(ids))
        rows = dict(zip(order, range(len(order))))
        if len(rows) < len(order):  # an id twice: its last line stands
            last = {rid: (c, i) for c, chunk_ids in enumerate(ids) for i, rid in enumerate(chunk_ids)}
            keep = [[i for i, rid in enumerate(chunk_ids) if last[rid] == (c, i)] for c, chunk_ids in enumerate(ids)]
            chunks = [chunk.take(k) for chunk, k in zip(chunks, keep)]
            order = [chunk_ids[i] for chunk_ids, k in zip(ids, keep) for i in k]
            rows = dict(zip(order, range(len(order))))
        with self._lock:
            assert not self._order, "rows are loaded into a new history only"
            self._files, self._file_numbers = list(files), {file: number for number, file in enumerate(files)}
            self._order, self._rows = order, rows
            for chunk in chunks:
                first = len(self._file_of)
                if chunk.offsets is None:  # found on first need (``_place``): loading stays one parse
                    self._unplaced.append((first, chunk.span, chunk.lines))
                self._file_of.extend(array("i", chunk.files))
                self._offset_of.extend(array("q", chunk.offsets if chunk.offsets is not None else [-1] * len(chunk)))
                # cache keys stay where they are (no Python string per loaded row)
                keys = chunk.table.column("cache_key") if chunk.table is not None else chunk.column("cache_key")
                self._cache_keys.append((first, keys))
            self._cache_keys.append((len(self._order), []))  # appended rows from here
        return chunks

    def change(self, record_id: str, changes: dict) -> None:
        """Remember an update (rating, tags, note) of a record; a kept Record is replaced."""
        with self._lock:
            self._changes.setdefault(record_id, {}).update(changes)
            if record_id in self._recent:
                self._recent[record_id] = dataclasses.replace(self._recent[record_id], **changes)

    def apply(self, updates: Iterable[dict]) -> set[str]:
        """Apply loaded update lines (of records it has); the ids they changed."""
        changed = set()
        for line in updates:
            changes = {k: line[k] for k in UPDATABLE if k in line}
            if line.get("id") in self._rows and changes:
                if "tags" in changes:
                    changes["tags"] = tuple(changes["tags"] or ())
                self.change(line["id"], changes)
                changed.add(line["id"])
        return changed

    def changes_of(self, record_ids: Iterable[str]) -> dict[int, dict]:
        """Row -> every change made so far, for these records."""
        with self._lock:
            return {self._rows[i]: dict(self._changes[i]) for i in record_ids}

    def row_of(self, record_id: str) -> int:
        try:
            return self._rows[record_id]
        except KeyError:
            raise ConfigurationError(f"no record with id {record_id!r} in this history") from None

    def all_kept(self) -> bool:
        """True when every Record is at hand (nothing needs to be read back)."""
        return len(self._recent) == len(self._order)

    def kept(self) -> list[Record] | None:
        """Every Record in row order if all are kept, else None."""
        with self._lock:
            return list(self._recent.values()) if len(self._recent) == len(self._order) else None

    def with_cache_key(self, key: str) -> list[int]:
        """Rows made with this cache key, newest first."""
        with self._lock:
            segments = list(self._cache_keys)
        rows: list[int] = []
        for first, keys in segments:
            if isinstance(keys, list):
                rows += [first + i for i, value in enumerate(keys) if value == key]
            else:
                import pyarrow.compute as pc

                matches = pc.equal(keys, key).fill_null(False).to_numpy(zero_copy_only=False)
                rows += [first + int(i) for i in matches.nonzero()[0]]
        return rows[::-1]

    def _place(self, rows: list[int]) -> None:
        """Find the byte offsets of the lines of these rows' pieces, where not known yet."""
        with self._lock:
            firsts = [first for first, _, _ in self._unplaced]
            todo = {bisect.bisect_right(firsts, row) - 1 for row in rows if self._offset_of[row] < 0}
            pieces = [self._unplaced[i] for i in sorted(todo) if i >= 0]
            files = list(self._files)
        for first, span, lines in pieces:
            ids = self._order[first:first + len(lines)]
            try:
                offsets = place(files[span[0]], span, lines, ids)
            except OSError as exc:
                raise ConfigurationError(f"cannot read {files[span[0]]} any more ({exc}): load the history again") from exc
            with self._lock:
                self._offset_of[first:first + len(lines)] = array("q", offsets)
                self._unplaced = [piece for piece in self._unplaced if piece[0] != first]

    def records_at(self, rows: Iterable[int]) -> list[Record]:
        """The Records of these rows: kept ones as they are, the others read back from their lines."""
        rows = list(rows)
        if self._unplaced:
            self._place(rows)
        found: dict[int, Record] = {}
        wanted: dict[int, list[tuple[int, int, str, dict]]] = {}
        with self._lock:
            for row in rows:
                record_id = self._order[row]
                record = self._recent.get(record_id)
                if record is not None:
                    found[row] = record
                else:
                    where = wanted.setdefault(self._file_of[row], [])
                    where.append((self._offset_of[row], row, record_id, dict(self._changes.get(record_id, {}))))
            files = list(self._files)
        for number, lines in wanted.items():
            try:
                with open(files[number], "rb") as fh:
                    for offset, row, record_id, changes in sorted(lines):
                        line = b""  # an offset below 0: the line is not where it was
                        if offset >= 0:
                            fh.seek(offset)
                            line = fh.readline()
                        found[row] = _record_from_line(line, record_id, changes, files[number])
            except OSError as exc:
                raise ConfigurationError(f"cannot read {files[number]} any more ({exc}): load the history again") from exc
        return [found[row] for row in rows]


def _record_from_line(line: bytes, record_id: str, changes: dict, file: Path) -> Record:
    """The Record on one line of the log, with the updates made to it since."""
    try:
        data = json.loads(line)
    except ValueError:
        try:  # another record follows on the same line
            data = json.JSONDecoder().raw_decode(line.decode("utf-8"))[0]
        except ValueError:
            data = None
    if not isinstance(data, dict) or data.get("id") != record_id:
        raise ConfigurationError(f"{file} changed since it was loaded (record {record_id} is not where it was): "
                                 "load the history again")
    return dataclasses.replace(Record.from_json(data), **changes)
