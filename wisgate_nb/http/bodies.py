"""Reading response bodies under caps: a body never grows past its limit in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from .. import errors

ERROR_BODY_LIMIT = 64 * 1024  # an error body is read only this far: enough for any message


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
    """At most ERROR_BODY_LIMIT bytes of an error body: the message is near the start."""
    chunks, total = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        total += len(chunk)
        if total >= ERROR_BODY_LIMIT:
            break
    return b"".join(chunks)[:ERROR_BODY_LIMIT]
