"""The optional parts of the install (pyproject.toml's extras): which extra brings a module, and the one line
that says how to get it when it is missing — instead of a traceback."""

from __future__ import annotations

import importlib.util

# extra -> the modules it brings that wisgate_nb imports (pyproject.toml lists the same)
EXTRAS = {
    "emulator": ("uvicorn",),  # `wisgate-nb emulator`: the demo server on a port (demo mode runs without it)
    "gateway": ("sqlalchemy", "uvicorn"),  # `wisgate-nb gateway`: the classroom gateway on SQLite
    "postgres": ("psycopg",),  # the gateway on PostgreSQL (several processes)
    "hub": ("jupyterhub",),  # the gateway as a JupyterHub service
    "fast": ("pyarrow",),  # faster history loading
}


def install_line(extra: str) -> str:
    return f'pip install "wisgate-nb[{extra}]"'


def missing(extra: str, what: str) -> str | None:
    """The one-line message when a module of ``extra`` is not installed (``what`` needs it), else None."""
    for module in EXTRAS[extra]:
        if importlib.util.find_spec(module) is None:
            return f"{what} needs {module}, which is not installed: {install_line(extra)}"
    return None


def hint(exc: ImportError, what: str) -> str | None:
    """The one-line message for an ImportError of a module that an extra brings, else None."""
    top = (exc.name or "").split(".")[0]
    for extra, modules in EXTRAS.items():
        if top in modules:
            return f"{what} needs {top}, which is not installed: {install_line(extra)}"
    return None
