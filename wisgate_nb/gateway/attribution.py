"""Upstream attribution: each forwarded request carries ``safety_identifier`` and ``user`` set to a stable keyed
hash of the student, so the provider can tell students apart without ever seeing a name.

The key is 256 random bits made once per database (``gateway_meta``), so every gateway process on one
database gives a student the same identifier, and nobody without the database can link it to a name.
A student's own ``safety_identifier`` / ``user`` fields are replaced, in JSON and in multipart bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets

from sqlalchemy import Engine, select

from . import db

__all__ = ["FIELDS", "attribute", "identifier_key", "student_identifier"]

FIELDS = ("safety_identifier", "user")
_KEY_NAME = "safety_identifier_key"
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_NAME = re.compile(rb'\bname="([^"]*)"', re.IGNORECASE)


def identifier_key(engine: Engine) -> bytes:
    """This database's key for the identifiers (made on first use; the first process to write it wins)."""
    c = db.meta.c
    with db.write(engine) as conn:
        statement = db.upsert(engine, db.meta, {"name": _KEY_NAME, "value": secrets.token_hex(32)},
                              set_={"value": c.value}, where=c.name != c.name)  # a false WHERE: never overwrite
        conn.execute(statement)
        value = conn.execute(select(c.value).where(c.name == _KEY_NAME)).scalar_one()
    return bytes.fromhex(value)


def student_identifier(key: bytes, student: str) -> str:
    """The student's identifier upstream: 32 hex digits, the same for the same student on every process."""
    return "wgs-" + hmac.new(key, student.encode(), hashlib.sha256).hexdigest()[:32]


def attribute(body: bytes, content_type: str, identifier: str) -> bytes:
    """``body`` with ``safety_identifier`` and ``user`` set to ``identifier`` (the student's own values replaced)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        match = _BOUNDARY.search(content_type)
        if match is not None:
            return _multipart(body, match.group(1).encode("latin-1"), identifier)
        return body  # intake refuses such a body before this
    doc = json.loads(body) if body.strip() else {}
    doc.update({field: identifier for field in FIELDS})
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _multipart(body: bytes, boundary: bytes, identifier: str) -> bytes:
    """The parts without the student's attribution fields, then ours, then the closing delimiter."""
    delimiter = b"--" + boundary
    pieces = body.split(b"\r\n" + delimiter)
    first, rest = pieces[0], pieces[1:]
    if not first.startswith(delimiter) or not rest:
        return body
    parts = [first[len(delimiter):], *rest[:-1]]  # each starts with CRLF, its headers, a blank line, its content
    closing = rest[-1]  # "--" and the epilogue
    kept = [part for part in parts if not _is_attribution(part)]
    ours = [f'\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{identifier}'.encode() for field in FIELDS]
    every = [*kept, *ours]
    return delimiter + every[0] + b"".join(b"\r\n" + delimiter + part for part in every[1:]) \
        + b"\r\n" + delimiter + closing


def _is_attribution(part: bytes) -> bool:
    headers = part.split(b"\r\n\r\n", 1)[0]
    match = _NAME.search(headers)
    return match is not None and match.group(1).decode("latin-1") in FIELDS
