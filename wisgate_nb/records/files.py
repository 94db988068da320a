"""A result's files in the history folder: full-size images, thumbnails, an edit's inputs; copies for the user."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigurationError
from ..output.thumbnails import thumbnail_suffix
from . import provenance

_EXT = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif"}
_MIME_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
INPUTS = "inputs"


def image_name(record_id: str, index: int, fmt: str) -> str:
    """The file name of image ``index`` of a record, by the image's format (png, jpeg, webp)."""
    return f"{record_id}_{index}.{_EXT.get(fmt, 'png')}"


def thumbnail_name(image: str, mime: str) -> str:
    """The file name of an image's thumbnail, beside it."""
    return Path(image).stem + ".thumb" + thumbnail_suffix(mime)


def input_name(data: bytes, mime: str) -> str:
    """Where an edit's input image is kept: ``inputs/<digest>.<ext>``, the digest the record names."""
    return f"{INPUTS}/{hashlib.sha256(data).hexdigest()[:16]}.{_MIME_EXT.get(mime, 'png')}"


def write(history, name: str, data: bytes) -> Path:
    """Write one file into the session folder (created if needed); returns its path."""
    path = history.ensure_folder() / name
    path.write_bytes(data)
    return path


def write_inputs(history, images: Sequence[tuple], mask: tuple | None = None) -> None:
    """Keep an edit's input images and mask (once each: the same bytes are one file)."""
    for _name, data, mime in (*images, *((mask,) if mask else ())):
        path = history.ensure_folder() / input_name(data, mime)
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)


def kept_inputs(history, record) -> tuple[list[Path], Path | None]:
    """The input images and mask an edit record names, as kept in ``inputs/`` (ConfigurationError if gone)."""
    folder = history.folder_of(record) / INPUTS

    def find(digest: str) -> Path:
        found = sorted(folder.glob(f"{digest}.*"))
        if not found:
            raise ConfigurationError(f"the input image {digest} of {record.id} is no longer in {folder}")
        return found[0]

    return [find(d) for d in record.inputs], find(record.mask) if record.mask else None


def copy_out(paths, folder: str | os.PathLike, record=None) -> list[Path]:
    """Copy result files into a folder of the user's (the CLI's --out); returns the copies' paths.

    A copy carries its provenance: a file written before provenance existed gets it from ``record``.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    copies = []
    for index, path in enumerate(paths):
        target = out / Path(path).name
        if target.resolve() != Path(path).resolve():
            data = Path(path).read_bytes()
            if record is not None and not provenance.read_bytes(data, Path(path).name):
                target.write_bytes(provenance.embed(data, provenance.facts(record.to_json(), index=index)))
            else:
                shutil.copyfile(path, target)
        copies.append(target)
    return copies
