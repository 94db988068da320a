"""Reading response bodies under caps: a body never grows past its limit in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from .. import errors

# An error body is read this far, then parsed: a proxy may wrap a whole event stream (tens of KB of
# base64) into its JSON error, and JSON cut short is not JSON. Past the cap, messages.salvage reads it.
ERROR_BODY_LIMIT = 1024 * 1024


async def read_body(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise errors.ResponseFormatError(f"the response is {int(declared):,} bytes, over the {limit:,}-byte cap")
    return b"".join([chunk async for chunk in capped_bytes(response, limit)])


async def capped_bytes(response: httpx.Response, limit: int) -> AsyncIterator[bytes]:
    """The decoded body, stopping with ResponseFormatError once it passes ``limit`` bytes."""
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise errors.ResponseFormatError(f"the response is over the {limit:,}-byte cap")
        yield chunk


async def read_error_body(response: httpx.Response) -> bytes:
    """At most ERROR_BODY_LIMIT bytes of an error body (the rest is not read)."""
    chunks, total = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        total += len(chunk)
        if total >= ERROR_BODY_LIMIT:
            break
    return b"".join(chunks)[:ERROR_BODY_LIMIT]
