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
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .text import Template, _check_name, _listing, _suggest, join_extra
from .toml import HEADER, _emit, dumps, loads

__all__ = ["Template", "dumps", "get", "join_extra", "loads", "names", "render_template", "save", "set_file", "versions"]

DEFAULT_FILE = Path("wisgate_templates.toml")

_file: Path | None = None
_lock = threading.Lock()  # one read-modify-write of the file at a time within this process


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
            new = HEADER + "\n" + _emit(candidate)
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
