"""The columns of History.df, derived from the Record's fields in one place (no pandas, no pyarrow here).

Every Record field is a column whose kind its annotation gives (``str | None`` -> text, ``int`` ->
int64, ``int | None`` -> Int64, ``tuple[...]`` -> tuples, ``dict`` -> dicts ...), so a field added to
``Record`` is a column with no change here. Exceptions, each one line: fields that are not columns
(file names and raw server data), columns made from a field (``template`` -> its name and version,
``revised_prompts`` -> the first one), and the order of the columns users already know.
"""

from __future__ import annotations

import dataclasses

from .record import Record

# The columns of DESIGN.md first, then the ones users already have, in this order; new fields follow.
LEADING = (
    "id", "started_at", "prompt", "model", "size", "n", "quality", "status", "latency_s", "images",
    "paths", "request_id", "error", "total_tokens", "tags",
    "endpoint", "error_type", "rating", "note", "source", "demo", "reused", "profile", "group",
    "template", "template_version", "revised_prompt", "attempts", "session", "params",
)
NOT_COLUMNS = ("thumbs", "usage", "inputs", "cache_key", "revised_prompts")
# Columns whose kind is not their field's annotation: made from a field (template -> its name and
# version, revised_prompts -> the first one), or a time kept as text in the log.
OTHER_KINDS = {"template": "str", "template_version": "Int", "revised_prompt": "str", "started_at": "time"}
UPDATABLE = ("rating", "tags", "note")  # what an update line may change

FIELDS = {f.name: f for f in dataclasses.fields(Record)}
_SCALARS = {"str": "str", "int": "int", "float": "float", "bool": "bool"}


def kind_of(annotation: str) -> str:
    """str, int (never missing), Int (may be missing), float, bool, tuple, dict or object."""
    text = str(annotation).replace(" ", "")
    if text.startswith(("tuple[", "Tuple[")):
        return "tuple"
    if text.startswith(("dict", "Dict")):
        return "dict"
    optional = "|None" in text or text.startswith("Optional[")
    base = _SCALARS.get(text.replace("|None", "").removeprefix("Optional[").rstrip("]"), "object")
    return "Int" if base == "int" and optional else base


def item_kind(annotation: str) -> str | None:
    """The kind of a tuple field's items (``tuple[int, ...]`` -> int), None when mixed or unknown."""
    inner = str(annotation).replace(" ", "").partition("[")[2].rstrip("]").removesuffix(",...")
    kind = kind_of(inner)
    return {"Int": "int"}.get(kind, kind) if kind in ("str", "int", "Int", "float", "bool") else None


COLUMNS = LEADING + tuple(name for name in FIELDS if name not in LEADING and name not in NOT_COLUMNS)
KINDS = {**{name: kind_of(f.type) for name, f in FIELDS.items()}, **OTHER_KINDS}


def default(name: str):
    """A field's default, for a line that leaves out a field that is never missing (n, images, attempts)."""
    f = FIELDS.get(name)
    if f is None:
        return None
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def arrow_schema(pa):
    """The types a bulk JSON reader is told (``pa`` is pyarrow); dicts are left to its inference."""
    types = {"str": pa.string(), "int": pa.int64(), "Int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    fields = [("kind", pa.string())]
    for name, f in FIELDS.items():
        kind = kind_of(f.type)
        if kind in types:
            fields.append((name, types[kind]))
        elif kind == "tuple" and item_kind(f.type) in types:
            fields.append((name, pa.list_(types[item_kind(f.type)])))
        elif name == "template":  # only its name and version are columns; its fields are inferred
            fields.append((name, pa.struct([("name", pa.string()), ("version", pa.int64())])))
    return pa.schema(fields)
