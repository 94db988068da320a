"""The earlier sessions of a history folder: their results and grades, for the caches after a kernel restart.

A restarted kernel writes a new session folder beside the old ones (``<history_dir>/<session>/``).
``cache=True`` and the grade cache look in this session first, then here: every other session folder of
the same history_dir, read once per History (on the first lookup) into a dict by cache key, newest first.
Nothing here writes: a reused result's files are linked from the old folder (``reuse.link_result``), never
moved or changed. A folder that cannot be read, or whose lines are not history records, is skipped, with
one warning for all of them (a damaged line costs only that line).
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from pathlib import Path

from .grades import GRADES_FILE, cache_key, grade_lines
from .record import Record

HISTORY_FILE = "history.jsonl"  # the same name as store.HISTORY_FILE (store imports this module)


class Earlier:
    """The other session folders beside ``folder``: results by cache key and grades by image, read lazily."""

    def __init__(self, folder: Path | None):
        self._own = folder
        self._lock = threading.Lock()
        self._results: dict[str, list[tuple[str, Path, int]]] | None = None
        self._grades: dict[tuple, dict] | None = None
        self._warned: set[Path] = set()
        self.folders: dict[str, Path] = {}  # session -> its folder, for each session a result was found in

    def _siblings(self) -> list[Path]:
        """The other session folders, newest name first (names start with the time they were made)."""
        root = self._own.parent if self._own is not None else None
        if root is None or not root.is_dir():
            return []
        try:
            found = [p for p in root.iterdir() if p.name != self._own.name and p.is_dir()]
        except OSError:
            return []
        return sorted(found, key=lambda p: p.name, reverse=True)

    def results(self, key: str) -> list[Record]:
        """The successful results of earlier sessions made with this cache key, newest first."""
        with self._lock:
            if self._results is None:
                self._results = self._read_results()
            found = list(self._results.get(key, ()))
        own = self._own.name if self._own is not None else None
        records = []
        for _, folder, offset in found:
            data = _line_at(folder / HISTORY_FILE, offset)
            try:
                record = Record.from_json(data) if data is not None and data.get("kind", "record") == "record" else None
            except (TypeError, ValueError):  # a line with a record's name but not its fields
                record = None
            if record is None or record.status != "ok" or record.cache_key != key or record.session == own:
                continue
            with self._lock:
                if self.folders.setdefault(record.session, folder) != folder:  # a copy of a folder: the first one
                    continue
            records.append(record)
        return records

    def grade(self, key: tuple) -> dict | None:
        """The newest successful grade line of earlier sessions for this (digest, rubric, judge)."""
        with self._lock:
            if self._grades is None:
                self._grades = self._read_grades()
            return self._grades.get(key)

    def _read_results(self) -> dict[str, list[tuple[str, Path, int]]]:
        """cache key -> (started_at, folder, byte offset) of each line that looks like a result, newest first.

        Lines are scanned, not parsed (100 sessions of 100 records: ~0.1 s scanned, ~0.7 s parsed line by line):
        a line is read whole, and checked, when its cache key is asked for.
        """
        by_key: dict[str, list[tuple[str, Path, int]]] = {}
        for folder, found in self._read_each(HISTORY_FILE, _scan):
            for key, started, offset in found:
                by_key.setdefault(key, []).append((started, folder, offset))
        for found in by_key.values():
            found.sort(key=lambda item: item[0], reverse=True)
        return by_key

    def _read_grades(self) -> dict[tuple, dict]:
        newest: dict[tuple, dict] = {}
        for _, lines in self._read_each(GRADES_FILE, _grade_lines):
            for line in lines:
                if line.get("error") is not None or line.get("score") is None or not line.get("digest"):
                    continue
                try:
                    key = cache_key(line["digest"], str(line.get("rubric") or ""), line.get("judge"))
                except TypeError:
                    continue
                if key not in newest or str(line.get("graded_at") or "") > str(newest[key].get("graded_at") or ""):
                    newest[key] = line
        return newest

    def _read_each(self, name: str, read) -> list[tuple[Path, list]]:
        """(folder, what ``read`` made of its file ``name``) of each other session folder that has one; the
        folders whose file it could not read (None) are named in one warning."""
        done, skipped = [], []
        for folder in self._siblings():
            if (folder / name).is_file():
                found = read(folder / name)
                if found is None:
                    skipped.append(folder)
                else:
                    done.append((folder, found))
        skipped = [folder for folder in skipped if folder not in self._warned]  # one warning per folder at most
        self._warned.update(skipped)
        if skipped:
            more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
            warnings.warn(f"cache: skipped {skipped[0]}{more}: its {name} is not a wisgate_nb history",
                          UserWarning, stacklevel=5)
        return done


# What the writer (json.dumps, default separators) puts on a record's line; a value holds no bare quote.
_KEY = re.compile(rb'"cache_key": "([^"\\]+)"')
_STARTED = re.compile(rb'"started_at": "([^"\\]*)"')
_ID, _OK = b'"id": "', b'"status": "ok"'


def _scan(path: Path) -> list[tuple[str, str, int]] | None:
    """(cache key, started_at, byte offset) of each line that looks like a successful result, or None where
    the file cannot be read or no line looks like a record (not a wisgate_nb history)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    found, records, offset = [], 0, 0
    for line in data.split(b"\n"):
        start, offset = offset, offset + len(line) + 1
        if _ID not in line:
            continue
        records += 1
        if _OK in line:
            started = _STARTED.search(line)
            when = started.group(1).decode("utf-8", "replace") if started else ""
            found += [(key.decode("utf-8", "replace"), when, start) for key in _KEY.findall(line)]
    return found if records else None


def _line_at(path: Path, offset: int) -> dict | None:
    """The JSON object on the line at ``offset`` of ``path``, or None (gone, cut short, not an object)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            value = json.loads(fh.readline())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _grade_lines(path: Path) -> list[dict] | None:
    """The grade lines of a grades.jsonl (a line that cannot be read is left out, as a crash may cut the last
    one short), or None where the file cannot be read or no line is a grade."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    out = [line for line in grade_lines(data)[0] if "digest" in line]
    return out if out or not data.strip() else None
