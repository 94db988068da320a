"""The house plan holds: layers import only downwards, no import cycles, modules readable in one sitting."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "wisgate_nb"

# Bottom to top. A module may import its own layer's modules and any layer below, never one above.
LAYERS = [
    # the base: words, settings, the option registry and its value checks, the extras of the install
    {"errors", "_secret", "_version", "values", "options", "config", "templates", "extras"},
    {"http", "output", "emulator"},  # HTTP only; notebook output; the demo server
    {"records"},  # the history: the record of every request, its files and views
    {"core", "grading"},  # requests, engine, session; grading images and experiments
    {"api", "magic", "grade_magics", "cell", "cli", "widgets", "gateway", "__init__"},  # the front doors
]
MAX_LINES = 300


@cache  # the tree does not change during a run; _imports asks for it once per imported name
def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(p for p in parts if p != "__init__") or "__init__"] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """The wisgate_nb modules a module imports, at the top or inside functions."""
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    if name == "__init__":
        package = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.startswith("wisgate_nb"):
                target = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                candidate = ".".join([*target, alias.name])
                found.add(candidate if candidate in _modules() else ".".join(target) or "__init__")
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".", 1)[1] for a in node.names if a.name.startswith("wisgate_nb.")}
    return {f for f in found if f and f != name}


def _layer(name: str) -> int:
    top = name.split(".")[0]
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


def test_every_module_belongs_to_a_layer():
    assert [name for name in _modules() if not any(name.split(".")[0] in layer for layer in LAYERS)] == []


def test_layers_import_only_downwards():
    upward = []
    for name, path in _modules().items():
        for imported in _imports(name, path):
            if _layer(imported) > _layer(name):
                upward.append(f"{name} -> {imported}")
    assert upward == []


def test_there_are_no_import_cycles():
    graph = {name: _imports(name, path) for name, path in _modules().items()}
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*trail[trail.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_modules_are_readable_in_one_sitting():
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_html_is_escaped_in_one_place():
    """``html.escape`` is called in output/html.py only (and the gateway's page modules)."""
    allowed = {"output.html", "gateway.page", "gateway.pages"}
    callers = sorted(name for name, path in _modules().items()
                     if "escape(" in path.read_text() and "from html import escape" in path.read_text()
                     and name not in allowed)
    assert callers == []


def test_no_name_is_both_a_module_and_something_else():
    """``wisgate_nb.X`` is one thing: a public function or class never shadows a module of the same name
    (``import wisgate_nb.X.y as z`` then fails with a puzzling error, and ``help()`` shows the wrong one)."""
    import importlib
    import pkgutil

    import wisgate_nb

    shadowed = [m.name for m in pkgutil.iter_modules(wisgate_nb.__path__)
                if getattr(wisgate_nb, m.name, None) not in (None, importlib.import_module(f"wisgate_nb.{m.name}"))]
    assert shadowed == []


def test_the_map_names_every_subpackage_and_every_layer():
    """docs/architecture.md is the project's map: a subpackage it does not name is a place no newcomer finds."""
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    subpackages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert subpackages and [name for name in subpackages if f"`{name}/`" not in text] == []
    top_modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "_version"))
    assert [name for name in top_modules if f"`{name}.py`" not in text] == []
