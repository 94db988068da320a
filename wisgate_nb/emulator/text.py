"""Text that is not text: a NUL or a lone surrogate in any key or string of a request (pure, shared with the gateway).

Either makes a database refuse the write (PostgreSQL: NUL; SQLite and every UTF-8 encoder: lone
surrogates, which JSON's ``\\ud800`` escapes produce), so the demo server and the gateway refuse it
with a 400 naming the field before doing anything with the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["bad_text", "is_text", "shown"]


def is_text(text: str) -> bool:
    """No NUL, no lone surrogate (which no UTF-8 encoder, database or JSON writer takes)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def bad_text(fields: Mapping[str, Any]) -> tuple[str, str] | None:
    """(where, field) of the first key or string that is not valid text, anywhere in ``fields``, else None.

    Walked without recursion: a JSON body can be deep.
    """
    stack: list[tuple[Any, str, str]] = []
    for key, value in fields.items():
        if not is_text(key):
            return key, key
        stack.append((value, key, key))
    while stack:
        value, where, top = stack.pop()
        if isinstance(value, str):
            if not is_text(value):
                return where, top
        elif isinstance(value, dict):
            for key, item in value.items():
                if not (isinstance(key, str) and is_text(key)):
                    return f"{where}.{key}", top
                stack.append((item, f"{where}.{key}", top))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]", top) for i, item in enumerate(value))
    return None


def shown(name: str) -> str:
    """A field name fit for a message and any database: escapes for what is not printable ASCII."""
    return name.encode("unicode_escape").decode("ascii")[:80]
