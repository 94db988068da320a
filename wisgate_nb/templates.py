"""Prompt templates: named, versioned prompts with {field} placeholders and defaults.

    templates.save("product-shot", "{subject} on a {background} background, {style}, soft studio lighting",
                   background="white", style="photorealistic")
    generate(template="product-shot", subject="red sneaker")

Templates live in ``wisgate_templates.toml`` in the working directory (``set_file`` points elsewhere), one
``[[templates.NAME]]`` table per version. Saving a changed text or changed defaults appends a new version;
old versions stay in the file and stay readable (``get(name, version)``, or ``"name@2"`` wherever a name
is taken). The file is meant to be reviewed and edited by hand: saving appends to it, so comments and
layout survive.

Templates are plain text: ``{name}`` is a field, ``{{`` and ``}}`` are literal braces, and filling in is
pure text substitution (no attribute access, indexing, conversions or format specs; no code runs).
"""

from __future__ import annotations

import os
import re
import string
import tempfile
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

__all__ = ["Template", "dumps", "get", "join_extra", "loads", "names", "render_template", "save", "set_file", "versions"]

DEFAULT_FILE = Path("wisgate_templates.toml")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_ENTRY_KEYS = ("version", "text", "defaults")
_HEADER = ("# wisgate_nb prompt templates: {field} placeholders, {{ and }} for literal braces.\n"
           "# One [[templates.NAME]] table per version; saving a changed template appends a new version.\n")

_file: Path | None = None
_lock = threading.Lock()  # one read-modify-write of the file at a time within this process


# -- parsing and rendering text ---------------------------------------------------------------

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


# -- the TOML file ----------------------------------------------------------------------------

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
    return _HEADER + "".join("\n" + _emit(t) for versions_ in store.values() for t in versions_)


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


def set_file(path: str | os.PathLike | None) -> None:
    """Read and write templates in ``path`` (None: ``wisgate_templates.toml`` in the working directory)."""
    global _file
    _file = None if path is None else Path(path)


def _path() -> Path:
    return _file if _file is not None else DEFAULT_FILE


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path} is not UTF-8 text: {exc}") from exc


def _load() -> dict[str, list[Template]]:
    path = _path()
    content = _read(path)
    return {} if content is None else loads(content, str(path))


def _write(path: Path, content: str) -> None:
    """Replace the file in one step, so a reader never sees half of it."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content.encode("utf-8"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- the public functions ---------------------------------------------------------------------

def save(name: str, text: str, /, **defaults: Any) -> Template:
    """Save a template; a changed text or changed defaults become a new version, an unchanged one is kept.

    ``name`` and ``text`` are positional-only, so that fields called name or text can have defaults too.
    """
    _check_name(name)
    with _lock:
        path = _path()
        content = _read(path)
        store = {} if content is None else loads(content, str(path))
        history = store.get(name, [])
        candidate = Template(name, history[-1].version + 1 if history else 1, text, defaults)
        if history and (history[-1].text, history[-1].defaults) == (candidate.text, candidate.defaults):
            return history[-1]
        expected = {**store, name: [*history, candidate]}
        if content is None:
            new = _HEADER + "\n" + _emit(candidate)
        else:
            # Append, so that comments and hand layout survive; fall back to a full rewrite when the file's
            # own layout cannot be extended (e.g. a hand-written [templates.NAME] single table).
            newline = "\r\n" if "\r\n" in content else "\n"
            sep = "" if not content or content.endswith("\n") else newline
            new = content + sep + newline + _emit(candidate).replace("\n", newline)
            try:
                appended_ok = loads(new, str(path)) == expected
            except ConfigurationError:
                appended_ok = False
            if not appended_ok:
                new = dumps(expected)
        _write(path, new)
    return candidate


def _split_pin(name: str, version: int | None) -> tuple[str, int | None]:
    if isinstance(name, str) and "@" in name:
        name, _, pinned = name.rpartition("@")
        if not pinned.isdigit() or int(pinned) < 1:
            raise ConfigurationError(f"{name}@{pinned}: pin a version with a number, like {name}@2")
        if version is not None and version != int(pinned):
            raise ConfigurationError(f"{name}@{pinned} and version={version} disagree")
        version = int(pinned)
    return name, version


def versions(name: str) -> list[Template]:
    """Every version of a template, oldest first."""
    name, _ = _split_pin(name, None)
    store = _load()
    if name not in store:
        if not store:
            raise ConfigurationError(f"unknown template {name!r}: no templates are saved in {_path()} yet; define one "
                                     "with wisgate_nb.templates.save(name, text, **defaults) or %%wisgate_template NAME")
        raise ConfigurationError(f"unknown template {name!r}{_suggest(name, store)}; saved templates "
                                 f"(in {_path()}): {_listing(sorted(store))}")
    return list(store[name])


def get(name: str, version: int | None = None) -> Template:
    """A template: the latest version, or the one asked for (also as ``"name@2"``)."""
    name, version = _split_pin(name, version)
    history = versions(name)
    if version is None:
        return history[-1]
    for template in history:
        if template.version == version:
            return template
    raise ConfigurationError(f"template {name!r} has no version {version}; it has versions "
                             f"{', '.join(str(t.version) for t in history)}")


def names() -> list[str]:
    """The saved templates' names, sorted."""
    return sorted(_load())


def render_template(name: str, fields: dict, extra: str | None = None) -> tuple[str, dict]:
    """Fill in a template: (final prompt, {"name", "version", "fields"}) for the history.

    ``name`` may pin a version ("product-shot@2"). ``extra`` (a magic cell's body, or a prompt given with
    template=) is appended as extra detail, see ``join_extra``.
    """
    template = get(name)
    values = template.values(**{str(k): v for k, v in (fields or {}).items()})
    prompt = join_extra(template.render(**values), extra)
    return prompt, {"name": template.name, "version": template.version, "fields": values}
