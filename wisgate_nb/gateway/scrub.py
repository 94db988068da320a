"""The teacher's key out of every byte that reaches a student, the database or the log; text made storable.

An upstream (or a proxy, or a provider's debug mode) may echo the ``Authorization`` header back: in
a body, a header, an event of a stream, an error. A JSON body may carry it with any of its characters
written as ``\\uXXXX`` (hex digits in either case) or, for ``/``, ``"`` and ``\\``, as short escapes.
:class:`KeyScrubber` replaces each such form by ``***``; :meth:`KeyScrubber.stream` does it across
the chunks of a body as they pass, holding back only a tail that could be the start of the key.
A body whose length was announced keeps it: there the key becomes as many ``*`` as it took bytes.
A key shorter than MIN_KEY characters (a placeholder like ``k`` in a rehearsal) is not looked for: it
would match inside any image's base64.
"""

from __future__ import annotations

import logging
import re

__all__ = ["MASK", "MIN_KEY", "KeyScrubber", "LogScrubber", "storable"]

MASK = "***"
MIN_KEY = 8
_PUBLIC_PREFIX = 3  # "sk-": a key's first bytes say only what kind of key it is
_SHORT_ESCAPES = {"/": "\\/", '"': '\\"', "\\": "\\\\"}


def storable(text: str | None, limit: int | None = None) -> str | None:
    """``text`` as every database stores it: no NUL (PostgreSQL refuses it), no lone surrogate (not UTF-8)."""
    if text is None:
        return None
    text = text[:limit] if limit is not None else text
    if text.isascii() and "\x00" not in text:
        return text
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\N{REPLACEMENT CHARACTER}")


def _escapes(ch: str) -> tuple[str, ...]:
    """The JSON escapes of one character, in lower case (hex digits compare case-insensitively)."""
    code = ord(ch)
    if code > 0xFFFF:
        code -= 0x10000
        unicode = f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    else:
        unicode = f"\\u{code:04x}"
    return (unicode, _SHORT_ESCAPES[ch]) if ch in _SHORT_ESCAPES else (unicode,)


def _same_length(match: re.Match) -> bytes:
    return b"*" * len(match.group())


def _hex_insensitive(escape: str) -> str:
    return "".join(f"[{c}{c.upper()}]" if c in "abcdef" else re.escape(c) for c in escape)


class KeyScrubber:
    """Replaces the key (raw or JSON-escaped, character by character) with ``***`` in bytes and text."""

    def __init__(self, key: str | None):
        key = key if key is not None and len(key) >= MIN_KEY else None
        self.key = key
        self._raw = (key or "").encode()
        chars = list(key or "")
        # per character of the key: (its raw UTF-8 bytes, its escapes in lower case)
        self._alts = [(ch.encode(), tuple(e.encode() for e in _escapes(ch))) for ch in chars]
        parts = [f"(?:{re.escape(ch)}|{'|'.join(_hex_insensitive(e) for e in _escapes(ch))})" for ch in chars]
        self._text = re.compile("".join(parts)) if chars else None
        self._bytes = re.compile("".join(parts).encode()) if chars else None
        self.longest = sum(max(len(raw), *(len(e) for e in esc)) for raw, esc in self._alts)

    def bytes(self, data: bytes, *, keep_length: bool = False) -> bytes:
        if self._bytes is None or not data:
            return data
        if b"\\" not in data:  # every escaped form starts with a backslash: only the raw key can be here
            if self._raw not in data:
                return data
            return data.replace(self._raw, b"*" * len(self._raw) if keep_length else MASK.encode())
        return self._bytes.sub(_same_length if keep_length else MASK.encode(), data)

    def text(self, text: str | None) -> str | None:
        return self._text.sub(MASK, text) if self._text is not None and text else text

    def stream(self, *, keep_length: bool = False) -> StreamScrubber:
        return StreamScrubber(self, keep_length)

    def partial_tail(self, data: bytes) -> int:
        """How many bytes at the end of ``data`` could be the beginning of the key (to hold until more come)."""
        if self._bytes is None:
            return 0
        window = max(0, len(data) - self.longest + 1)
        first_raw = self._alts[0][0][:1]
        pos = window
        while True:
            candidates = [i for i in (data.find(first_raw, pos), data.find(b"\\", pos)) if i >= 0]
            if not candidates:
                return 0
            start = min(candidates)
            if self._could_begin(data[start:]):
                return len(data) - start
            pos = start + 1

    def _could_begin(self, tail: bytes) -> bool:
        """True when ``tail`` (which ends the data so far) is a proper prefix of some written form of the key."""
        i = 0
        for raw, escapes in self._alts:
            rest = tail[i:]
            if not rest:
                return True
            if rest.startswith(raw):
                i += len(raw)
                continue
            if len(rest) < len(raw) and raw.startswith(rest):
                return True
            lowered = rest[:12].lower()
            for escape in escapes:
                if lowered.startswith(escape):
                    i += len(escape)
                    break
                if len(rest) < len(escape) and escape.startswith(lowered):
                    return True
            else:
                return False
        return False  # the whole key: already replaced, so this cannot be


class StreamScrubber:
    """Scrubs a body chunk by chunk: what ``feed`` returns is safe to send; ``flush`` gives the held tail."""

    def __init__(self, scrubber: KeyScrubber, keep_length: bool = False):
        self._scrubber, self._keep_length = scrubber, keep_length
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._scrubber.bytes(self._held + chunk, keep_length=self._keep_length)
        keep = self._scrubber.partial_tail(data)
        self._held = data[len(data) - keep:] if keep else b""
        return data[: len(data) - keep]

    def flush(self) -> bytes:
        """The end of the body: a held tail longer than a few bytes is most of the key cut short, so it is masked."""
        held, self._held = self._held, b""
        if len(held) <= _PUBLIC_PREFIX:
            return held
        return b"*" * len(held) if self._keep_length else MASK.encode()


class LogScrubber(logging.Filter):
    """A filter for the HTTP libraries' loggers: their DEBUG lines show response headers, where an echo may be.

    Filters run only for records that will be emitted, so it costs nothing while DEBUG is off.
    """

    LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
               "httpcore.socks")

    def __init__(self, scrubber: KeyScrubber):
        super().__init__()
        self._scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._scrubber.text(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True

    def install(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).addFilter(self)

    def remove(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeFilter(self)
