"""The grading magics: ``%wisgate_grade [last=N] RUBRIC``, and what ``%%wisgate_image --grade RUBRIC`` shows."""

from __future__ import annotations

from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from IPython.display import HTML, display

from .core.session import current
from .errors import ConfigurationError
from .grading.run import grade
from .output import html

USAGE = '%wisgate_grade [last=N] RUBRIC, e.g. %wisgate_grade last=4 a red fox in the snow, at night'


def parse_grade_line(line: str) -> tuple[int, str]:
    """(N, rubric) of ``[last=N] RUBRIC``; ConfigurationError with the usage otherwise."""
    first, _, rest = line.strip().partition(" ")
    count, rubric = 1, line.strip()
    if first.startswith("last="):
        value = first.removeprefix("last=")
        if not value.isdigit() or int(value) < 1:
            raise ConfigurationError(f"last={value}: give a whole number of records, at least 1 ({USAGE})")
        count, rubric = int(value), rest.strip()
    if not rubric:
        raise ConfigurationError(f"a rubric is needed: {USAGE}")
    quoted = len(rubric) > 1 and rubric[0] == rubric[-1] and rubric[0] in "\"'"
    return count, rubric[1:-1].strip() if quoted else rubric


def grades_table_html(grades) -> str:
    """The grades of a cell's images, under them: one line per image."""
    rows = [((f"{g.index + 1}", g.words(), g.reason or ""), ()) for g in grades]
    note = f"judge {grades.judge} · rubric: {html.short(grades.rubric, 200)} · {grades.summary_line()}"
    return html.table_html(["image", "grade", "reason"], rows, note=note)


def grade_cell(target, rubric: str, *, show: bool):
    """Grade what a cell made and show the grades under its images; returns the Grades."""
    grades = grade(current(), target, rubric, source="magic", show_progress=show)
    if show:
        display(HTML(grades_table_html(grades)))
    return grades


@magics_class
class GradeMagics(Magics):
    """The grading magic."""

    @no_var_expand
    @line_magic
    def wisgate_grade(self, line: str = ""):
        """Grade the last N results against a rubric with the judge model (%config WisGate.judge).

        %wisgate_grade a red fox in the snow            the last result
        %wisgate_grade last=4 a red fox in the snow     the last 4 results

        Shows each image with its score (1-5), pass and the judge's reason; returns the Grades.
        """
        count, rubric = parse_grade_line(line)
        records = [r for r in current().history.results(last=count) if r.status == "ok" and r.paths]
        if not records:
            raise ConfigurationError(f"the last {count} result(s) of this session have no image to grade")
        grades = grade(current(), records, rubric, source="magic")
        display(grades)
        return None
