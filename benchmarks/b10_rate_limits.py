"""B10: a sweep against an account's rate limit: 40 requests, a limit of 20 per window, max_concurrency=20.

Ours: ``Session.run_many`` (what a sweep does) with default settings but the concurrency; the demo server
acts out the limit (``EmulatorConfig.rpm``, ``rate_window``), once with ``retry-after`` and
``x-ratelimit-*`` headers and once with the 429 alone (as some gateways send). Baseline: the official
``AsyncOpenAI`` client with its defaults under ``asyncio.gather`` (20 at once), in the same run. The ideal
time is what the limit allows: one window per 20 requests after the first, plus one server latency.
Each is run three times: the median time, and the most failures and 429s of any run.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import tempfile
import time

from benchmarks.common import Mode, Row, ratio

REQUESTS, LIMIT, CONCURRENCY = 40, 20, 20
TARGETS = {True: (1.10, 3), False: (1.35, None)}  # with headers: ≤ 1.10× ideal, ≤ 3 × 429; without: ≤ 1.35×


def run(server, mode: Mode) -> list[Row]:
    window, latency = mode.seconds(3.0, 1.0), mode.seconds(0.25, 0.1)
    ideal = (math.ceil(REQUESTS / LIMIT) - 1) * window + latency
    rows = []
    for headers in (True, False):
        reps = mode.reps(3, 1)
        ours = _summary([_ours(server, window, latency, headers) for _ in range(reps)])
        official = _summary([_official(server, window, latency, headers) for _ in range(reps)])
        bound, most_429 = TARGETS[headers]
        met = ours["failed"] == 0 and ours["wall"] <= bound * ideal and (most_429 is None
                                                                          or ours["429"] <= most_429)
        said = "retry-after + x-ratelimit-* headers" if headers else "the 429 alone, no headers"
        target = f"0 failed, ≤ {bound:.2f}× ideal" + (f", ≤ {most_429} × 429" if most_429 is not None else "")
        rows.append(Row(
            "B10", f"{REQUESTS} requests, limit {LIMIT} per {window:g} s window ({said}), max_concurrency="
                   f"{CONCURRENCY}, server latency {latency:g} s, median of {reps}", ours["wall"], "s",
            baselines={"ideal": ideal, "official": official["wall"]},
            ratio=ratio(ours["wall"], ideal), ratio_of="ours / ideal", target=target, met=met,
            extra={"ours": ours, "official": official, "window_s": window, "latency_s": latency},
            note=f"{'with' if headers else 'without'} headers (the most of any run): ours {ours['failed']} failed, "
                 f"{ours['429']} × 429, "
                 f"{ratio(ours['wall'], ideal):.2f}× ideal; official client {official['failed']} failed, "
                 f"{official['429']} × 429, {ratio(official['wall'], ideal):.2f}× ideal",
        ))
    server.configure(rpm=None, ratelimit_headers=True, rate_window=60.0, latency=0.0)
    return rows


def _summary(runs: list[dict]) -> dict:
    """The median wall time; the most failures and 429s of any run; every run."""
    return {"wall": statistics.median(r["wall"] for r in runs), "failed": max(r["failed"] for r in runs),
            "429": max(r["429"] for r in runs), "runs": runs}


def _limit(server, window: float, latency: float, headers: bool) -> None:
    server.configure(rpm=LIMIT, rate_window=window, ratelimit_headers=headers, latency=latency, noise=False)


def _ours(server, window: float, latency: float, headers: bool) -> dict:
    from wisgate_nb.config import WisGate
    from wisgate_nb.core.session import Session

    with tempfile.TemporaryDirectory(prefix="wisgate-b10-") as tmp:
        session = Session(WisGate(api_key="k", base_url=server.base_url, demo=False, history_dir=tmp,
                                  max_concurrency=CONCURRENCY))
        try:
            server.configure(rpm=None, latency=0.0, noise=False)
            session.run_many([session.prepare("warm-up", size="256x256")])  # the pool and lazy imports
            requests = [session.prepare(f"a sweep, prompt {i}", size="256x256") for i in range(REQUESTS)]
            _limit(server, window, latency, headers)
            t0 = time.perf_counter()
            results = session.run_many(requests)
            wall = time.perf_counter() - t0
        finally:
            session.close()
    sent = server.configure(rpm=None)["requests"]
    failed = sum(isinstance(r, Exception) for r in results)
    return {"wall": wall, "failed": failed, "429": sent - (REQUESTS - failed), "requests": sent}


def _official(server, window: float, latency: float, headers: bool) -> dict:
    from openai import AsyncOpenAI

    async def sweep() -> tuple[float, int]:
        client = AsyncOpenAI(base_url=server.base_url, api_key="k")
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> bool:
            async with gate:
                try:
                    await client.images.generate(model="gpt-image-2", prompt=f"a sweep, prompt {i}", size="256x256")
                    return True
                except Exception:
                    return False

        try:
            await one(-1)  # warm-up, no limit yet
            _limit(server, window, latency, headers)
            t0 = time.perf_counter()
            done = await asyncio.gather(*(one(i) for i in range(REQUESTS)))
            return time.perf_counter() - t0, REQUESTS - sum(done)
        finally:
            await client.close()

    wall, failed = asyncio.run(sweep())
    sent = server.configure(rpm=None)["requests"]
    return {"wall": wall, "failed": failed, "429": sent - (REQUESTS - failed), "requests": sent}
