"""Reading history.jsonl files in bulk: columnar parses of ~16 MB pieces where pyarrow is installed.

The JSON lines stay the only truth: this module never writes. Files are memory-mapped and cut into
pieces at line ends (small files are put together into one piece), and each piece is parsed at once
by pyarrow's JSON reader. A piece it refuses (a damaged line, values whose types do not agree) is read
line by line, so damage costs speed for that piece only, never a record. What a load returns:

- ``Chunk``s of record lines (``chunks.py``), one per piece: a pyarrow Table (bulk) or dicts (line by
  line), with the file and byte offset of every line, so a Record can be read back exactly from its line;
- the update lines (rating, tags, note), parsed exactly (they are few);
- problems to warn about: a line cut short by a crash (always the last one), lines that are not records.
"""

from __future__ import annotations

import functools
import json
import mmap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .chunks import Chunk
from .columns import FIELDS, NOT_COLUMNS, arrow_schema

# What the frame and the index need from a line; the rest (usage, thumbnails...) is read with the Record.
KEPT = tuple(name for name in FIELDS if name not in NOT_COLUMNS or name in ("cache_key", "revised_prompts"))
PIECE = 16 << 20  # bytes parsed at once: bounds the parser's memory, and what one damaged line costs


def place(path: Path, span: tuple[int, int, int, int], lines: Sequence[int], ids: Sequence[str]) -> list[int]:
    """Byte offsets in ``path`` of these lines of a piece parsed in bulk (``ids``: their records' ids).

    One object per line is the rule the writer keeps; a piece written otherwise is placed by its ids.
    """
    _, start, stop, parsed = span
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(stop - start)
    found = _lines([(0, data, 0, len(data))], data)
    if found is not None and len(found[0]) == parsed:
        return [start + int(found[0][line]) for line in lines]
    chunk, _ = _line_by_line([(0, data, 0, len(data))], [path], [])
    at = {record_id: start + offset for record_id, offset in zip(chunk.column("id"), chunk.offsets)}
    return [at.get(record_id, -1) for record_id in ids]  # -1: not there any more


@functools.lru_cache(maxsize=1)
def _schema(pa):
    return arrow_schema(pa)


def _pyarrow():
    """(pyarrow, pyarrow.json), or None where pyarrow is not installed (then every line is parsed alone)."""
    try:
        import pyarrow as pa
        import pyarrow.json as pj
    except ImportError:
        return None
    return pa, pj


# A span is (file number, the mapped file, first byte, end): a run of whole lines of one file.
Span = tuple[int, Any, int, int]


