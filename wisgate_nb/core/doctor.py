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
    target = None
    try:
        target = session.target()
        rows.append(("endpoint", target.base_url + " (in-process)" if target.demo else target.base_url))
        rows.append(("model", cfg.model))
        rows.append(("endpoint answers", session.check_endpoint(target)))
        if not target.demo:
            left = session.quota(target)
            rows.append(("quota", left.text if left else "none reported (not a classroom gateway)"))
    except WisGateError as exc:
        rows.append(("endpoint", f"not checked: {exc}"))
    rows.append(("streaming", streaming(session, target)))
    folder = session.history.folder or cfg.history_dir
    rows.append(("history folder", os.path.relpath(folder) if not os.path.isabs(cfg.history_dir) else str(folder)))
    totals = session.history.totals(cfg.prices or None)
    spent = f"{totals['requests']} requests, {totals['images']} images, {totals['total_tokens']} tokens"
    if totals["cost"] is not None:
        spent += f", estimated cost {totals['cost']:.2f}"
    rows.append(("this session", spent))
    return rows


def streaming(session, target) -> str:
    """What this session saw of streamed requests to the endpoint, in words."""
    why = session.stream_fallback(target) if target is not None else None
    if why is not None:
        return (f"no: this endpoint did not stream ({why}); streamed requests are sent without streaming "
                "this session and show the final images only")
    asked = [r for r in session.history.records if r.params.get("stream")]
    if any(r.status == "ok" and not r.stream_fallback for r in asked):
        return "yes (a streamed request succeeded this session)"
    fell_back = [r for r in asked if r.stream_fallback]
    if fell_back:
        return f"no: streamed requests came without streaming this session ({fell_back[-1].stream_fallback})"
    failed = [r for r in asked if r.status == "error"]
    if failed:
        last = failed[-1]
        words = "request" if len(failed) == 1 else "requests"
        return (f"failing: {len(failed)} streamed {words} failed this session "
                f"(last: {last.error_type}: {html.short(last.error or '', 160)})")
    return "not tried yet this session (try %%wisgate_image --stream)"


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
