"""Mutation testing as configured (README, "Mutation testing"): every module mutmut mutates has its measured row in
the README's table, and every fast test it runs (or leaves out by name) exists."""

from __future__ import annotations

import re
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
MUTMUT = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
SECTION = (REPO / "README.md").read_text().split("### Mutation testing", 1)[1].split("\n## ", 1)[0]


def test_every_mutated_module_has_its_kill_rate_in_the_readme():
    rows = dict(re.findall(r"^\| `([\w/]+\.py)` \| (\d+ of \d+ \([\d.]+ %\))", SECTION, flags=re.M))
    modules = [m.removeprefix("wisgate_nb/") for m in MUTMUT["only_mutate"]]
    assert [m for m in modules if m not in rows] == []


def test_the_fast_tests_exist():
    files = MUTMUT["pytest_add_cli_args_test_selection"]
    assert files and [f for f in files if not (REPO / f).is_file()] == []
    deselected = [a for a in MUTMUT["pytest_add_cli_args"] if a.startswith("tests/")]
    for node in deselected:  # a test left out by name still exists under that name
        path, name = node.split("::")
        assert f"def {name}(" in (REPO / path).read_text()
