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


def run(server: DemoServer, mode: Mode) -> list[Row]:
    from openai import AsyncOpenAI

    from wisgate_nb.client import ImagesClient
    from wisgate_nb.config import WisGate
    from wisgate_nb.session import Session

    server.configure(latency=0.0, noise=True)
    reps = mode.reps(20, 3)
    loop = asyncio.new_event_loop()
    official = AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    raw = httpx.AsyncClient(timeout=60)
    ours = ImagesClient(base_url=server.base_url, api_key="k", max_retries=0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="wisgate-b1-") as tmp:
        session = Session(WisGate(api_key="k", base_url=server.base_url, demo=False, history_dir=tmp))
        try:
            for n in (1, 4):
                payload = {"model": "gpt-image-2", "prompt": PROMPT, "n": n, "size": SIZE}

                async def official_call(thumbs: bool = False):
                    resp = await official.images.generate(model="gpt-image-2", prompt=PROMPT, n=n, size=SIZE)
                    images = [_load(base64.b64decode(d.b64_json)) for d in resp.data]
                    if thumbs:
                        [_thumb(im) for im in images]
                    return images

                async def raw_call():
                    r = await raw.post(f"{server.base_url}/images/generations", json=payload,
                                       headers={"Authorization": "Bearer k"})
                    r.raise_for_status()
                    return [_load(base64.b64decode(d["b64_json"])) for d in json.loads(r.content)["data"]]

                def product():
                    return session.run(session.prepare(PROMPT, size=SIZE, n=n))

                variants = {
                    "product": product,
                    "client": lambda: loop.run_until_complete(ours.generate(payload)),
                    "official": lambda: loop.run_until_complete(official_call()),
                    "official+thumb": lambda: loop.run_until_complete(official_call(True)),
                    "httpx": lambda: loop.run_until_complete(raw_call()),
                }
                samples: dict[str, list[float]] = {name: [] for name in variants}
                for round_ in range(reps + 2):  # two warm-up rounds: pools, imports, the server's memo
                    for name, call in variants.items():
                        t0 = time.perf_counter()
                        result = call()
                        dt = time.perf_counter() - t0
                        count = len(result.paths) if name == "product" else (
                            len(result.images) if name == "client" else len(result))
                        if count != n:
                            raise AssertionError(f"{name} returned {count} images, expected {n}")
                        if round_ >= 2:
                            samples[name].append(ms(dt))
                med = {name: stats(s)["median"] for name, s in samples.items()}
                r_product = ratio(med["product"], med["official"])
                r_client = ratio(med["client"], med["official"])
                rows.append(Row(
                    "B1", f"request → decoded images + 512 px thumbnails, n={n}, 1024² noise PNG, median of {reps}",
                    med["product"], "ms",
                    baselines={"official": med["official"], "official+thumb": med["official+thumb"],
                               "httpx": med["httpx"]},
                    ratio=r_product, ratio_of="product / official", target="≤ 1.1× official",
                    met=r_product is not None and r_product <= 1.1,
                    extra={"samples_ms": samples, "stats_ms": {k: stats(v) for k, v in samples.items()},
                           "client_ms": med["client"], "client_over_official": r_client,
                           "product_over_official_thumb": ratio(med["product"], med["official+thumb"]),
                           "client_over_httpx": ratio(med["client"], med["httpx"])},
                    note=(f"bare client {med['client']:.0f} ms = {r_client:.2f}× official; product "
                          f"{ratio(med['product'], med['official+thumb']):.2f}× official+thumbnails"),
                ))
        finally:
            session.close()
            loop.run_until_complete(ours.aclose())
            loop.run_until_complete(official.close())
            loop.run_until_complete(raw.aclose())
            loop.close()
    return rows
