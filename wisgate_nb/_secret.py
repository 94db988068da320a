"""Secret: a string that never shows itself (used by the settings and the client)."""

from __future__ import annotations


class Secret:
    """A string that never shows itself: repr and str are masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def get(self) -> str:
        return self._value

    def masked(self) -> str:
        tail = self._value[-4:] if len(self._value) >= 16 else ""
        return f"****{tail}"

    def __repr__(self) -> str:
        return f"Secret('{self.masked()}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):  # never pickled or copied into a saved state
        raise TypeError("a Secret cannot be pickled")
