"""Grades: what a judge said of each image, kept beside the history.

    <history_dir>/<session>/grades.jsonl   one JSON object per grade (append-only, flushed and fsynced)

A line names the record and the image's index, the digest of the image file's bytes, the rubric, the
judge model, and either ``score``/``pass``/``reason`` or ``error`` (an answer that could not be read is
a recorded failure, never a guessed score). The newest line for (record, index, rubric, judge) wins.
A grade is reused for any image with the same digest, rubric and judge: grading again costs nothing, also
after a kernel restart (the earlier sessions' grades of the same history folder: ``earlier.py``).
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from pathlib import Path

GRADES_FILE = "grades.jsonl"
FRAME_COLUMNS = ("grade", "grades", "grade_reason", "grade_rubric", "judge")  # what History.df gains
GRADE_COLUMNS = ["id", "index", "path", "prompt", "rubric", "judge", "score", "pass", "reason", "error",
                 "digest", "graded_at", "request"]


def cache_key(digest: str, rubric: str, judge: str) -> tuple[str, str, str]:
    return (digest, rubric.strip(), judge)


def grade_lines(data: bytes) -> tuple[list[dict], list[int]]:
    """The grade lines of a ``grades.jsonl``'s bytes, and the numbers of the lines that cannot be read."""
    lines, unread = [], []
    for number, text in enumerate(data.split(b"\n"), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
            if not isinstance(line, dict) or "id" not in line:
                raise ValueError("not a grade")
        except ValueError:
            unread.append(number)
            continue
        lines.append(line)
    return lines, unread


class GradeBook:
    """Every grade line of some session folders, read on first use, then added to as grades come."""

    def __init__(self, folders, earlier=None):
        self._lock = threading.Lock()
        self._earlier = earlier  # (digest, rubric, judge) -> a grade line of an earlier session, or None
        self.version = 0  # counts the lines added since it was read: History.df's grade columns follow it
        self.lines: list[dict] = []
        self._cache: dict[tuple, dict] = {}
        for folder in folders:
            path = Path(folder) / GRADES_FILE
            if path.exists():
                self._read(path)

    def _read(self, path: Path) -> None:
        lines, unread = grade_lines(path.read_bytes())
        for number in unread:  # a line a crash cut short: the others still count
            warnings.warn(f"grades: line {number} of {path} cannot be read", UserWarning, stacklevel=3)
        for line in lines:
            self._keep(line)

    def _keep(self, line: dict) -> None:
        self.lines.append(line)
        if line.get("error") is None and line.get("score") is not None:
            self._cache[cache_key(line["digest"], line["rubric"], line["judge"])] = line

    def cached(self, digest: str, rubric: str, judge: str) -> dict | None:
        """The newest successful grade of an image with these bytes, for this rubric and judge: this session's,
        else an earlier session's of the same history folder."""
        key = cache_key(digest, rubric, judge)
        with self._lock:
            known = self._cache.get(key)
        return known if known is not None or self._earlier is None else self._earlier(key)

    def add(self, line: dict, folder: Path) -> dict:
        """Write one grade line (flushed and fsynced) into ``folder``, then keep it."""
        text = (json.dumps(line, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        with self._lock:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / GRADES_FILE, "ab") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            self._keep(line)
            self.version += 1
        return line

    def latest(self) -> list[dict]:
        """The newest line for each (record, index, rubric, judge), in the order they were first graded."""
        with self._lock:
            newest: dict[tuple, dict] = {}
            for line in self.lines:
                newest[(line["id"], line.get("index", 0), line.get("rubric"), line.get("judge"))] = line
        return list(newest.values())

    def by_record(self) -> dict[str, tuple[str, str, list[dict]]]:
        """Each graded record's newest rubric and judge and their lines, by record id."""
        chosen: dict[str, tuple[str, str]] = {}
        lines = self.latest()
        for line in sorted(lines, key=lambda g: str(g.get("graded_at") or "")):
            chosen[line["id"]] = (line.get("rubric"), line.get("judge"))
        out: dict[str, tuple[str, str, list[dict]]] = {rid: (*chosen[rid], []) for rid in chosen}
        for line in lines:
            rubric, judge, kept = out[line["id"]]
            if (line.get("rubric"), line.get("judge")) == (rubric, judge):
                kept.append(line)
        return out


def record_grades(lines: list[dict]) -> tuple[float | None, tuple, str | None]:
    """(mean score over the graded images, each image's score by index, their reasons) of one record."""
    by_index = {int(g.get("index", 0)): g for g in lines}
    scores = tuple(by_index[i].get("score") if i in by_index else None for i in range(max(by_index) + 1))
    known = [s for s in scores if s is not None]
    reasons = [(i, by_index[i].get("reason") or by_index[i].get("error")) for i in sorted(by_index)]
    if len(reasons) == 1:
        reason = reasons[0][1]
    else:
        reason = "; ".join(f"{i + 1}: {text}" for i, text in reasons if text)
    return (sum(known) / len(known) if known else None), scores, reason or None


class Graded:
    """What a History knows of grades (a part of History: its lock, folders and frames)."""

    @property
    def grade_book(self) -> GradeBook:
        book = getattr(self, "_grade_book", None)
        if book is None:
            with self._lock:
                folders = {*self._folders.values(), *([self.folder] if self.folder is not None else [])}
            book = self._grade_book = GradeBook(sorted(folders), earlier=self._earlier.grade)
        return book

    def results(self, ids=None, *, prompt: str | None = None, last: int | None = None, group: str | None = None) -> list:
        """``select(...)`` without the judge's own requests (they made no image): ``last=N`` is the last N results."""
        wanted = last
        while True:
            records = self.select(ids, prompt=prompt, last=wanted, group=group)
            found = [r for r in records if r.request_kind == "image"]
            if not last or len(found) >= last or len(records) < wanted:
                return found[-last:] if last else found
            wanted *= 2  # judge requests among the last ones: look further back

    def _add_grade(self, line: dict) -> dict:
        """Keep one grade line in this session's folder (``grades.jsonl``)."""
        return self.grade_book.add(line, self.ensure_folder())

    @property
    def grades_df(self):
        """One row per graded image and rubric (the newest grade of each): score, pass, reason or error."""
        import pandas as pd

        rows = []
        for line in self.grade_book.latest():
            record = self[line["id"]] if line["id"] in self else None
            paths = self.full_paths(record) if record is not None else []
            index = int(line.get("index", 0))
            rows.append({**{c: line.get(c) for c in GRADE_COLUMNS}, "index": index,
                         "path": str(paths[index]) if index < len(paths) else None,
                         "prompt": record.prompt if record is not None else None})
        frame = pd.DataFrame(rows, columns=GRADE_COLUMNS)
        frame["score"] = frame["score"].astype("Int64")
        frame["pass"] = frame["pass"].astype("boolean")
        return frame

    def _graded(self, frame):
        """History.df with the grade columns: grade, grades, grade_reason, grade_rubric, judge.

        The columns are kept and extended as rows arrive (rows are only ever added at the end), and made
        again only after a grade came: a look at ``.df`` stays as cheap with them as without.
        """
        import pandas as pd

        book, rows = self.grade_book, len(frame)
        version, done, columns = getattr(self, "_grade_columns", None) or (-1, 0, {})
        if version != book.version or done > rows:
            done, columns = 0, {}
        if done < rows:
            new = _grade_columns(frame.iloc[done:], book)
            columns = {k: pd.concat([columns[k], v]) for k, v in new.items()} if columns else new
            self._grade_columns = (book.version, rows, columns)
        return frame.assign(**columns)


def _grade_columns(part, book: GradeBook) -> dict:
    """The grade columns of some rows of History.df (NaN and None where a record has no grade)."""
    import numpy as np
    import pandas as pd

    graded = book.by_record() if book.lines else {}
    summaries = {rid: (*record_grades(lines), rubric, judge) for rid, (rubric, judge, lines) in graded.items()}
    rows = [summaries.get(rid) for rid in part["id"]] if summaries else None
    text, index = part["prompt"].dtype, part.index
    if rows is None:  # nothing graded: the same value all down, made without a Python loop
        tuples = np.empty(len(part), dtype=object)
        tuples.fill(())
        return {"grade": pd.Series(np.full(len(part), np.nan), index=index), "grades": pd.Series(tuples, index=index),
                **{name: pd.Series(index=index, dtype=text) for name in ("grade_reason", "grade_rubric", "judge")}}

    def column(i: int, dtype, empty=None):
        return pd.Series([r[i] if r else empty for r in rows], index=index, dtype=dtype)

    return {"grade": column(0, float, np.nan), "grades": column(1, object, ()), "grade_reason": column(2, text),
            "grade_rubric": column(3, text), "judge": column(4, text)}
