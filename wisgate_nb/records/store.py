"""The history store: an append-only record of every request, on disk as it happens.

Layout of one session folder (portable: every path inside is relative to it)::

    <history_dir>/<session>/history.jsonl      one JSON object per line
    <history_dir>/<session>/<id>_<i>.<ext>     full-resolution images
    <history_dir>/<session>/<id>_<i>.thumb.jpg thumbnails shown in tables and contact sheets

A line is either a record (``"kind": "record"``) or an update to one (``"kind": "update"``:
rating, tags, note), so the file is only ever appended to, flushed and fsynced.

In memory a History stays small and fast at 100,000 records: what the views need is kept in columns (``frames.py``: built
on first look, then extended as records arrive), totals are running sums (``spending.py``), and only recent Records are kept
as objects (``rows.py``: any other is read back from its own line). The JSON lines are the only truth (grades: ``grades.py``).
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .chunks import Chunk
from .columns import UPDATABLE
from .earlier import HISTORY_FILE, Earlier
from .grades import Graded
from .loading import read_logs, release
from .record import Record, new_session_name
from .rows import Rows
from .spending import Sums


class History(Graded):
    """Every request of a session (or of several loaded sessions), oldest first."""

    def __init__(self, folder: str | os.PathLike | None = None, *, session: str | None = None):
        self._lock = threading.Lock()  # writes, and what the frames have not shown yet
        self._frame_lock = threading.Lock()  # building and handing out the frames
        self._rows = Rows()
        self._dirty: set[str] = set()  # ids whose changes the frame does not show yet
        self._unframed: list[Chunk] = []  # loaded rows not in the frame yet
        self._unframed_records: list[Record] = []  # appended rows not in the frame yet
        self._frames = None
        self._sums = Sums()
        self._folders: dict[str, Path] = {}
        self._line_checked: set[Path] = set()
        self.session = session
        self.folder = Path(folder) if folder is not None else None
        self._earlier = Earlier(self.folder)  # the other sessions beside it, for the caches (read when first asked)

    # -- writing -------------------------------------------------------------------------
    @classmethod
    def create(cls, history_dir: str | os.PathLike, session: str | None = None) -> History:
        """A new, empty session under history_dir; its folder is created on first write."""
        session = session or new_session_name()
        return cls(Path(history_dir) / session, session=session)

    def append(self, record: Record) -> Record:
        """Add a record and persist it (flushed and fsynced) before returning."""
        with self._lock:
            if record.id in self._rows:
                raise ValueError(f"record {record.id} is already in the history")
            folder = self.ensure_folder()
            self._rows.add(record, *self._write_line(record.to_json(), folder))
            self._unframed_records.append(record)
            self._sums.add_record(record)
            self._folders[record.session] = folder
        return record

    def update(self, record_id: str, **changes: Any) -> Record:
        """Change rating, tags or note of a record (appended as an update line)."""
        bad = set(changes) - set(UPDATABLE)
        if bad:
            raise ConfigurationError(f"only {', '.join(sorted(UPDATABLE))} can be changed, not {', '.join(bad)}")
        if "rating" in changes and changes["rating"] is not None:
            rating = changes["rating"]
            if not isinstance(rating, int) or isinstance(rating, bool) or not 0 <= rating <= 5:
                raise ConfigurationError(f"rating must be a whole number from 0 to 5, got {rating!r}")
        if "tags" in changes:
            changes["tags"] = tuple(str(t) for t in changes["tags"])
        record = self[record_id]
        with self._lock:
            line = {"kind": "update", "id": record.id, "session": record.session, **changes}
            self._write_line(line, self._folders.get(record.session))
            self._rows.change(record.id, changes)
            self._dirty.add(record.id)
        return self[record_id]

    def rate(self, record_id: str, stars: int) -> Record:
        return self.update(record_id, rating=stars)

    def tag(self, record_id: str, *tags: str) -> Record:
        record = self[record_id]
        return self.update(record_id, tags=tuple(dict.fromkeys((*record.tags, *tags))))

    def annotate(self, record_id: str, note: str) -> Record:
        return self.update(record_id, note=note)

    def ensure_folder(self) -> Path:
        """The session folder, created if needed."""
        if self.folder is None:
            raise ConfigurationError("this history has no folder to write to")
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder

    def _write_line(self, data: dict, folder: Path | None = None) -> tuple[int, int]:
        """Append one line (flushed and fsynced); (file number, byte offset) of the line."""
        path = (folder or self.ensure_folder()) / HISTORY_FILE
        line = (json.dumps(data, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        with open(path, "a+b") as fh:
            offset = fh.seek(0, os.SEEK_END)
            if offset and path not in self._line_checked:  # a line a crash cut short stays alone on its line
                fh.seek(offset - 1)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")  # append mode: written at the end, wherever the last read was
                    offset += 1
            self._line_checked.add(path)
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        return self._rows.file_number(path), offset

    # -- reading -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Reload a session folder, or every session folder under a folder (read together, in bulk)."""
        path = Path(path)
        if path.is_file():
            path = path.parent
        files = [path / HISTORY_FILE] if (path / HISTORY_FILE).exists() else sorted(path.glob(f"*/{HISTORY_FILE}"))
        if not files:
            raise ConfigurationError(f"no {HISTORY_FILE} in {path} or its sub-folders")
        history = cls(path if len(files) == 1 else None)
        chunks, updates, problems = read_logs(files)
        for problem in problems:
            warnings.warn(f"history: {problem}", UserWarning, stacklevel=2)
        chunks = history._rows.add_loaded(files, chunks)
        for chunk in chunks:
            chunk.add_sums(history._sums)
            for session, number in chunk.sessions():
                history._folders[session] = files[number].parent
        history._unframed = [chunk for chunk in chunks if len(chunk)]
        history._dirty = history._rows.apply(updates)
        if len(files) == 1:
            history.session = next(iter(history._folders), None)
        return history

    @property
    def records(self) -> list[Record]:
        """Every record, oldest first (for many thousands, prefer .df, select(...) or history[-n:])."""
        kept = self._rows.kept()
        return kept if kept is not None else self._rows.records_at(range(len(self)))

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, record_id: object) -> bool:
        return isinstance(record_id, str) and record_id in self._rows

    def __iter__(self) -> Iterator[Record]:
        for start in range(0, len(self), 1024):
            yield from self._rows.records_at(range(start, min(start + 1024, len(self))))

    def __getitem__(self, key: str | int | slice):
        if isinstance(key, slice):
            return self._rows.records_at(range(len(self))[key])
        row = range(len(self))[key] if isinstance(key, int) else self._rows.row_of(key)
        return self._rows.records_at([row])[0]

    def _by_cache_key(self, key: str) -> Iterator[Record]:
        """Records made with this cache key, newest first (read one at a time)."""
        for row in self._rows.with_cache_key(key):
            yield self._rows.records_at([row])[0]

    def folder_of(self, record: Record) -> Path:
        return self._folders.get(record.session) or self._earlier.folders.get(record.session) or self.ensure_folder()

    def full_paths(self, record: Record) -> list[Path]:
        folder = self.folder_of(record)
        return [folder / p for p in record.paths]

    def thumb_paths(self, record: Record) -> list[Path]:
        folder = self.folder_of(record)
        return [folder / p for p in record.thumbs]

    def select(
        self,
        ids: Sequence[str] | None = None,
        *,
        prompt: str | None = None,
        last: int | None = None,
        group: str | None = None,
        status: str | None = None,
    ) -> list[Record]:
        """Records by ids, by a case-insensitive prompt substring, by group, or the last N."""
        rows: Sequence[int] = [self._rows.row_of(i) for i in ids] if ids else range(len(self))
        if prompt or group or status:
            if self._rows.all_kept():  # all at hand: no need for pandas
                keep = [(not prompt or prompt.lower() in r.prompt.lower()) and (not group or r.group == group)
                        and (not status or r.status == status) for r in self._rows.records_at(rows)]
            else:
                keep = self._view(lambda frames: frames.matching(rows, prompt=prompt, group=group, status=status))
            rows = [row for row, kept in zip(rows, keep) if kept]
        return self._rows.records_at(rows[-last:] if last else rows)

    # -- views ---------------------------------------------------------------------------
    def _view(self, look):
        """``look(frames)`` on frames that show every record so far (built on first use, then extended)."""
        with self._frame_lock:
            if self._frames is None:
                from .frames import Frames

                self._frames = Frames()
            with self._lock:
                chunks, self._unframed = self._unframed, []
                records, self._unframed_records = self._unframed_records, []
                dirty, self._dirty = self._dirty, set()
                folders = {session: str(folder) for session, folder in self._folders.items()}
            try:
                appended = [Chunk(None, [vars(r) for r in records], (), ())] if records else []
                self._frames.extend(chunks + appended, folders)
                if dirty:
                    self._frames.change(self._rows.changes_of(dirty))
            except BaseException:  # nothing is lost: the next look tries again
                with self._lock:
                    self._unframed[:0] = chunks
                    self._unframed_records[:0] = records
                    self._dirty |= dirty
                raise
            release(chunks)  # the frame has them now
            return look(self._frames)

    @property
    def df(self):
        """One row per request (no pixel data): the columns of DESIGN.md and more, and the grades."""
        from .frames import handed_out

        return self._graded(self._view(lambda frames: handed_out(frames.frame)))

    @property
    def images_df(self):
        """One row per image: record id, index, path, prompt, size, model, status."""
        from .frames import handed_out

        return self._view(lambda frames: handed_out(frames.images.get(frames)))

    def usage(self, by: str | Iterable[str] = "model", prices: dict | None = None):
        """Requests, images, tokens (and estimated cost with a price table) grouped by a column."""
        from .frames import usage_table

        return self._view(lambda frames: usage_table(frames, by, prices))

    def totals(self, prices: dict | None = None) -> dict:
        """Images and tokens used so far (and estimated cost when prices are given)."""
        with self._lock:
            return self._sums.totals(prices)

    def compare(self, ids: Sequence[str] | None = None, *, prompt: str | None = None, last: int | None = None,
                group: str | None = None, by: str | None = None):
        """Results side by side: a row per prompt, a column per parameter value that differs."""
        from .compare import Comparison

        records = self.results(ids, prompt=prompt, last=last, group=group)  # the judge's requests are not results
        return Comparison(records, self, by=by)

    def to_csv(self, path: str | os.PathLike) -> Path:
        from .frames import export  # list and dict columns as JSON text

        return export(self.df, path, "csv")

    def to_parquet(self, path: str | os.PathLike) -> Path:
        from .frames import export

        return export(self.df, path, "parquet")

    def contact_sheet(self, path: str | os.PathLike, *, records: Sequence[Record] | None = None,
                      title: str = "wisgate_nb contact sheet") -> Path:
        """A self-contained HTML page (thumbnails embedded, text escaped) to hand out."""
        from .views import contact_sheet

        html = contact_sheet(self, records if records is not None else self.records, title=title)
        path = Path(path)
        path.write_text(html, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        from .views import history_table

        return history_table(self, self.select(last=20), total=len(self))

    def __repr__(self) -> str:
        where = self.folder if self.folder is not None else f"{len(self._folders)} sessions"
        return f"<History {len(self)} records in {where}>"

