"""The sessions kept in a history folder: list them, open one (after a kernel restart, for instance).

Every kernel writes its own session folder, ``<history_dir>/<session>/history.jsonl``, so a restarted kernel
starts an empty history; ``sessions()`` lists the folders that hold one (newest first) and ``open_session``
loads one of them by id, or ``"previous"``: the newest other than the running one. ``History.load`` of the
whole folder reads every session together; its frame's ``session`` column keeps their records apart.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from ..errors import ConfigurationError
from .store import HISTORY_FILE, History

COLUMNS = ("session", "started", "ended", "requests", "images", "folder")


def _folders(history_dir: str | os.PathLike) -> list[Path]:
    root = Path(history_dir).expanduser()
    return sorted(p.parent for p in root.glob(f"*/{HISTORY_FILE}")) if root.is_dir() else []


def _load(folder: Path) -> History:
    with warnings.catch_warnings():  # a torn last line is reported when the session itself is opened
        warnings.simplefilter("ignore")
        return History.load(folder)


def sessions(history_dir: str | os.PathLike):
    """A DataFrame of the sessions in ``history_dir``, newest first: id, first and last request, counts, folder."""
    import pandas as pd

    rows = []
    for folder in _folders(history_dir):
        history = _load(folder)
        if not len(history):
            continue
        totals = history.totals()
        rows.append((folder.name, history[0].started_at, history[-1].started_at, totals["requests"],
                     totals["images"], str(folder)))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.sort_values("started", ascending=False, kind="stable").reset_index(drop=True)


def open_session(history_dir: str | os.PathLike, session: str, current: str | None = None) -> History:
    """The History of one session of ``history_dir``: its id, or ``"previous"`` (the newest but ``current``)."""
    found = sessions(history_dir)
    names = [name for name in found["session"] if name != current] if session == "previous" else list(found["session"])
    if session == "previous":
        if not names:
            raise ConfigurationError(f"no earlier session in {history_dir}: this is the first one with a request")
        session = names[0]
    if session not in names:
        known = ", ".join(names[:5]) + (" …" if len(names) > 5 else "") or "none yet"
        raise ConfigurationError(f"no session {session!r} in {history_dir} (wisgate_nb.sessions() lists them; "
                                 f"newest: {known})")
    return History.load(Path(history_dir).expanduser() / session)
