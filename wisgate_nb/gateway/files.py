"""Files the gateway creates hold students' prompts and pictures: only their owner may read them (mode 0600)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["private_sqlite", "write_private"]

_SQLITE_SIDES = ("-wal", "-shm", "-journal")


def private_sqlite(database: str | None) -> None:
    """Create the SQLite file 0600 before SQLite does (its -wal and -shm take the file's mode), and tighten
    the files an older gateway left 0644."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for name in (path, *(path.with_name(path.name + side) for side in _SQLITE_SIDES)):
        if name.exists():
            os.chmod(name, 0o600)


def write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by its owner only (created 0600, never world-readable for a moment)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
