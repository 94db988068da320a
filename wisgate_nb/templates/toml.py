"""The templates file: TOML text to templates and back (written by hand too, so errors are clear)."""

from __future__ import annotations

import re
from typing import Any

from ..errors import ConfigurationError
from .text import Template, _check_name, _suggest

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_ENTRY_KEYS = ("version", "text", "defaults")
HEADER = ("# wisgate_nb prompt templates: {field} placeholders, {{ and }} for literal braces.\n"
          "# One [[templates.NAME]] table per version; saving a changed template appends a new version.\n")


def _toml_string(value: str) -> str:
    """A TOML basic string: backslash, quote and control characters escaped."""
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _emit(template: Template) -> str:
    """The [[templates.NAME]] table of one version."""
    lines = [f"[[templates.{_toml_key(template.name)}]]", f"version = {template.version}",
             f"text = {_toml_string(template.text)}"]
    if template.defaults:
        pairs = ", ".join(f"{_toml_key(k)} = {_toml_string(v)}" for k, v in template.defaults.items())
        lines.append(f"defaults = {{ {pairs} }}")
    return "\n".join(lines) + "\n"


def dumps(store: dict[str, list[Template]]) -> str:
    """The whole file: every template in order, versions oldest first."""
    return HEADER + "".join("\n" + _emit(t) for versions_ in store.values() for t in versions_)


def loads(content: str, source: str = "wisgate_templates.toml") -> dict[str, list[Template]]:
    """Parse the file's text into {name: [versions, oldest first]}; clear errors for anything malformed."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10, as in profiles.py
        import tomli as tomllib  # type: ignore[no-redef]

    try:
        data = tomllib.loads(content.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source} is not valid TOML: {exc}") from exc
    extra = [k for k in data if k != "templates"]
    if extra:
        raise ConfigurationError(f"{source}: unexpected {extra[0]!r}{_suggest(extra[0], ['templates'])}; "
                                 "templates go in [[templates.NAME]] tables")
    tables = data.get("templates", {})
    if not isinstance(tables, dict):
        raise ConfigurationError(f"{source}: 'templates' must be a table of [[templates.NAME]] entries")
    return {name: _load_versions(name, entries, source) for name, entries in tables.items()}


def _load_versions(name: str, entries: Any, source: str) -> list[Template]:
    where = f"{source}, template {name!r}"
    if isinstance(entries, dict):  # a hand-written [templates.NAME] single table
        entries = [entries]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigurationError(f"{where}: write each version as a [[templates.{name}]] table")
    try:
        _check_name(name)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{source}: {exc}") from None
    loaded: dict[int, Template] = {}
    previous = 0
    for entry in entries:
        for key in entry:
            if key not in _ENTRY_KEYS:
                raise ConfigurationError(f"{where}: unknown key {key!r}{_suggest(key, _ENTRY_KEYS)}; "
                                         f"a version has {', '.join(_ENTRY_KEYS)}")
        text, version, defaults = entry.get("text"), entry.get("version", previous + 1), entry.get("defaults", {})
        if not isinstance(text, str):
            raise ConfigurationError(f"{where}: every version needs text = \"...\"")
        if not isinstance(defaults, dict) or any(isinstance(v, (dict, list, bool)) for v in defaults.values()):
            raise ConfigurationError(f"{where}: defaults must be a table of text values, "
                                     'like defaults = { background = "white" }')
        try:
            template = Template(name, version, text, defaults)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{source}: {exc}") from None
        if version in loaded:
            raise ConfigurationError(f"{where}: version {version} appears twice")
        loaded[version] = template
        previous = version
    return [loaded[v] for v in sorted(loaded)]
