"""An experiment: a sweep whose every image is graded against one rubric, and its variants ranked by numbers.

A variant is one request of the sweep (a prompt with one combination of the varied settings) and its n
images. Run again with the same arguments, an interrupted experiment resumes: the sweep asks with the
cache on, so the requests that were done are reused from the history, and their grades from the grade cache.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..output import html
from ..records import Generation, Record
from ..records.compare import Comparison
from ..records.spending import price_of
from .judge import HIGHEST, LOWEST
from .result import GRADE_PX, Grade, Grades, pass_rate
from .stats import mean_interval

SUMMARY_COLUMNS = ["rank", "variant", "prompt", "mean", "ci_low", "ci_high", "pass_rate", "images", "graded",
                   "cost", "id"]


@dataclass(frozen=True)
class Variant:
    """One request of the experiment: its label, its record, and the grades of its images."""

    label: str
    record: Record
    grades: tuple[Grade, ...]

    @property
    def scores(self) -> list[int]:
        return [g.score for g in self.grades if g.ok]

    def numbers(self) -> tuple[float, float, float]:
        """(mean, low, high) of its graded images: see ``stats.mean_interval``; the interval kept within the
        judge's scale (no score lies beyond 1 or 5, so neither does a mean's interval)."""
        mean, low, high = mean_interval(self.scores)
        return mean, max(low, LOWEST), min(high, HIGHEST)  # NaN (one score) stays NaN

    @property
    def pass_rate(self) -> float:
        return pass_rate(self.grades)


class Experiment:
    """The sweep's records, every image's grade, and the variants ranked by mean score."""

    def __init__(self, records: Sequence[Record], grades: Grades, history, *, prices: dict | None = None):
        self.records = list(records)
        self.grades = grades
        self.history = history
        self.prices = prices or None
        labels = Comparison(self.records, history)
        by_image = {(g.id, g.index): g for g in grades}
        self.variants = [Variant(labels.label(r) or r.prompt, r,
                                 tuple(by_image[r.id, i] for i in range(len(r.paths)) if (r.id, i) in by_image))
                         for r in self.records]

    def ranked(self) -> list[Variant]:
        """The variants, best mean score first (ungraded ones last; ties keep the order asked)."""
        def key(v: Variant) -> float:
            mean = v.numbers()[0]
            return -mean if not math.isnan(mean) else math.inf

        return sorted(self.variants, key=key)

    def best(self) -> Generation:
        """The top variant's result (its images; it renders itself)."""
        top = self.ranked()[0] if self.variants else None
        if top is None or not top.scores:
            raise ValueError("no variant of this experiment was graded")
        record = top.record
        return Generation(record, tuple(self.history.full_paths(record)), tuple(self.history.thumb_paths(record)))

    def _cost(self, variant: Variant) -> float:
        """What the variant's images and their grading cost by the price table (NaN without one)."""
        if not self.prices:
            return math.nan
        record, cost = variant.record, 0.0
        entry = price_of(self.prices, record.model) or {}
        tokens = (record.usage or {}).get("total_tokens") or 0
        cost += float(entry.get("per_image", 0.0)) * record.images + float(entry.get("per_1k_tokens", 0.0)) * tokens / 1000
        for g in variant.grades:
            judge = self.history[g.request] if g.request and g.request in self.history and not g.cached else None
            if judge is not None:
                per_1k = float((price_of(self.prices, judge.model) or {}).get("per_1k_tokens", 0.0))
                cost += per_1k * (judge.total_tokens or 0) / 1000
        return round(cost, 6)

    def summary(self):
        """One row per variant, best first: mean score, its 95 % t interval (NaN for one image), pass rate,
        images, images graded, cost (with a price table), record id."""
        import pandas as pd

        rows = []
        for rank, v in enumerate(self.ranked(), 1):
            mean, low, high = v.numbers()
            rows.append([rank, v.label, v.record.prompt, mean, low, high, v.pass_rate, len(v.record.paths),
                         len(v.scores), self._cost(v), v.record.id])
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

    @property
    def df(self):
        """One row per image: its variant, record id, index, path, score, pass, reason, error."""
        import pandas as pd

        rows = [{"variant": v.label, "prompt": v.record.prompt, "id": g.id, "index": g.index, "path": str(g.path),
                 "score": g.score, "pass": g.passed, "reason": g.reason, "error": g.error}
                for v in self.variants for g in v.grades]
        frame = pd.DataFrame(rows, columns=["variant", "prompt", "id", "index", "path", "score", "pass", "reason",
                                            "error"])
        return frame.astype({"score": "Int64", "pass": "boolean"})

    def html(self) -> str:
        """The ranked grid: a row per variant, best first, each image with its score."""
        results = []
        per_image = {(g.id, g.index): r for g, r in zip(self.grades, self.grades.results(GRADE_PX // 2))}
        for rank, v in enumerate(self.ranked(), 1):
            mean, low, high = v.numbers()
            interval = f" [{low:.2f}, {high:.2f}]" if not math.isnan(low) else ""
            numbers = (f"mean {mean:.2f}/5{interval} · pass {v.pass_rate:.0%}" if v.scores
                       else "not graded")
            tiles = tuple(t for g in v.grades for t in per_image[g.id, g.index].images)
            error = None if tiles else (v.record.error or "no image")
            results.append(html.Result(tiles, [numbers, *(f"{g.index + 1}: {g.words()}" for g in v.grades)],
                                       label=f"#{rank} {v.label}", error=error))
        title = f"Experiment: {len(self.variants)} variants, rubric {html.short(self.grades.rubric, 120)}"
        return html.grid_html(results, title=title, note=f"judge {self.grades.judge}; 95 % t intervals",
                              px=GRADE_PX // 2)

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return f"<Experiment {len(self.variants)} variants, {len(self.grades)} images; {self.grades.summary_line()}>"


def run_experiment(session, prompts=None, *, template: str | None = None, rubric: str, n: int = 4,
                   judge: str | None = None, demo: bool | None = None, tags=(), show_progress: bool = True,
                   **param_lists) -> Experiment:
    """Check everything (rubric, judge, the sweep's requests), run the sweep with the cache on, grade every image."""
    from ..core import runner
    from ..errors import ConfigurationError
    from ..output.shows import Progress
    from ..records.compare import ids_in_order
    from .judge import check_rubric
    from .run import grade

    rubric = check_rubric(rubric)
    if not (judge or session.config.judge).strip():
        raise ConfigurationError("no judge model: %config WisGate.judge = 'gpt-4.1-mini'")
    prompts = (prompts,) if isinstance(prompts, str) else tuple(prompts or ())
    ask = runner.Ask(prompts, template=template, vary={"n": n, **param_lists}, tags=tags, demo=demo,
                     cache=True, sweep=True)
    batch = runner.run(session, runner.plan(session, ask), Progress(enabled=show_progress), batch=True)
    history = session.history
    records = [history[i] for i in ids_in_order(batch.results)]
    made = [r for r in records if r.status == "ok" and r.paths]
    grades = (grade(session, made, rubric, judge=judge, demo=demo, show_progress=show_progress) if made
              else Grades([], history, rubric=rubric, judge=judge or session.config.judge))
    return Experiment(records, grades, history, prices=session.config.prices)
