"""B3: streaming with 2 partial images over a 3 s generation: first preview vs. final image.

Ours: ``Session.run(request, on_partial=...)`` with the magic's own preview callback (it makes the
512 px preview that replaces the previous one in the cell); "first preview" is when that preview
is ready, "final" is when ``run`` returns the saved Generation. For reference, the official client
streaming the same request (first partial event decoded, completed event decoded).
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import tempfile
import time

from PIL import Image

from benchmarks.common import Mode, Row, ratio, stats
from benchmarks.server import DemoServer

PROMPT = "a paper boat on a puddle, morning light"


def run(server: DemoServer, mode: Mode) -> list[Row]:
    from wisgate_nb.config import WisGate
    from wisgate_nb.core.session import Session
    from wisgate_nb.output import live as display

    latency = mode.seconds(3.0, 1.0)
    server.configure(latency=latency, noise=False)
    first, final, official_first, official_final = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="wisgate-b3-") as tmp:
        session = Session(WisGate(api_key="k", base_url=server.base_url, demo=False, history_dir=tmp))
        try:
            show = display.preview_callback(display.Live("", enabled=False), PROMPT)
            for _ in range(mode.reps(4, 1)):
                seen: list[float] = []
                t0 = time.perf_counter()

                def on_partial(index, blob, t0=t0, seen=seen):
                    show(index, blob)
                    seen.append(time.perf_counter() - t0)

                request = session.prepare(PROMPT, stream=True, partial_images=2)
                generation = session.run(request, on_partial=on_partial)
                final.append(time.perf_counter() - t0)
                if len(seen) != 2 or not generation.paths:
                    raise AssertionError(f"expected 2 previews and an image, got {len(seen)} previews")
                first.append(seen[0])
                of, oc = _official(server.base_url)
                official_first.append(of)
                official_final.append(oc)
        finally:
            session.close()
    med_first, med_final = stats(first)["median"], stats(final)["median"]
    r = ratio(med_first, med_final)
    return [Row(
        "B3", f"streaming, 2 partial images, {latency:g} s generation: first preview vs final image",
        med_first, "s", baselines={"final image": med_final, "official first partial": stats(official_first)["median"],
                                   "official final": stats(official_final)["median"]},
        ratio=r, ratio_of="first preview / final", target="≤ 0.4× final", met=r is not None and r <= 0.4,
        extra={"first_s": first, "final_s": final, "official_first_s": official_first,
               "official_final_s": official_final},
        note="the server spreads its latency evenly over 2 partials + the final image (1/3, 2/3, 3/3)",
    )]


def _official(base_url: str) -> tuple[float, float]:
    """(first partial decoded, completed image decoded) with the official client's stream, seconds."""
    from openai import AsyncOpenAI

    async def go() -> tuple[float, float]:
        client = AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
        t0 = time.perf_counter()
        first = done = float("nan")
        try:
            stream = await client.images.generate(model="gpt-image-2", prompt=PROMPT, stream=True, partial_images=2)
            async for event in stream:
                im = Image.open(io.BytesIO(base64.b64decode(event.b64_json)))
                im.load()
                if event.type.endswith("partial_image") and math.isnan(first):
                    first = time.perf_counter() - t0
                elif event.type.endswith("completed"):
                    done = time.perf_counter() - t0
        finally:
            await client.close()
        return first, done

    return asyncio.run(go())
