"""Grades as users hold them: one Grade per image, and Grades, which render themselves in a notebook."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..output import html
from ..output.thumbnails import data_uri, image_size
from ..records.views import thumbnail

GRADE_PX = 256


@dataclass(frozen=True)
class Grade:
    """What the judge said of one image: a score from 1 to 5, pass and a reason, or why there is none."""

    id: str  # the image's record
    index: int
    path: Path
    prompt: str
    rubric: str
    judge: str
    score: int | None = None
    passed: bool | None = None
    reason: str | None = None
    error: str | None = None  # the judge failed, or answered something that is not a grade
    cached: bool = False  # an earlier grade of the same bytes, rubric and judge: nothing was sent
    request: str | None = None  # the judge's own record in the history
    digest: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.score is not None

    def words(self) -> str:
        """``4/5 pass``, ``2/5 fail``, or the failure."""
        if not self.ok:
            return f"not graded: {self.error}"
        return f"{self.score}/5 {'pass' if self.passed else 'fail'}" + (" (cached)" if self.cached else "")

    @classmethod
    def from_line(cls, line: dict, path: Path, prompt: str, *, cached: bool = False) -> Grade:
        return cls(line["id"], int(line.get("index", 0)), path, prompt, line["rubric"], line["judge"],
                   line.get("score"), line.get("pass"), line.get("reason"), line.get("error"), cached,
                   line.get("request"), line.get("digest", ""))


def mean_score(grades: Sequence[Grade]) -> float:
    scores = [g.score for g in grades if g.ok]
    return sum(scores) / len(scores) if scores else math.nan


def pass_rate(grades: Sequence[Grade]) -> float:
    """The share of graded images that pass (NaN when none was graded)."""
    graded = [g for g in grades if g.ok]
    return sum(bool(g.passed) for g in graded) / len(graded) if graded else math.nan


class Grades:
    """The grades of some images for one rubric and judge, in the order the images were given."""

    def __init__(self, grades: Sequence[Grade], history, *, rubric: str, judge: str):
        self.grades = list(grades)
        self.history = history
        self.rubric = rubric
        self.judge = judge

    def __len__(self) -> int:
        return len(self.grades)

    def __iter__(self) -> Iterator[Grade]:
        return iter(self.grades)

    def __getitem__(self, index: int) -> Grade:
        return self.grades[index]

    @property
    def mean(self) -> float:
        """The mean score of the graded images (NaN when none was graded)."""
        return mean_score(self.grades)

    @property
    def pass_rate(self) -> float:
        return pass_rate(self.grades)

    @property
    def failures(self) -> list[Grade]:
        """The images the judge could not grade (the history has its request)."""
        return [g for g in self.grades if not g.ok]

    @property
    def df(self):
        """One row per image: record id, index, path, prompt, score, pass, reason, error, cached."""
        import pandas as pd

        frame = pd.DataFrame([{"id": g.id, "index": g.index, "path": str(g.path), "prompt": g.prompt,
                               "score": g.score, "pass": g.passed, "reason": g.reason, "error": g.error,
                               "cached": g.cached} for g in self.grades],
                             columns=["id", "index", "path", "prompt", "score", "pass", "reason", "error", "cached"])
        return frame.astype({"score": "Int64", "pass": "boolean"})

    def summary_line(self) -> str:
        graded = len(self.grades) - len(self.failures)
        if not graded:
            return f"{len(self.grades)} image(s), none graded"
        line = f"{graded} of {len(self.grades)} image(s) graded: mean {self.mean:.2f}/5, pass {self.pass_rate:.0%}"
        cached = sum(g.cached for g in self.grades)
        return line + (f" ({cached} from the cache)" if cached else "")

    def results(self, px: int = GRADE_PX) -> list[html.Result]:
        """Each image with its grade under it."""
        out = []
        for g in self.grades:
            record = self.history[g.id] if g.id in self.history else None
            found = thumbnail(self.history, record, g.index, px) if record is not None else None
            alt = _alt(g, len(record.paths) if record is not None else 1)
            tiles = (html.Tile(data_uri(*found), href=html.link_for(g.path), alt=alt, size=image_size(found[0])),) \
                if found else ()
            caption = [g.words(), g.reason or ""] if g.ok else [g.words()]
            out.append(html.Result(tiles, caption, error=None if tiles else "image file missing"))
        return out

    def html(self) -> str:
        title = f"Grades by {self.judge}: {html.short(self.rubric, 120)}"
        return html.grid_html(self.results(), title=title, note=self.summary_line(), px=GRADE_PX)

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return f"<Grades {self.summary_line()}; rubric {html.short(self.rubric, 60)!r}, judge {self.judge}>"


def _alt(g: Grade, count: int) -> str:
    return f"{html.short(g.prompt, 150)}, image {g.index + 1} of {count}, graded {g.words()}"
