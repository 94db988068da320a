"""Scanning files for a key: used after the whole test run (conftest.py) and by the secrets tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _own_sources() -> set[bytes]:
    """The repository's test sources: they name the test key, and the Binder test copies them."""
    return {p.read_bytes() for p in (REPO / "tests").glob("*.py")}


def files_holding(roots, needles: list[bytes]) -> list[str]:
    """Every file under ``roots`` whose bytes contain one of ``needles`` (as 'path: needle'),
    except verbatim copies of the repository's own test sources."""
    found = []
    own = _own_sources()
    for root in roots:
        root = Path(root)
        if not root.exists():
            continue
        for path in [root] if root.is_file() else root.rglob("*"):
            if not path.is_file() or path.is_symlink():
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if data in own:
                continue
            found += [f"{path}: {needle.decode()}" for needle in needles if needle in data]
    return found


def key_needles(key: str) -> list[bytes]:
    """The key, and its core that no masked form shows (a key cut or re-quoted still gives itself away)."""
    return [key.encode(), key[len("sk-wisgate-"):-len("-leak")].encode()]
