"""Plausible, deterministic token usage for a request, as the real API reports it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .params import ImageParams

_TOKENS_PER_MEGAPIXEL = {"low": 272, "medium": 1056, "high": 4160}


def image_input_tokens(sizes: Sequence[tuple[int, int]]) -> int:
    """Tokens for input images: about 194 per 1024x1024 image."""
    return sum(math.ceil(w * h / 5400) for w, h in sizes)


def usage_for(
    params: ImageParams,
    size: tuple[int, int],
    *,
    input_images: Sequence[tuple[int, int]] = (),
    output_details: bool = True,
) -> dict[str, Any]:
    """Plausible, deterministic token usage for the whole request."""
    text_tokens = max(1, math.ceil(len(params.prompt) / 4))
    image_tokens = image_input_tokens(input_images)
    per_image = round(_TOKENS_PER_MEGAPIXEL[params.quality] * size[0] * size[1] / (1024 * 1024))
    output = per_image * params.n
    usage: dict[str, Any] = {
        "total_tokens": text_tokens + image_tokens + output,
        "input_tokens": text_tokens + image_tokens,
        "output_tokens": output,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
    }
    if output_details:
        usage["output_tokens_details"] = {"image_tokens": output, "text_tokens": 0}
    return usage
