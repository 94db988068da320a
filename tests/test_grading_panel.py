"""The panel's History tab shows grades and sorts by them (plain widget objects, the in-process demo server)."""

from __future__ import annotations

import pytest

import wisgate_nb
from wisgate_nb.widgets import Panel


@pytest.fixture
def panel(demo_session):
    p = Panel(demo_session)
    yield p
    p.close()


def _order(panel) -> list[str]:
    rows = {row.box: row.record.prompt for row in panel._history_tab.rows.values()}
    return [rows[box] for box in panel._history_tab._rows.children]


def test_history_tab_shows_grades_and_sorts_by_them(panel, demo_session):
    car = wisgate_nb.generate("a blue car", size="256x256")
    fox = wisgate_nb.generate("a red fox", size="256x256")
    cat = wisgate_nb.generate("a cat", size="256x256")  # never graded
    wisgate_nb.grade([car, fox], "a red fox")
    tab = panel._history_tab
    panel._switch.value = "History"
    tab.refresh()
    assert _order(panel) == ["a cat", "a red fox", "a blue car"]  # newest first; the judge's requests are not rows
    assert "grade 5.0/5 for “a red fox”" in tab.rows[fox.id].info.value
    assert "grade 1.0/5" in tab.rows[car.id].info.value and "grade" not in tab.rows[cat.id].info.value
    tab._sort.value = "grade"
    assert _order(panel) == ["a red fox", "a blue car", "a cat"]  # best first, the ungraded last
    tab._sort.value = "newest"
    assert _order(panel) == ["a cat", "a red fox", "a blue car"]
