"""Reuse: a request identical to an earlier successful one can take its images instead of being sent.

The cache key covers what makes a result: endpoint, where it was sent, model, prompt, options (not
streaming) and the bytes of every input image. A result is looked for in this session, then in the earlier
sessions of the same history folder. Reused files are hard links (copies where links fail).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

_NOT_IN_KEY = ("stream", "partial_images")


def cache_key(endpoint: str, where: str, model: str, prompt: str, options: dict, inputs: Iterable[bytes] = ()) -> str:
    """A short digest that is the same exactly when two requests would ask for the same images."""
    kept = {k: v for k, v in options.items() if k not in _NOT_IN_KEY}
    digest = hashlib.sha256()
    digest.update(json.dumps([endpoint, where, model, prompt, kept], sort_keys=True, default=str).encode())
    for data in inputs:
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()[:32]


def find_reusable(history, key: str):
    """The newest successful record with this cache key whose image files still exist: this session's first,
    then those of the earlier sessions of the same history folder (``earlier.py``: after a kernel restart)."""
    for record in itertools.chain(history._by_cache_key(key), history._earlier.results(key)):  # newest first
        if record.status == "ok" and record.paths:
            if all(p.exists() for p in history.full_paths(record)):
                return record
    return None


def link_result(history, old, new_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Files of a new record that reuses ``old``'s images: hard links (copies where links fail).

    A full-size file written before files carried provenance is copied with it instead of linked.
    """
    from . import provenance

    folder = history.ensure_folder()
    names = []
    full = history.full_paths(old)
    for index, src in enumerate(full + history.thumb_paths(old)):
        names.append(src.name.replace(old.id, new_id, 1))
        dest = folder / names[-1]
        if index < len(full) and not dest.exists() and not provenance.read_bytes(data := src.read_bytes(), src.name):
            dest.write_bytes(provenance.embed(data, provenance.facts(old.to_json(), index=index)))
        else:
            _link_or_copy(src, dest)
    return tuple(names[: len(old.paths)]), tuple(names[len(old.paths):])


def _link_or_copy(src: Path, dest: Path) -> None:
    if dest.exists():
        return
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
