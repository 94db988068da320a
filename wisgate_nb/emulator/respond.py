"""Turning an accepted request into its answer: JSON with images, or an SSE stream of partials."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image
from starlette.responses import JSONResponse, Response, StreamingResponse

from . import draw
from .faults import BODY_FAULTS, STREAM_FAULTS, fault_body, trickle
from .params import ImageParams
from .state import Emulator, Fault, RecordedRequest
from .tokens import usage_for

__all__ = ["Job", "answer"]


@dataclass(frozen=True)
class Job:
    """What one accepted request produces: n pictures of ``size``."""

    params: ImageParams
    events: str  # SSE event prefix: "image_generation" or "image_edit"
    size: tuple[int, int]
    picture: Callable[[int], Image.Image]  # image index -> picture
    input_sizes: tuple[tuple[int, int], ...] = ()

    def encode(self, picture: Image.Image) -> bytes:
        p = self.params
        return draw.encode(
            picture, p.output_format, p.output_compression, transparent=p.background == "transparent"
        )

    def encoded(self, index: int) -> bytes:
        return self.encode(self.picture(index))

    def usage(self, *, details: bool = True) -> dict[str, Any]:
        return usage_for(self.params, self.size, input_images=self.input_sizes, output_details=details)

    def settings(self) -> dict[str, Any]:
        """background, output_format, size and quality as the server used them."""
        p = self.params
        size = f"{self.size[0]}x{self.size[1]}"
        return {
            "background": p.background,
            "output_format": p.output_format,
            "size": size,
            "quality": p.quality,
        }


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _event(job: Job, kind: str, blob: bytes) -> dict[str, Any]:
    event = f"{job.events}.{kind}"
    s = job.settings()
    return {
        "type": event,
        "b64_json": base64.b64encode(blob).decode("ascii"),
        "created_at": int(time.time()),
        "size": s["size"],
        "quality": s["quality"],
        "background": s["background"],
        "output_format": s["output_format"],
    }


async def events(job: Job, duration: float, fault: Fault | None = None) -> AsyncIterator[bytes]:
    """Partials, then the completed event, for each image in turn, spread evenly over ``duration``.

    With n > 1 the images follow one another (image 0's partials and completed event, then image 1's);
    every completed event carries the usage of the whole request.
    """
    kind = None if fault is None else fault.kind
    partials = max(1, job.params.partial_images) if kind in STREAM_FAULTS else job.params.partial_images
    steps = job.params.n * (partials + 1)
    loop = asyncio.get_running_loop()
    start, step = loop.time(), 0

    async def wait_turn() -> None:
        nonlocal step
        step += 1
        await asyncio.sleep(max(0.0, start + duration * step / steps - loop.time()))

    for index in range(job.params.n):
        picture = await asyncio.to_thread(job.picture, index)
        for k in range(partials):
            blob = await asyncio.to_thread(lambda k=k, pic=picture: job.encode(draw.coarse(pic, k, partials)))
            await wait_turn()
            yield _sse(
                f"{job.events}.partial_image",
                {**_event(job, "partial_image", blob), "partial_image_index": k},
            )
            if fault is not None and kind == "stream_error":
                message = fault.message or "The server had an error while processing your request."
                error = {"message": message, "type": "server_error", "code": None, "param": None}
                yield _sse("error", {"type": "error", "error": error})
                return
        if kind == "stream_no_complete":
            continue
        blob = await asyncio.to_thread(job.encode, picture)
        await wait_turn()
        yield _sse(
            f"{job.events}.completed", {**_event(job, "completed", blob), "usage": job.usage(details=False)}
        )


def _body(
    job: Job, blobs: list[bytes], emulator: Emulator, record: RecordedRequest, base_url: str
) -> dict[str, Any]:
    p = job.params
    items: list[dict[str, str]] = []
    for index, blob in enumerate(blobs):
        if p.response_format == "url":  # kept in memory, served by GET /v1/demo-files/{name}
            name = f"{record.request_id}-{index}.{p.output_format}"
            emulator.store_file(name, blob, p.media_type)
            items.append({"url": f"{base_url}/v1/demo-files/{name}"})
        else:
            items.append({"b64_json": base64.b64encode(blob).decode("ascii")})
    return {"created": int(time.time()), "data": items, **job.settings(), "usage": job.usage()}


async def answer(
    job: Job, fault: Fault | None, *, emulator: Emulator, record: RecordedRequest, base_url: str
) -> Response:
    """Wait the configured latency, draw, and answer as JSON or as an event stream, bent by ``fault``."""
    emulator.count_generation(job.params.n)
    latency = emulator.latency()
    kind = None if fault is None else fault.kind
    if fault is not None and kind == "slow":
        await asyncio.sleep(fault.delay)
    if job.params.stream or kind in STREAM_FAULTS:
        duration = latency + (fault.delay if fault is not None and kind == "slow_body" else 0.0)
        stream = events(job, duration, fault)
        return StreamingResponse(
            stream, media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )
    if kind in BODY_FAULTS and kind != "truncated_b64":  # the images would be thrown away
        await asyncio.sleep(latency)
        blobs: list[bytes] = []
    else:
        drawing = asyncio.gather(*(asyncio.to_thread(job.encoded, i) for i in range(job.params.n)))
        blobs, _ = await asyncio.gather(drawing, asyncio.sleep(latency))
    body = _body(job, list(blobs), emulator, record, base_url)
    if fault is not None and kind in BODY_FAULTS:
        body = fault_body(fault, body, base_url=base_url)
    if fault is not None and kind == "slow_body":
        return trickle(body, fault.delay)
    return JSONResponse(body)
