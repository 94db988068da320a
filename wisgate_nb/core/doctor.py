"""%wisgate_doctor: what wisgate_nb sees, for troubleshooting in class. Never shows the key."""

from __future__ import annotations

import os
import sys

from .._version import __version__
from ..config import frontend_hint
from ..errors import WisGateError
from ..output import html
from .profiles import active_profile


def frontend() -> str:
    """Best guess of the notebook frontend (the kernel cannot always tell)."""
    hint = "Google Colab" if "google.colab" in sys.modules else frontend_hint()
    if hint:
        return hint
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover
        shell = None
    if shell is None:
        return "plain Python (no IPython)"
    if getattr(shell, "kernel", None) is None:
        return "IPython terminal"
    return "Jupyter (JupyterLab or Notebook; the kernel cannot tell which)"


def checks(session) -> list[tuple[str, str]]:
    """(label, finding) rows; each check catches its own failure."""
    cfg = session.config
    rows = [("wisgate_nb", _version()), ("Python", sys.version.split()[0]), ("frontend", frontend())]
    try:
        profile = active_profile(cfg)
        rows.append(("profile", f"{profile.name} (from {profile.source})" if profile else "none"))
    except WisGateError as exc:
        rows.append(("profile", f"problem: {exc}"))
    rows.append(("demo mode", "on: embedded demo server, no key, no network" if cfg.demo else "off"))
    rows.append(("API key", cfg.key_source()))
    try:
        target = session.target()
        rows.append(("endpoint", target.base_url + " (in-process)" if target.demo else target.base_url))
        rows.append(("model", cfg.model))
        rows.append(("endpoint answers", session.check_endpoint(target)))
    except WisGateError as exc:
        rows.append(("endpoint", f"not checked: {exc}"))
    streamed = [r for r in session.history.records if r.params.get("stream") and r.status == "ok"]
    rows.append(("streaming", "yes (a streamed request succeeded this session)" if streamed
                 else "not tried yet this session (try %%wisgate_image --stream)"))
    folder = session.history.folder or cfg.history_dir
    rows.append(("history folder", os.path.relpath(folder) if not os.path.isabs(cfg.history_dir) else str(folder)))
    totals = session.history.totals(cfg.prices or None)
    spent = f"{totals['requests']} requests, {totals['images']} images, {totals['total_tokens']} tokens"
    if totals["cost"] is not None:
        spent += f", estimated cost {totals['cost']:.2f}"
    rows.append(("this session", spent))
    return rows


def _version() -> str:
    return __version__


class Report:
    """The doctor's findings; renders as a table in a notebook and as text elsewhere."""

    def __init__(self, rows: list[tuple[str, str]]):
        self.rows = rows

    def __str__(self) -> str:
        width = max(len(label) for label, _ in self.rows)
        return "\n".join(f"{label:<{width}}  {value}" for label, value in self.rows)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return html.key_value_html(self.rows)


def report(session) -> Report:
    return Report(checks(session))
