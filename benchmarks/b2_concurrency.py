"""B2: 16 requests (8 prompts × 2 sizes) with 1 s of server latency each.

Ours: ``Session.run_many`` with ``max_concurrency=16`` (what a multi-prompt cell, ``--vary`` or
``sweep`` does). Baselines: the same 16 ``Session.run`` calls one after the other (what a blocking
magic does), and the official ``AsyncOpenAI`` client under ``asyncio.gather`` (decode only: no
thumbnails, files or history). The pictures are the demo server's own (75-95 KB PNGs); the full
run also times 16 incompressible ones (3-4 MB each, like real API PNGs) for context.
"""

from __future__ import annotations

import asyncio
import base64
import io
import tempfile
import time

from PIL import Image

from benchmarks.common import Mode, Row, ratio, stats
from benchmarks.server import DemoServer

PROMPTS = [f"{subject}, studio light, high detail" for subject in (
    "a red fox in the snow", "a lighthouse at dusk", "a bowl of ramen", "a vintage bicycle",
    "a koi pond from above", "a neon city street in rain", "a snow leopard on a rock", "a hot air balloon")]
SIZES = ("1024x1024", "1536x1024")


def run(server: DemoServer, mode: Mode) -> list[Row]:
    from openai import AsyncOpenAI

    from wisgate_nb.config import WisGate
    from wisgate_nb.core.session import Session

    latency = mode.seconds(1.0, 0.25)
    server.configure(latency=0.0, noise=False)
    with tempfile.TemporaryDirectory(prefix="wisgate-b2-") as tmp:
        session = Session(WisGate(api_key="k", base_url=server.base_url, demo=False, history_dir=tmp,
                                  max_concurrency=16))
        loop = asyncio.new_event_loop()
        official = AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        try:
            def requests():
                return [session.prepare(p, size=s) for p in PROMPTS for s in SIZES]

            async def official_all():
                async def one(prompt: str, size: str):
                    resp = await official.images.generate(model="gpt-image-2", prompt=prompt, size=size)
                    im = Image.open(io.BytesIO(base64.b64decode(resp.data[0].b64_json)))
                    im.load()
                    return im
                return await asyncio.gather(*(one(p, s) for p in PROMPTS for s in SIZES))

            def concurrent():
                results = session.run_many(requests())
                failed = [r for r in results if isinstance(r, Exception)]
                if failed:
                    raise failed[0]

            def sequential():
                for request in requests():
                    session.run(request)

            concurrent()  # warm-up at zero latency: connection pool, the server's memo of 16 pictures
            loop.run_until_complete(official_all())
            server.configure(latency=latency)
            samples: dict[str, list[float]] = {"concurrent": [], "official gather": [], "sequential": []}
            for i in range(mode.reps(5, 1)):
                samples["concurrent"].append(_wall(concurrent))
                samples["official gather"].append(_wall(lambda: loop.run_until_complete(official_all())))
                if i == 0:  # 16+ s each: once is enough to show it
                    samples["sequential"].append(_wall(sequential))
            if not mode.quick:  # the same with incompressible pictures (real PNG sizes): CPU-bound here
                server.configure(latency=0.0, noise=True)
                concurrent()
                server.configure(latency=latency)
                samples["concurrent, noise PNG"] = [_wall(concurrent) for _ in range(2)]
                samples["official gather, noise PNG"] = [_wall(lambda: loop.run_until_complete(official_all()))
                                                         for _ in range(2)]
        finally:
            session.close()
            loop.run_until_complete(official.close())
            loop.close()
    med = {name: stats(s)["median"] for name, s in samples.items()}
    limit = 1.2 * latency
    return [Row(
        "B2", f"16 requests (8 prompts × 2 sizes, demo pictures), server latency {latency:g} s, max_concurrency=16",
        med["concurrent"], "s",
        baselines={"sequential": med["sequential"], "official gather": med["official gather"]},
        ratio=ratio(med["concurrent"], med["sequential"]), ratio_of="ours / sequential",
        target=f"wall ≤ {limit:.2f} s", met=med["concurrent"] <= limit,
        extra={"latency_s": latency, "samples_s": samples, "stats_s": {k: stats(v) for k, v in samples.items()},
               "over_official_gather": ratio(med["concurrent"], med["official gather"])},
        note=f"{med['concurrent'] - latency:.2f} s over one server latency; "
             f"{ratio(med['concurrent'], med['official gather']):.2f}× official client under asyncio.gather",
    )]


def _wall(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
