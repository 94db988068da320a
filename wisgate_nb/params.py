"""Validation of image options and building of request bodies: pure functions, no I/O.

Used by the client and by every front door before anything is submitted, so an invalid option
fails at once with a ``ConfigurationError`` that says what is allowed. Model-specific limits
(dall-e-3 only n=1, sizes divisible by 16, ...) are left to the server.

This module must stay light: it imports neither Pillow nor httpx.

Numbers may be given as ints or as strings of digits (``n="2"`` becomes ``2``), because they
often come from a magic's command line or a text widget; bools and floats are refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ConfigurationError

__all__ = [
    "GENERATION_FIELDS",
    "MAX_EDIT_IMAGES",
    "MAX_PROMPT_CHARS",
    "build_edit_fields",
    "build_generation_payload",
    "check_edit_images",
    "parse_size",
    "validate_options",
    "validate_prompt",
]

MAX_PROMPT_CHARS = 32_000
MAX_EDIT_IMAGES = 16
MIN_SIDE, MAX_SIDE = 64, 4096

# Enumerations from the OpenAI images contract (lower-case; input is normalised to lower case).
_CHOICES: dict[str, tuple[str, ...]] = {
    "quality": ("standard", "hd", "low", "medium", "high", "auto"),
    "background": ("transparent", "opaque", "auto"),
    "moderation": ("low", "auto"),
    "output_format": ("png", "jpeg", "webp"),
    "response_format": ("url", "b64_json"),
    "style": ("vivid", "natural"),
    "input_fidelity": ("high", "low"),
}
_ALIASES = {"output_format": {"jpg": "jpeg"}}
_INT_RANGES: dict[str, tuple[int, int]] = {
    "n": (1, 10),
    "output_compression": (0, 100),
    "partial_images": (0, 3),
}

GENERATION_FIELDS: tuple[str, ...] = (
    "n", "size", "quality", "background", "output_format", "output_compression", "moderation",
    "stream", "partial_images", "user", "style", "response_format", "input_fidelity",
)

_SIZE_RE = re.compile(r"(\d{1,6})\s*[xX×]\s*(\d{1,6})")
_DIGITS_RE = re.compile(r"[+]?\d{1,6}")


def parse_size(size: str) -> tuple[int, int] | None:
    """``"1024x1536"`` -> ``(1024, 1536)``; ``"auto"`` -> None; anything else -> ConfigurationError."""
    allowed = f"size must be 'auto' or WIDTHxHEIGHT with each side {MIN_SIDE} to {MAX_SIDE} px (e.g. 1024x1024)"
    if not isinstance(size, str):
        raise ConfigurationError(f"{allowed}; got {_show(size)}")
    text = size.strip()
    if text.lower() == "auto":
        return None
    match = _SIZE_RE.fullmatch(text)
    if not match:
        raise ConfigurationError(f"{allowed}; got {_show(size)}")
    width, height = int(match.group(1)), int(match.group(2))
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ConfigurationError(f"{allowed}; got {_show(size)}")
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
    return prompt


def validate_options(**options: Any) -> dict:
    """A new dict of the options: known ones checked and normalised, None dropped, unknown kept."""
    clean: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        clean[name] = _validate_one(name, value)
    return clean


def _validate_one(name: str, value: Any) -> Any:
    if name == "size":
        size = parse_size(value)
        return "auto" if size is None else f"{size[0]}x{size[1]}"
    if name in _INT_RANGES:
        return _int_in_range(name, value, *_INT_RANGES[name])
    if name in _CHOICES:
        return _choice(name, value)
    if name == "stream":
        if not isinstance(value, bool):
            raise ConfigurationError(f"stream must be True or False; got {_show(value)}")
        return value
    if name == "user":
        if not isinstance(value, str):
            raise ConfigurationError(f"user must be text; got {_show(value)}")
        return value
    return value


def _int_in_range(name: str, value: Any, low: int, high: int) -> int:
    allowed = f"{name} must be a whole number from {low} to {high}"
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{allowed}; got {_show(value)}")
    if not low <= value <= high:
        raise ConfigurationError(f"{allowed}; got {_show(value)}")
    return value


def _choice(name: str, value: Any) -> str:
    choices = _CHOICES[name]
    allowed = f"{name} must be one of {', '.join(choices)}"
    if not isinstance(value, str):
        raise ConfigurationError(f"{allowed}; got {_show(value)}")
    text = value.strip().lower()
    text = _ALIASES.get(name, {}).get(text, text)
    if text not in choices:
        raise ConfigurationError(f"{allowed}; got {_show(value)}")
    return text


def check_edit_images(count: int, *, has_mask: bool = False) -> None:
    """ConfigurationError unless an edit has 1 to 16 images (a mask needs an image to apply to)."""
    if count < 1:
        if has_mask:
            raise ConfigurationError("a mask was given without an image: pass the image to edit too")
        raise ConfigurationError("an edit needs at least one image")
    if count > MAX_EDIT_IMAGES:
        raise ConfigurationError(f"an edit takes at most {MAX_EDIT_IMAGES} images; got {count}")


def _validate_model(model: Any) -> str:
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError(f"model must be a non-empty model name; got {_show(model)}")
    return model.strip()


def build_generation_payload(prompt: str, *, model: str, **options: Any) -> dict:
    """The JSON body of ``POST /images/generations``; unset (None) options are left out."""
    body = {"model": _validate_model(model), "prompt": validate_prompt(prompt)}
    body.update(validate_options(**options))
    return body


def build_edit_fields(prompt: str, *, model: str, **options: Any) -> dict[str, str]:
    """The text fields of the multipart ``POST /images/edits`` (bools as ``"true"``/``"false"``)."""
    body = build_generation_payload(prompt, model=model, **options)
    return {name: _form_value(value) for name, value in body.items()}


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def _show(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message."""
    try:
        text = repr(value)
    except Exception:
        text = f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."
