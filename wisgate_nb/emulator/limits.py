"""The demo server acts out an account's rate limit: ``EmulatorConfig(rpm=N, ipm=N, rate_window=60.0)``,
``wisgate-nb emulator --rpm N [--ipm N] [--rate-window S] [--no-ratelimit-headers]``.

Each limit counts in a fixed window that opens with the first request after the previous one closed.
A request over a limit is answered 429 with the OpenAI error envelope (``rate_limit_exceeded``), before
the API sees it. Every image answer carries ``x-ratelimit-{limit,remaining,reset}-{requests,images}``
and a 429 also ``retry-after`` and ``retry-after-ms`` (its message names the wait), all computed when the
answer is sent — unless ``ratelimit_headers=False`` (as some gateways send: the 429 alone).
"""

from __future__ import annotations

import json
import math
import re
import time

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .params import error_body
from .state import RECORD_KEY, Emulator

__all__ = ["LimitLayer", "admit", "duration", "limit_headers"]

_FORM_N = re.compile(rb'name="n"\r\n(?:[^\r\n]*\r\n)*\r\n\s*(\d+)')


def limits_of(config) -> dict[str, int]:
    """The limits set, by dimension: ``{"requests": rpm, "images": ipm}``."""
    return {dim: value for dim, value in (("requests", config.rpm), ("images", config.ipm)) if value}


def duration(seconds: float) -> str:
    """A reset time as the API writes it: ``"20ms"``, ``"1.5s"``, ``"6m0s"``."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    if seconds < 60:
        return f"{math.ceil(seconds * 1000) / 1000:g}s"
    minutes, rest = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{rest}s"


def _window(windows: dict, dim: str, now: float, length: float) -> list[float] | None:
    """[opened at, used] of the open window of ``dim``, or None when none is open."""
    window = windows.get(dim)
    return window if window is not None and now < window[0] + length else None


def admit(windows: dict, limits: dict[str, int], cost: dict[str, int], now: float,
          length: float) -> tuple[str, float] | None:
    """Count the request in every window, or (the limit it is over, seconds until that window closes)."""
    over = []
    for dim, limit in limits.items():
        window = _window(windows, dim, now, length)
        used = window[1] if window else 0
        if used + cost.get(dim, 0) > limit:
            over.append((window[0] + length - now if window else length, dim))
    if over:
        wait, dim = max(over)
        return dim, wait
    for dim in limits:
        window = _window(windows, dim, now, length)
        if window is None:
            windows[dim] = window = [now, 0]
        window[1] += cost.get(dim, 0)
    return None


def limit_headers(windows: dict, limits: dict[str, int], now: float, length: float) -> list[tuple[bytes, bytes]]:
    headers = []
    for dim, limit in limits.items():
        window = _window(windows, dim, now, length)
        remaining, reset = (limit - window[1], window[0] + length - now) if window else (limit, 0.0)
        for name, value in (("limit", limit), ("remaining", max(0, remaining)), ("reset", duration(reset))):
            headers.append((f"x-ratelimit-{name}-{dim}".encode(), str(value).encode()))
    return headers


def images_asked(body: bytes, content_type: str) -> int:
    """``n`` of a JSON body or a multipart form (1 when absent or unreadable: the API checks it)."""
    try:
        if "json" in content_type:
            n = json.loads(body).get("n")
        else:
            match = _FORM_N.search(body)
            n = int(match.group(1)) if match else None
        return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    except (ValueError, AttributeError):
        return 1


class LimitLayer:
    """ASGI middleware in front of the emulated API; a no-op unless ``rpm`` or ``ipm`` is set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        emulator: Emulator | None = scope["app"].state.emulator if scope["type"] == "http" else None
        limits = limits_of(emulator.config) if emulator is not None else {}
        if not limits or scope["method"] != "POST" or "/images/" not in scope["path"]:
            await self.app(scope, receive, send)
            return
        config, windows = emulator.config, emulator.rate_windows
        messages = [await receive()]
        while messages[-1].get("more_body", False):
            messages.append(await receive())
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
        body = b"".join(m.get("body", b"") for m in messages)
        cost = {"requests": 1, "images": images_asked(body, content_type)}

        def stamped(message: Message) -> Message:
            if message["type"] == "http.response.start" and config.ratelimit_headers:
                headers = limit_headers(windows, limits, time.monotonic(), config.rate_window)
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            return message

        async def send_stamped(message: Message) -> None:
            await send(stamped(message))

        over = admit(windows, limits, cost, time.monotonic(), config.rate_window)
        if over is not None:
            if scope.get(RECORD_KEY) is not None:
                scope[RECORD_KEY].fault = "rate_limit"
            await _refusal(*over, limits, cost, config)(scope, receive, send_stamped)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send_stamped)


def _refusal(dim: str, wait: float, limits: dict, cost: dict, config) -> JSONResponse:
    per = f"{config.rate_window:g} s"
    message = (f"Rate limit reached for {dim} per {per}: Limit {limits[dim]}, Requested {cost[dim]}.")
    headers = {}
    if config.ratelimit_headers:
        message += f" Please try again in {duration(wait)}."
        headers = {"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(math.ceil(wait * 1000))}
    return JSONResponse(error_body(message, type=dim, code="rate_limit_exceeded"), status_code=429,
                        headers=headers)
