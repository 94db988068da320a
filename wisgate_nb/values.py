"""One value of an option or a prompt, checked: sizes, prompts, text, and open choices (values a newer
model brings, sent with a warning). Pure functions; used by the option registry (``options``)."""

from __future__ import annotations

import difflib
import os
import re
import sys
import warnings
from collections.abc import Iterable
from typing import Any

from .errors import ConfigurationError, UnknownValueWarning

MAX_PROMPT_CHARS = 32_000
MIN_SIDE, MAX_SIDE = 64, 4096
_SIZE_RE = re.compile(r"(\d{1,6})\s*[xX×]\s*(\d{1,6})")
DIGITS_RE = re.compile(r"[+]?\d{1,6}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_warned: set[tuple[str, str]] = set()  # (option, value): each unknown value is warned about once per session


def parse_size(size: Any) -> tuple[int, int] | None:
    """``"1024x1536"`` -> ``(1024, 1536)``; ``"auto"`` -> None; anything else -> ConfigurationError."""
    allowed = f"size must be 'auto' or WIDTHxHEIGHT with each side {MIN_SIDE} to {MAX_SIDE} px (e.g. 1024x1024)"
    if not isinstance(size, str):
        raise ConfigurationError(f"{allowed}; got {show(size)}")
    text = size.strip()
    if text.lower() == "auto":
        return None
    match = _SIZE_RE.fullmatch(text)
    if not match:
        raise ConfigurationError(f"{allowed}; got {show(size)}")
    width, height = int(match.group(1)), int(match.group(2))
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ConfigurationError(f"{allowed}; got {show(size)}")
    return width, height


def validate_prompt(prompt: Any) -> str:
    """The prompt unchanged, or ConfigurationError if empty, blank or over 32,000 characters."""
    if not isinstance(prompt, str):
        raise ConfigurationError(f"the prompt must be text; got {type(prompt).__name__}")
    if not prompt.strip():
        raise ConfigurationError("the prompt is empty: describe the image you want")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ConfigurationError(
            f"the prompt has {len(prompt):,} characters; at most {MAX_PROMPT_CHARS:,} are allowed"
        )
    return check_chars("the prompt", prompt)


def check_chars(name: str, text: str) -> str:
    """The text unchanged, or ConfigurationError (a ValueError) if it holds a lone surrogate: UTF-8 cannot carry it."""
    found = _LONE_SURROGATE.search(text)
    if found is not None:
        raise ConfigurationError(f"{name} holds a lone surrogate ({ascii(found.group())} at character {found.start()}), "
                                 "which cannot be sent as UTF-8: was it decoded from bytes with errors='surrogateescape'?")
    return text


def open_value(name: str, value: str, known: tuple[str, ...]) -> str:
    """A value the registry does not list, sent as given with a one-line warning naming the known ones."""
    if (name, value) not in _warned:
        _warned.add((name, value))
        warnings.warn(f"{name}={value!r} is not one of the known values ({', '.join(known)}): sent as given, "
                      "for a model that takes it", UnknownValueWarning, stacklevel=_first_caller_outside())
    return value


def _first_caller_outside() -> int:
    """The stack level of the first frame outside wisgate_nb: the warning points at the user's line."""
    package, frame, level = os.path.dirname(os.path.abspath(__file__)), sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def suggest(word: str, choices: Iterable[str], prefix: str = "") -> str:
    """`` (did you mean 'x'?)`` for a near miss, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def show(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message."""
    try:
        text = repr(value)
    except Exception:
        text = f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."
