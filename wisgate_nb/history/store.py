"""The history store: an append-only record of every request, on disk as it happens.

Layout of one session folder (portable: every path inside is relative to it)::

    <history_dir>/<session>/history.jsonl      one JSON object per line
    <history_dir>/<session>/<id>_<i>.<ext>     full-resolution images
    <history_dir>/<session>/<id>_<i>.thumb.jpg thumbnails shown in tables and contact sheets

A line is either a record (``"kind": "record"``) or an update to one (``"kind": "update"``:
rating, tags, note), so the file is only ever appended to, flushed and fsynced.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .record import Record, new_session_name
from .usage import totals

HISTORY_FILE = "history.jsonl"


class History:
    """Every request of a session (or of several loaded sessions), oldest first."""

    def __init__(self, folder: str | os.PathLike | None = None, *, session: str | None = None):
        self._lock = threading.Lock()
        self._records: dict[str, Record] = {}
        self._folders: dict[str, Path] = {}
        self.session = session
        self.folder = Path(folder) if folder is not None else None

    # -- writing -------------------------------------------------------------------------
    @classmethod
    def create(cls, history_dir: str | os.PathLike, session: str | None = None) -> History:
        """A new, empty session under history_dir; its folder is created on first write."""
        session = session or new_session_name()
        return cls(Path(history_dir) / session, session=session)

    def append(self, record: Record) -> Record:
        """Add a record and persist it (flushed and fsynced) before returning."""
        with self._lock:
            if record.id in self._records:
                raise ValueError(f"record {record.id} is already in the history")
            self._write_line(record.to_json())
            self._records[record.id] = record
            self._folders[record.session] = self.ensure_folder()
        return record

    def update(self, record_id: str, **changes: Any) -> Record:
        """Change rating, tags or note of a record (appended as an update line)."""
        allowed = {"rating", "tags", "note"}
        bad = set(changes) - allowed
        if bad:
            raise ConfigurationError(f"only {', '.join(sorted(allowed))} can be changed, not {', '.join(bad)}")
        if "rating" in changes and changes["rating"] is not None:
            rating = changes["rating"]
            if not isinstance(rating, int) or isinstance(rating, bool) or not 0 <= rating <= 5:
                raise ConfigurationError(f"rating must be a whole number from 0 to 5, got {rating!r}")
        if "tags" in changes:
            changes["tags"] = tuple(str(t) for t in changes["tags"])
        with self._lock:
            record = self._get(record_id)
            line = {"kind": "update", "id": record.id, "session": record.session, **changes}
            self._write_line(line, folder=self._folders.get(record.session))
            record = dataclasses.replace(record, **changes)
            self._records[record.id] = record
        return record

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

    def _write_line(self, data: dict, folder: Path | None = None) -> None:
        folder = folder or self.ensure_folder()
        line = json.dumps(data, ensure_ascii=False, default=str) + "\n"
        with open(folder / HISTORY_FILE, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    # -- reading -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Reload a session folder, or every session folder under a folder."""
        path = Path(path)
        if path.is_file():
            path = path.parent
        files = [path / HISTORY_FILE] if (path / HISTORY_FILE).exists() else sorted(path.glob(f"*/{HISTORY_FILE}"))
        if not files:
            raise ConfigurationError(f"no {HISTORY_FILE} in {path} or its sub-folders")
        history = cls(path if len(files) == 1 else None)
        for file in files:
            history._read_file(file)
        if len(files) == 1:
            history.session = next(iter(history._folders), None)
        return history

    def _read_file(self, file: Path) -> None:
        with open(file, encoding="utf-8") as fh:
            for line in fh:
                try:
                    data = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash: everything before it stands
                if data.get("kind") == "update":
                    record = self._records.get(data.get("id"))
                    if record is not None:
                        changes = {k: data[k] for k in ("rating", "tags", "note") if k in data}
                        if "tags" in changes:
                            changes["tags"] = tuple(changes["tags"])
                        self._records[record.id] = dataclasses.replace(record, **changes)
                    continue
                record = Record.from_json(data)
                self._records[record.id] = record
                self._folders[record.session] = file.parent

    @property
    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records.values())

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, key: str | int) -> Record:
        if isinstance(key, int):
            return self.records[key]
        return self._get(key)

    def _get(self, record_id: str) -> Record:
        try:
            return self._records[record_id]
        except KeyError:
            raise ConfigurationError(f"no record with id {record_id!r} in this history") from None

    def folder_of(self, record: Record) -> Path:
        return self._folders.get(record.session) or self.ensure_folder()

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
        records = [self._get(i) for i in ids] if ids else self.records
        if prompt:
            records = [r for r in records if prompt.lower() in r.prompt.lower()]
        if group:
            records = [r for r in records if r.group == group]
        if status:
            records = [r for r in records if r.status == status]
        if last:
            records = records[-last:]
        return records

    # -- views ---------------------------------------------------------------------------
    @property
    def df(self):
        """One row per request (no pixel data): the columns of DESIGN.md and more."""
        from .frames import records_frame

        return records_frame(self.records, self)

    @property
    def images_df(self):
        """One row per image: record id, index, path, prompt, size, model, status."""
        from .frames import images_frame

        return images_frame(self.records, self)

    def usage(self, by: str | Iterable[str] = "model", prices: dict | None = None):
        """Requests, images, tokens (and estimated cost with a price table) grouped by a column."""
        from .frames import usage_frame

        return usage_frame(self.records, by, prices)

    def totals(self, prices: dict | None = None) -> dict:
        """Images and tokens used so far (and estimated cost when prices are given)."""
        return totals(self.records, prices)

    def compare(self, ids: Sequence[str] | None = None, *, prompt: str | None = None, last: int | None = None,
                group: str | None = None, by: str | None = None):
        """Results side by side: a row per prompt, a column per parameter value that differs."""
        from .compare import Comparison

        records = self.select(ids, prompt=prompt, last=last, group=group)
        return Comparison(records, self, by=by)

    def to_csv(self, path: str | os.PathLike) -> Path:
        self.df.to_csv(path, index=False)
        return Path(path)

    def to_parquet(self, path: str | os.PathLike) -> Path:
        frame = self.df.copy()
        for column in ("paths", "tags"):
            frame[column] = frame[column].map(list)
        frame.to_parquet(path, index=False)
        return Path(path)

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

        return history_table(self, self.records[-20:], total=len(self))

    def __repr__(self) -> str:
        where = self.folder if self.folder is not None else f"{len(self._folders)} sessions"
        return f"<History {len(self)} records in {where}>"
