"""Pure request validation, error envelopes and token accounting, shaped like the real Images API."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .text import bad_text, shown

__all__ = [
    "DEFAULT_MODEL",
    "ApiError",
    "ImageParams",
    "check_moderation",
    "error_body",
    "parse_image_params",
]

DEFAULT_MODEL = "gpt-image-2"
MIN_SIDE, MAX_SIDE = 64, 4096
MAX_PROMPT = 32000
QUALITIES = ("low", "medium", "high", "xhigh", "max", "auto", "standard", "hd")
FORMATS = ("png", "jpeg", "webp")
BACKGROUNDS = ("transparent", "opaque", "auto")
RESPONSE_FORMATS = ("url", "b64_json")
MODERATIONS = ("low", "auto")
# What the server reports it used: the response models only allow low/medium/high.
EFFECTIVE_QUALITY = {"auto": "medium", "standard": "medium", "hd": "high", "xhigh": "high", "max": "high"}
# Output tokens for one 1024x1024 image at each quality, as gpt-image-1 bills them.
_SIZE_RE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


class ApiError(Exception):
    """A request the emulator refuses; becomes the real error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, param=self.param, code=self.code)


def error_body(
    message: str, *, type: str | None, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """The API's error envelope; all four keys always present."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


@dataclass(frozen=True)
class ImageParams:
    """A validated generation or edit request."""

    prompt: str
    model: str = DEFAULT_MODEL
    n: int = 1
    size: tuple[int, int] | None = (1024, 1024)  # None: edits keep the input's size
    quality: str = "medium"  # effective: low / medium / high
    output_format: str = "png"
    output_compression: int = 100
    background: str = "opaque"  # effective: transparent / opaque
    response_format: str = "b64_json"
    stream: bool = False
    partial_images: int = 0

    @property
    def media_type(self) -> str:
        return f"image/{self.output_format}"


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _invalid_type(param: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _invalid_value(param: str, value: Any, supported: str) -> ApiError:
    return ApiError(
        400,
        f"Invalid value: '{value}'. Supported values are: {supported}.",
        param=param,
        code="invalid_value",
    )


def _quoted(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _int_field(raw: Mapping[str, Any], name: str, default: int, low: int, high: int, form: bool) -> int:
    value = raw.get(name)
    if value is None:
        return default
    if form and isinstance(value, str):
        try:
            value = int(value.strip()) if value.isascii() else None  # int() also reads other scripts' digits
        except ValueError:
            value = None
        if value is None:
            raise _invalid_type(name, "an integer", raw.get(name))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid_type(name, "an integer", value)
    if value < low:
        raise ApiError(
            400,
            f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    if value > high:
        raise ApiError(
            400,
            f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, but got {value} instead.",
            param=name,
            code="integer_above_max_value",
        )
    return value


def _bool_field(raw: Mapping[str, Any], name: str, form: bool) -> bool:
    value = raw.get(name)
    if value is None:
        return False
    if form and isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    if not isinstance(value, bool):
        raise _invalid_type(name, "a boolean", value)
    return value


def _choice_field(raw: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = raw.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _invalid_type(name, "a string", value)
    if value not in choices:
        raise _invalid_value(name, value, _quoted(choices))
    return value


def parse_size(value: Any, *, default: tuple[int, int] | None) -> tuple[int, int] | None:
    """``"WxH"`` -> (W, H); ``"auto"`` / missing -> ``default``; anything else -> ApiError."""
    if value is None or value == "auto":
        return default
    if not isinstance(value, str):
        raise _invalid_type("size", "a string", value)
    match = _SIZE_RE.match(value.strip())
    if match:
        width, height = int(match[1]), int(match[2])
        if MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE:
            return width, height
    raise _invalid_value(
        "size",
        value,
        f"'auto' or 'WIDTHxHEIGHT' with {MIN_SIDE} <= WIDTH, HEIGHT <= {MAX_SIDE} "
        "(for example '1024x1024', '1536x1024' or '1024x1536')",
    )


def _prompt(raw: Mapping[str, Any]) -> str:
    prompt = raw.get("prompt")
    if prompt is None:
        raise ApiError(
            400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter"
        )
    if not isinstance(prompt, str):
        raise _invalid_type("prompt", "a string", prompt)
    if not prompt.strip():
        raise ApiError(
            400,
            "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.",
            param="prompt",
            code="empty_string",
        )
    if len(prompt) > MAX_PROMPT:
        raise ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected a string with maximum length {MAX_PROMPT}, "
            f"but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    return prompt


def parse_image_params(raw: Mapping[str, Any], *, edit: bool = False, form: bool = False) -> ImageParams:
    """Validate a request body (JSON, or multipart fields when ``form``); unknown fields are ignored."""
    found = bad_text(raw)
    if found is not None:
        raise ApiError(400, f"Invalid '{shown(found[0])}': its text holds a NUL character or a lone surrogate, "
                       "which is not valid text.", param=shown(found[1]), code="invalid_value")
    prompt = _prompt(raw)
    model = raw.get("model")
    if model is None:
        model = DEFAULT_MODEL
    elif not isinstance(model, str):
        raise _invalid_type("model", "a string", model)
    n = _int_field(raw, "n", 1, 1, 10, form)
    size = parse_size(raw.get("size"), default=None if edit else (1024, 1024))
    quality = _choice_field(raw, "quality", QUALITIES, "auto")
    output_format = _choice_field(raw, "output_format", FORMATS, "png")
    compression = _int_field(raw, "output_compression", 100, 0, 100, form)
    background = _choice_field(raw, "background", BACKGROUNDS, "auto")
    response_format = _choice_field(raw, "response_format", RESPONSE_FORMATS, "b64_json")
    _choice_field(raw, "moderation", MODERATIONS, "auto")
    stream = _bool_field(raw, "stream", form)
    partial_images = _int_field(raw, "partial_images", 0, 0, 3, form)
    if background == "transparent" and output_format == "jpeg":
        raise ApiError(
            400,
            "Transparent background is not supported with output_format 'jpeg'. Use 'png' or 'webp'.",
            param="background",
            code="invalid_value",
        )
    return ImageParams(
        prompt=prompt,
        model=model,
        n=n,
        size=size,
        quality=EFFECTIVE_QUALITY.get(quality, quality),
        output_format=output_format,
        output_compression=compression,
        background="transparent" if background == "transparent" else "opaque",
        response_format=response_format,
        stream=stream,
        partial_images=partial_images,
    )


def check_moderation(prompt: str, words: tuple[str, ...]) -> None:
    """Refuse a prompt that contains one of ``words`` (case-insensitive), like the safety system does."""
    lowered = prompt.lower()
    if any(word and word.lower() in lowered for word in words):
        raise ApiError(
            400,
            "Your request was rejected by the safety system. If you believe this is an error, contact us "
            "and include the request ID.",
            type="image_generation_user_error",
            code="moderation_blocked",
        )


def mask_key(key: str) -> str:
    """Enough of an API key to recognise it, never the whole key."""
    if len(key) < 12:
        return "*" * len(key)
    return f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"
