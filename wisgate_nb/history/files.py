"""A result's files in the history folder: full-size images and thumbnails; copies for the user."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..output.thumbnails import thumbnail_suffix

_EXT = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif"}


def image_name(record_id: str, index: int, fmt: str) -> str:
    """The file name of image ``index`` of a record, by the image's format (png, jpeg, webp)."""
    return f"{record_id}_{index}.{_EXT.get(fmt, 'png')}"


def thumbnail_name(image: str, mime: str) -> str:
    """The file name of an image's thumbnail, beside it."""
    return Path(image).stem + ".thumb" + thumbnail_suffix(mime)


def write(history, name: str, data: bytes) -> Path:
    """Write one file into the session folder (created if needed); returns its path."""
    path = history.ensure_folder() / name
    path.write_bytes(data)
    return path


def copy_out(paths, folder: str | os.PathLike) -> list[Path]:
    """Copy result files into a folder of the user's (the CLI's --out); returns the copies' paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in paths:
        target = out / Path(path).name
        if target.resolve() != Path(path).resolve():
            shutil.copyfile(path, target)
        copies.append(target)
    return copies
