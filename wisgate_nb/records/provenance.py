"""Provenance: where a full-size image file came from, written into the file itself.

    PNG         a ``wisgate_nb`` text chunk holding JSON, and a plain ``parameters`` chunk (the prompt,
                then ``Model: ..., Size: ..., Quality: ...``: what Stable Diffusion tools' "PNG info" shows)
    JPEG, WebP  the same JSON and text in the file's XMP (``wisgate_nb:json``, ``wisgate_nb:parameters``)

Only facts of the request go in (never the key: it is not part of a record). ``read`` never raises on
a damaged chunk: it returns what it can and warns.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import _version
from ..options import OPTIONS, image_options
from . import imagemeta

KEYWORD = "wisgate_nb"
PARAMETERS = "parameters"
_NOT_PARAMS = frozenset({"prompt", "model", *(o.name for o in OPTIONS if o.delivery)})
_FACTS = (("source", "Source"), ("request_id", "Request id"), ("version", "Version"))


def _labels() -> tuple[tuple[str, str], ...]:
    """(key, label) of the "parameters" text: the registry's image options, then the request's facts."""
    return (*((o.name, o.label) for o in image_options()), *_FACTS)


class ProvenanceWarning(UserWarning):
    """A provenance chunk is damaged: what could be read is returned."""


def facts(record: Mapping[str, Any], *, index: int = 0, width: int | None = None, height: int | None = None,
          revised_prompt: str | None = None, request_id: str | None = None, created: str | None = None,
          demo_scene: dict | None = None) -> dict:
    """The facts one image file carries, from a record's fields (``Record.to_json()`` or the recording's base)."""
    params = {k: v for k, v in (record.get("params") or {}).items() if k not in _NOT_PARAMS}
    size = record.get("size") if record.get("size") not in (None, "auto") else None
    if size is None and width and height:
        size = f"{width}x{height}"
    params.update(size=size or params.get("size"), n=record.get("n", params.get("n", 1)),
                  quality=record.get("quality") or params.get("quality"))
    info = {"prompt": record.get("prompt"), "model": record.get("model"), "params": params,
            "request_id": request_id if request_id is not None else record.get("request_id"),
            "created": created or record.get("started_at"), "source": record.get("source"),
            "version": _version.__version__, "id": record.get("id"), "endpoint": record.get("endpoint"),
            "index": index}
    if revised_prompt:
        info["revised_prompt"] = revised_prompt
    if record.get("inputs"):
        info["inputs"] = list(record["inputs"])
    if record.get("mask"):
        info["mask"] = record["mask"]
    if record.get("demo"):
        info["demo"] = True
    if demo_scene is not None:  # what the demo server drew (records/demoscene.py)
        info["demo_scene"] = demo_scene
    return info


def parameters_text(info: Mapping[str, Any]) -> str:
    """The prompt, then one line of ``Label: value`` pairs (the "PNG info" convention)."""
    values = {**(info.get("params") or {}), **{k: v for k, v in info.items() if k != "params"}}
    values["version"] = f"wisgate_nb {info.get('version')}"
    pairs = [f"{label}: {values[key]}" for key, label in _labels() if values.get(key) not in (None, "")]
    return f"{info.get('prompt') or ''}\n" + ", ".join(p.replace("\n", " ") for p in pairs)


def parse_parameters(text: str) -> dict:
    """What a ``parameters`` text says (the prompt and the labelled values), for files with damaged JSON."""
    prompt, _, last = text.rpartition("\n")
    labels = {label: key for key, label in _labels()}
    found: dict[str, Any] = {"prompt": prompt}
    params = {}
    for pair in last.split(", "):
        label, sep, value = pair.partition(": ")
        key = labels.get(label)
        if sep and key:
            (found if key in ("model", "source", "request_id", "version") else params)[key] = value
    if params:
        found["params"] = params
    return found


def embed(data: bytes, info: Mapping[str, Any]) -> bytes:
    """The image bytes with the facts in them; unchanged (and a warning) for a format that has no place."""
    text = json.dumps(info, ensure_ascii=False, default=str)
    params = parameters_text(info)
    kind = imagemeta.kind_of(data)
    try:
        if kind == "png":
            return imagemeta.png_put_text(data, {KEYWORD: text, PARAMETERS: params})
        if kind in ("jpeg", "webp"):
            packet = _packet(info, text, params)
            if kind == "jpeg":
                return imagemeta.jpeg_put_xmp(data, packet)
            from ..http.images import peek_size

            width, height = peek_size(data) or (1, 1)
            return imagemeta.webp_put_xmp(data, packet, width, height)
    except ValueError as exc:
        warnings.warn(f"no provenance written into this image: {exc}", ProvenanceWarning, stacklevel=2)
        return data
    return data


def _packet(info: Mapping[str, Any], text: str, params: str) -> bytes:
    """The XMP packet; in a JPEG (64 KB at most) very long prompts are shortened and say so."""
    packet = imagemeta.xmp_packet({"json": text, PARAMETERS: params}, description=params)
    limit = 8000
    while len(packet) > imagemeta.MAX_XMP_JPEG and limit > 100:
        short = {**info, "prompt": str(info.get("prompt"))[:limit], "prompt_truncated": True}
        short.pop("revised_prompt", None)
        text, params = json.dumps(short, ensure_ascii=False, default=str), parameters_text(short)
        packet = imagemeta.xmp_packet({"json": text, PARAMETERS: params}, description=params)
        limit //= 2
    return packet


def read_bytes(data: bytes, name: str = "the image") -> dict:
    """The facts in image bytes: {} when there are none; what can be read (and a warning) when damaged."""
    problems: list[str] = []
    kind = imagemeta.kind_of(data)
    if kind == "png":
        texts = imagemeta.png_read_text(data, problems)
    elif kind in ("jpeg", "webp"):
        packet = imagemeta.jpeg_read_xmp(data) if kind == "jpeg" else imagemeta.webp_read_xmp(data)
        fields = imagemeta.xmp_fields(packet) if packet else {}
        if packet and b"<wisgate_nb:" in packet and "json" not in fields:
            problems.append("its XMP packet is cut short")
        texts = {KEYWORD: fields["json"]} if "json" in fields else {}
        if PARAMETERS in fields:
            texts[PARAMETERS] = fields[PARAMETERS]
    else:
        _warn(name, ["it is not a PNG, JPEG or WebP file"])
        return {}
    found: dict = {}
    if KEYWORD in texts:
        try:
            found = json.loads(texts[KEYWORD])
            if not isinstance(found, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            problems.append(f"its {KEYWORD} JSON cannot be read ({str(exc)[:80]})")
            found = {}
    if not found and PARAMETERS in texts:
        found = parse_parameters(texts[PARAMETERS])
        if KEYWORD in texts:
            problems.append(f"what is shown comes from its {PARAMETERS} text")
    if problems and (found or KEYWORD in texts or any("XMP" in p for p in problems)):
        _warn(name, problems)
    return found


def read(path: str | os.PathLike) -> dict:
    """``wisgate_nb.provenance(path)``: the facts an image file carries ({} for a file without them)."""
    file = Path(path).expanduser()
    with open(file, "rb") as f:
        data = f.read()
    return read_bytes(data, file.name)


def _warn(name: str, problems: list[str]) -> None:
    warnings.warn(f"the provenance of {name} is damaged: {'; '.join(problems)}", ProvenanceWarning, stacklevel=3)
