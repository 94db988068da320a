"""%%wisgate_image --grade and %wisgate_grade, in a test InteractiveShell against the demo server on loopback."""

from __future__ import annotations

import pytest
from reliability_helpers import captured_html

from wisgate_nb.errors import ConfigurationError
from wisgate_nb.grade_magics import parse_grade_line


def _chats(server) -> list:
    return [r for r in server.emulator.requests if r.path.endswith("/chat/completions")]


def test_grade_flag_shows_the_grades_under_the_images(shell, session, server):
    html = captured_html(shell, '%%wisgate_image --size 256x256 -n 2 --grade "a red fox"\na red fox in the snow')
    images, table = html[-2], html[-1]
    assert "<img" in images and "a red fox in the snow" in images
    assert "<table" in table and table.count("5/5 pass") == 2 and "rubric: a red fox" in table
    assert len(_chats(server)) == 2
    grades = session.history.grades_df
    assert len(grades) == 2 and set(grades["score"]) == {5}
    judges = [r for r in session.history.records if r.request_kind == "grade"]
    assert len(judges) == 2 and {r.source for r in judges} == {"magic"} and {r.n for r in judges} == {0}


def test_grade_flag_grades_every_image_of_several_prompts(shell, session, server):
    html = captured_html(shell, '%%wisgate_image --size 256x256 --grade "a fox"\na red fox\n---\na blue car')
    assert html[-1].count("5/5 pass") == 1 and html[-1].count("1/5 fail") == 1
    assert len(_chats(server)) == 2


@pytest.mark.parametrize("line", ['--grade ""', "--grade '   '", '--grade "a fox" --bg'])
def test_a_bad_grade_flag_is_refused_before_anything_is_sent(shell, server, line):
    with pytest.raises(ConfigurationError):
        shell.run(f"%%wisgate_image --size 256x256 {line}\na fox")
    assert server.emulator.requests == []


def test_grade_line_magic_grades_the_last_results(shell, session, server):
    shell.run("%%wisgate_image --size 256x256 --no-display\na red fox\n---\na blue car")
    shell.run("%%wisgate_image --size 256x256 --no-display\na red fox at night")
    html = captured_html(shell, "%wisgate_grade last=2 a red fox")
    assert len(_chats(server)) == 2  # the last two results: one cell's second image and the next cell's
    assert "Grades by gpt-4.1-mini" in html[-1] and "2 of 2 image(s) graded" in html[-1]
    captured_html(shell, "%wisgate_grade last=5 a red fox")  # the judge's own records are not results
    assert len(_chats(server)) == 3  # only the one not graded yet is sent
    graded = session.history.grades_df
    assert sorted(graded["prompt"].unique()) == ["a blue car", "a red fox", "a red fox at night"]


@pytest.mark.parametrize("line, parsed", [
    ("a red fox", (1, "a red fox")),
    ("last=3 a red fox, at night", (3, "a red fox, at night")),
    ('last=2 "a red fox"', (2, "a red fox")),
    ("a fox's tail", (1, "a fox's tail")),
])
def test_grade_line_reads_last_and_the_rubric(line, parsed):
    assert parse_grade_line(line) == parsed


@pytest.mark.parametrize("line", ["", "last=2", "last=0 a fox", "last=x a fox"])
def test_grade_line_refuses_what_it_cannot_read(line):
    with pytest.raises(ConfigurationError, match="wisgate_grade"):
        parse_grade_line(line)
