"""A template's text: {field} placeholders, defaults, and filling in (pure text substitution, no code runs)."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import ConfigurationError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


@lru_cache(maxsize=256)
def _pieces(text: str) -> tuple[tuple[str, str | None], ...]:
    """Split template text into (literal, field or None); ConfigurationError if it is not plain text."""
    if not isinstance(text, str):
        raise ConfigurationError(f"template text must be a string, got {type(text).__name__}")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConfigurationError(f"template text has an unmatched brace ({exc}): write {{{{ and }}}} for literal "
                                 "braces, {name} for a field") from None
    pieces = []
    for literal, name, spec, conversion in parsed:
        if name is not None and not (name.isidentifier() and not spec and conversion is None):
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise ConfigurationError(f"{{{shown}}} in the template: only plain field names are allowed, like "
                                     "{subject} (no attributes, indexes, !conversions or :formats); write {{ and }} "
                                     "for literal braces")
        pieces.append((literal, name))
    rebuilt = "".join(lit.replace("{", "{{").replace("}", "}}") + (f"{{{n}}}" if n is not None else "")
                      for lit, n in pieces)
    if rebuilt != text:  # e.g. "{subject:}": an empty format spec that parse() hides
        raise ConfigurationError("a placeholder with ':' or '!' (like {subject:}) is not allowed: only plain "
                                 "{field} placeholders; write {{ and }} for literal braces")
    return tuple(pieces)


def _suggest(word: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(f"invalid template name {name!r}: use letters, digits, '-', '_' and '.', "
                                 "starting with a letter or digit (e.g. product-shot)")
    return name


@dataclass(frozen=True)
class Template:
    """One version of a named prompt template."""

    name: str
    version: int
    text: str
    defaults: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ConfigurationError(f"template {self.name!r}: version must be a whole number >= 1, "
                                     f"got {self.version!r}")
        if not isinstance(self.text, str) or not self.text.strip():
            raise ConfigurationError(f"template {self.name!r}: the text must be a non-empty string, "
                                     f"got {self.text!r}")
        if _has_surrogates(self.text):
            raise ConfigurationError(f"template {self.name!r}: the text has characters that are not valid Unicode")
        try:
            fields = self.fields
        except ConfigurationError as exc:
            raise ConfigurationError(f"template {self.name!r}: {exc}") from None
        defaults = {}
        for key, value in dict(self.defaults).items():
            if key not in fields:
                raise ConfigurationError(f"template {self.name!r}: default for {key!r}, which is not a field"
                                         f"{_suggest(key, fields)}; its fields are {_listing(fields)}")
            defaults[key] = _text_value(self.name, key, value)
        object.__setattr__(self, "defaults", defaults)

    @property
    def fields(self) -> tuple[str, ...]:
        """Field names in order of first appearance."""
        return tuple(dict.fromkeys(name for _, name in _pieces(self.text) if name is not None))

    @property
    def required(self) -> tuple[str, ...]:
        """Fields without a default."""
        return tuple(f for f in self.fields if f not in self.defaults)

    def values(self, /, **fields: Any) -> dict[str, str]:
        """Every field's value (defaults filled in); ConfigurationError for missing or unknown fields."""
        known = self.fields
        given = {k: v for k, v in fields.items() if v is not None}  # None means "not given": use the default
        for key in given:
            if key not in known:
                raise ConfigurationError(f"template {self.name!r} has no field {key!r}{_suggest(key, known)}; "
                                         f"its fields are {_listing(known)}")
        values = {**self.defaults, **{k: _text_value(self.name, k, v) for k, v in given.items()}}
        missing = [f for f in known if f not in values]
        if missing:
            optional = [f for f in known if f in self.defaults]
            raise ConfigurationError(f"template {self.name!r} v{self.version} needs a value for {_listing(missing)} "
                                     f"(e.g. {missing[0]}=\"...\"); required fields: {_listing(self.required)}; "
                                     f"fields with defaults: {_listing(optional)}")
        return {f: values[f] for f in known}

    def render(self, /, **fields: Any) -> str:
        """The prompt with every field filled in (pure text substitution)."""
        values = self.values(**fields)
        return "".join(literal + (values[name] if name is not None else "") for literal, name in _pieces(self.text))


def _has_surrogates(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _listing(names) -> str:
    return ", ".join(names) if names else "(none)"


def _text_value(template: str, key: str, value: Any) -> str:
    if isinstance(value, (dict, list, tuple, set)):
        raise ConfigurationError(f"template {template!r}: {key}= must be a single value, got {type(value).__name__}")
    text = value if isinstance(value, str) else str(value)
    if _has_surrogates(text):
        raise ConfigurationError(f"template {template!r}: {key}= has characters that are not valid Unicode")
    return text


def join_extra(prompt: str, extra: str | None) -> str:
    """Append extra detail: after ", " — or after a space when the prompt already ends a sentence or clause."""
    extra = (extra or "").strip()
    if not extra:
        return prompt
    head = prompt.rstrip()
    if not head:
        return extra
    return head + (" " if head[-1] in ".!?;:,\n" else ", ") + extra