def read_logs(paths: Sequence[Path]) -> tuple[list[Chunk], list[dict], list[str]]:
    """(record chunks in file order, update lines, problems) of these history.jsonl files."""
    maps, spans, problems = [], [], []
    for number, path in enumerate(paths):
        with open(path, "rb") as fh:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if path.stat().st_size else b""
        if data:
            maps.append(data)
        end, problem = _complete_lines(data)
        if problem:
            problems.append(f"{path}: {problem}")
        start = 0
        while start < end:  # big files in pieces, cut at line ends
            stop = min(end, data.find(b"\n", min(start + PIECE, end) - 1) + 1) or end
            spans.append((number, data, start, stop))
            start = stop
    chunks, updates = [], []
    arrow = _pyarrow()
    try:
        for piece in _pieces(spans):
            parsed = _bulk(arrow, piece) if arrow else None
            chunk, piece_updates = parsed if parsed is not None else _line_by_line(piece, paths, problems)
            chunks.append(chunk)
            updates += piece_updates
            for _, source, start, stop in piece:  # read: its pages need not stay in memory
                if isinstance(source, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
                    first = start - start % mmap.PAGESIZE
                    source.madvise(mmap.MADV_DONTNEED, first, stop - first)
    finally:
        spans = piece = None  # the views of the maps go before the maps close
        for data in maps:
            try:
                data.close()
            except BufferError:  # still seen from somewhere: closed when that goes
                pass
    return chunks, updates, problems


def release(chunks: list[Chunk]) -> None:
    """Drop parsed chunks and give pyarrow's freed memory back to the system (it keeps it otherwise)."""
    parsed = any(chunk.table is not None for chunk in chunks)
    chunks.clear()
    if parsed:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()


def _complete_lines(data) -> tuple[int, str | None]:
    """(end of the last complete line, what was cut off): a crash in mid-write leaves a line cut short."""
    if not data or data[-1:] == b"\n":
        return len(data), None
    cut = data.rfind(b"\n") + 1
    tail = data[cut:]
    try:
        if isinstance(json.loads(tail), dict):  # complete, it only lacks its newline
            return len(data), None
    except ValueError:
        pass
    if not tail.strip():
        return cut, None
    return cut, f"skipped the last line ({len(tail)} bytes), cut short (a crash while it was written?)"


def _pieces(spans: list[Span]) -> list[list[Span]]:
    """Spans put together into pieces of about PIECE bytes (many small session files parse as one)."""
    pieces: list[list[Span]] = []
    size = 0
    for span in spans:
        if not pieces or size + span[3] - span[2] > PIECE:
            pieces.append([])
            size = 0
        pieces[-1].append(span)
        size += span[3] - span[2]
    return pieces


def _buffer(piece: list[Span]):
    """The piece's bytes: a view of the mapped file for one span (no copy), else the spans joined."""
    if len(piece) == 1:
        _, source, start, stop = piece[0]
        return memoryview(source)[start:stop]
    return b"".join(source[start:stop] for _, source, start, stop in piece)


def _where(piece: list[Span], starts):
    """(file numbers, offsets in those files) of lines starting at these positions of the piece's buffer."""
    import numpy as np

    bounds = np.cumsum([0] + [stop - start for _, _, start, stop in piece])
    at = np.searchsorted(bounds, starts, side="right") - 1
    return np.asarray([s[0] for s in piece])[at], starts - bounds[at] + np.asarray([s[2] for s in piece])[at]


def _lines(piece: list[Span], buffer):
    """(starts, ends) in the buffer of its non-empty lines (numpy), or None if one does not start like an object."""
    import numpy as np

    starts, ends, base = [], [], 0
    for _, source, start, stop in piece:  # memchr through the file: faster than a vectorised scan
        pos = start
        while pos < stop:
            end = source.find(b"\n", pos, stop)
            end = stop if end < 0 else end
            if end > pos:
                starts.append(base + pos - start)
                ends.append(base + end - start)
            pos = end + 1
        base += stop - start
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    if len(starts) and not (np.frombuffer(buffer, np.uint8)[starts] == ord("{")).all():
        return None
    return starts, ends


def _bulk(arrow, piece: list[Span]):
    """(chunk, updates) from one columnar parse of a piece, or None if the parser refuses it."""
    import pyarrow.compute as pc

    pa, pj = arrow
    buffer = _buffer(piece)
    options = pj.ParseOptions(explicit_schema=_schema(pa), unexpected_field_behavior="infer")
    try:
        # the C library's allocator gives back what the parse let go; pyarrow's default keeps ~40 MB more per 100 MB
        table = pj.read_json(pa.py_buffer(buffer), read_options=pj.ReadOptions(block_size=_block_size(len(buffer))),
                             parse_options=options, memory_pool=pa.system_memory_pool())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, SystemError):  # not JSON, or types that do not unify
        return None
    is_update = pc.equal(table.column("kind"), "update").fill_null(False).to_numpy(zero_copy_only=False)
    keep = ~is_update & table.column("id").is_valid().to_numpy(zero_copy_only=False)
    if (~is_update & ~keep).any():
        return None  # a line that is no record: the line-by-line reader names it
    names = set(table.column_names)
    kept = table.select([n for n in KEPT if n in names])
    if "template" in kept.column_names:  # its name and version are columns; what fields it filled is not
        template = kept.column("template").combine_chunks()
        only = pa.StructArray.from_arrays([template.field("name"), template.field("version")], names=["name", "version"],
                                          mask=template.is_null())
        kept = kept.set_column(kept.column_names.index("template"), "template", only)
    if len(piece) == 1 and keep.all():  # one run of one file: where each line is, is found when needed
        number, _, start, stop = piece[0]
        return Chunk(kept, None, [number] * len(kept), None, range(len(kept)), (number, start, stop, len(kept))), []
    lines = _lines(piece, buffer)
    if lines is None or len(lines[0]) != table.num_rows:  # not one object per line: read it line by line
        return None
    (starts, ends), (files, offsets) = lines, _where(piece, lines[0])
    updates = [json.loads(bytes(buffer[a:b])) for a, b in zip(starts[is_update].tolist(), ends[is_update].tolist())]
    kept = kept.filter(pa.array(keep)) if updates else kept
    return Chunk(kept, None, files[keep].tolist(), offsets[keep].tolist()), updates


def _block_size(size: int) -> int:
    """Bytes the parser takes at a time: two blocks or more even for a small file (it parses blocks in
    parallel), at least 256 KiB (a longer line sends the piece to the line-by-line reader), at most 1 MiB."""
    return max(256 << 10, min(1 << 20, size // 2 + 1))


def _line_by_line(piece: list[Span], paths: Sequence[Path], problems: list[str]):
    """(chunk, updates) of a piece parsed a line at a time; lines that are not records are skipped."""
    rows, starts, updates, bad = [], [], [], {}
    offset = 0  # in the piece's buffer
    for number, source, first, end in piece:
        for line in source[first:end].removesuffix(b"\n").split(b"\n"):
            start, offset = offset, offset + len(line) + 1
            if not line.strip():
                continue
            for value, at in _values(line):
                if not isinstance(value, dict) or (value.get("kind") != "update" and not value.get("id")):
                    bad[number] = bad.get(number, 0) + 1
                elif value.get("kind") == "update":
                    updates.append(value)
                else:
                    rows.append({k: value[k] for k in KEPT if k in value})
                    starts.append(start + at)
    for number, count in bad.items():
        problems.append(f"{paths[number]}: skipped {count} line(s) that are not history records")
    import numpy as np

    files, offsets = _where(piece, np.asarray(starts, dtype=np.int64))
    return Chunk(None, rows, files.tolist(), offsets.tolist()), updates


def _values(line: bytes) -> list[tuple[Any, int]]:
    """The JSON values on a line, with their byte offsets in it: the writer puts one, hands may put more."""
    try:
        return [(json.loads(line), 0)]
    except ValueError:
        pass
    text, decoder, found, pos = line.decode("utf-8", "replace"), json.JSONDecoder(), [], 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        try:
            value, end = decoder.raw_decode(text, pos)
        except ValueError:
            return [*found, (None, 0)]  # damaged from here on
        found.append((value, len(text[:pos].encode())))
        pos = end
    return found
