"""B1: one request to decoded images (+ thumbnails), ours and the official client, zero latency.

Variants, interleaved round by round so that drift hits them all alike:

- ``product``: ``Session.run`` — the request, the decode check, the full-size files, the 512 px
  thumbnails and the fsynced history line: everything a cell waits for;
- ``client``: ``ImagesClient.generate`` — the request and the decode check only;
- ``official``: ``AsyncOpenAI.images.generate`` + base64 decode + Pillow ``load()``;
- ``official+thumb``: the same plus a 512 px JPEG thumbnail per image (what the product also does);
- ``httpx``: a raw ``httpx.AsyncClient`` POST + ``json`` + base64 decode + Pillow ``load()``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import tempfile
import time

import httpx
from PIL import Image

from benchmarks.common import Mode, Row, ms, ratio, stats
from benchmarks.server import DemoServer

SIZE = "1024x1024"
PROMPT = "a lighthouse on a cliff at dusk, rain, film grain"
# A key of a real key's length: a one-letter key is found by chance in every image's bytes, and sends each
# result down the path that cuts a server-echoed key out of the file (rebuilt, then decoded again).
KEY = "sk-bench-" + "0123456789abcdef" * 3


def _load(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def _thumb(im: Image.Image) -> bytes:
    small = im.copy()
    small.thumbnail((512, 512))
    out = io.BytesIO()
    small.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def _variants(n: int, base_url: str, loop, session, ours, official, raw) -> dict:
    """The five ways to get n decoded images, each a zero-argument call returning the image count."""
    payload = {"model": "gpt-image-2", "prompt": PROMPT, "n": n, "size": SIZE}

    async def official_call(thumbs: bool) -> int:
        resp = await official.images.generate(model="gpt-image-2", prompt=PROMPT, n=n, size=SIZE)
        images = [_load(base64.b64decode(d.b64_json)) for d in resp.data]
        if thumbs:
            for im in images:
                _thumb(im)
        return len(images)

    async def raw_call() -> int:
        r = await raw.post(f"{base_url}/images/generations", json=payload, headers={"Authorization": f"Bearer {KEY}"})
        r.raise_for_status()
        return len([_load(base64.b64decode(d["b64_json"])) for d in json.loads(r.content)["data"]])

    async def client_call() -> int:
        return len((await ours.generate(payload)).images)

    return {
        "product": lambda: len(session.run(session.prepare(PROMPT, size=SIZE, n=n)).paths),
        "client": lambda: loop.run_until_complete(client_call()),
        "official": lambda: loop.run_until_complete(official_call(False)),
        "official+thumb": lambda: loop.run_until_complete(official_call(True)),
        "httpx": lambda: loop.run_until_complete(raw_call()),
    }


def _measure(variants: dict, n: int, reps: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds per call, round by round; the warm-up rounds are dropped."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(warmup + reps):  # warm-up: pools, imports, the server's memo of the pictures
        for name, call in variants.items():
            t0 = time.perf_counter()
            count = call()
            dt = time.perf_counter() - t0
            if count != n:
                raise AssertionError(f"{name} returned {count} images, expected {n}")
            if round_ >= warmup:
                samples[name].append(ms(dt))
    return samples


def run(server: DemoServer, mode: Mode) -> list[Row]:
    from openai import AsyncOpenAI

    from wisgate_nb.config import WisGate
    from wisgate_nb.core.session import Session
    from wisgate_nb.http.client import ImagesClient

    server.configure(latency=0.0, noise=True)
    reps, warmup = mode.reps(20, 1), mode.reps(2, 1)
    loop = asyncio.new_event_loop()
    official = AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    raw = httpx.AsyncClient(timeout=60)
    ours = ImagesClient(base_url=server.base_url, api_key=KEY, max_retries=0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="wisgate-b1-") as tmp:
        session = Session(WisGate(api_key=KEY, base_url=server.base_url, demo=False, history_dir=tmp))
        try:
            for n in (1, 4):
                variants = _variants(n, server.base_url, loop, session, ours, official, raw)
                rows.append(_row(n, reps, _measure(variants, n, reps, warmup)))
        finally:
            session.close()
            loop.run_until_complete(ours.aclose())
            loop.run_until_complete(official.close())
            loop.run_until_complete(raw.aclose())
            loop.close()
    return rows


def _row(n: int, reps: int, samples: dict[str, list[float]]) -> Row:
    med = {name: stats(s)["median"] for name, s in samples.items()}
    r_product = ratio(med["product"], med["official"])
    r_client = ratio(med["client"], med["official"])
    r_thumb = ratio(med["product"], med["official+thumb"])
    return Row(
        "B1", f"request → decoded images + 512 px thumbnails, n={n}, 1024² noise PNG, median of {reps}",
        med["product"], "ms",
        baselines={"official": med["official"], "official+thumb": med["official+thumb"], "httpx": med["httpx"]},
        ratio=r_product, ratio_of="product / official", target="≤ 1.1× official",
        met=r_product is not None and r_product <= 1.1,
        extra={"samples_ms": samples, "stats_ms": {k: stats(v) for k, v in samples.items()},
               "client_ms": med["client"], "client_over_official": r_client,
               "product_over_official_thumb": r_thumb, "client_over_httpx": ratio(med["client"], med["httpx"])},
        note=f"n={n}: bare client {med['client']:.0f} ms = {r_client:.2f}× official; product {r_thumb:.2f}× "
             "official+thumbnails",
    )
