"""B9: the classroom gateway against the same demo server sent to directly, in one run.

- Added latency: n=1 1024x1024 (the demo's own ~40 KB PNG), no server latency; one request at a time,
  gateway and direct interleaved; p50 and p95 of each, and the difference.
- A class: 30 students x 5 concurrent requests (150 at once), 1 s of server latency: wall time through
  the gateway against the same 150 sent directly; then every count is checked (each student's images,
  the class total, what the upstream received, a refusal for each student once the quota is used up).

The gateway runs as ``wisgate-nb gateway`` in its own process (SQLite, one worker), as a teacher runs it.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import REPO, Mode, Row, child_env, ms, ratio, stats
from benchmarks.server import DemoServer

ADMIN = "b9-admin-token"
STUDENTS, PER_STUDENT = 30, 5
BODY = {"model": "gpt-image-2", "prompt": "a lighthouse on a cliff at dusk", "n": 1, "size": "1024x1024"}


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18] if len(samples) >= 2 else samples[0]


class _Gateway:
    """``wisgate-nb gateway`` in a child process on a free port, students made beforehand."""

    def __init__(self, folder: Path, upstream: str, images_per_day: int, extra: tuple = ()):
        from wisgate_nb.gateway.auth import add_student
        from wisgate_nb.gateway.db import connect

        (folder / "gateway.toml").write_text(f"[quota]\nimages_per_day = {images_per_day}\nmax_concurrent = "
                                             f"{PER_STUDENT}\n[quota.students.timer]\nimages_per_day = 1000000\n",
                                             encoding="utf-8")
        engine = connect(f"sqlite:///{folder / 'wisgate_gateway.sqlite'}")
        self.tokens = [add_student(engine, f"student{i:02d}")[0] for i in range(STUDENTS)]
        self.timer = add_student(engine, "timer")[0]  # the latency runs' student, with room for them
        engine.dispose()
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = child_env(drop=[k for k in os.environ if k.startswith(("WISGATE_", "WISDOM_", "JUPYTERHUB_"))],
                        WISGATE_API_KEY="k", WISGATE_BASE_URL=upstream, WISGATE_GATEWAY_ADMIN_TOKEN=ADMIN)
        self._log = open(folder / "gateway.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "wisgate_nb.cli", "gateway", "--port", str(port), *extra],
                                     cwd=folder, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.base_url + "/quota", timeout=2)
                break
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the gateway did not start: "
                                       + (folder / "gateway.log").read_text()[-2000:]) from None
                time.sleep(0.1)

    def usage(self) -> dict:
        return httpx.get(self.base_url.removesuffix("/v1") + "/admin/usage",
                         headers={"authorization": f"Bearer {ADMIN}"}, timeout=30).json()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


async def _post(client: httpx.AsyncClient, url: str, key: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = await client.post(url + "/images/generations", json=BODY, headers={"authorization": f"Bearer {key}"})
    await r.aread()
    return time.perf_counter() - t0, r.status_code


async def _latency(client, server_url: str, gateway: _Gateway, reps: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"direct": [], "gateway": []}
    for i in range(reps + 5):  # 5 warm-up rounds: connections, the server's memo of the picture
        for name, url, key in (("direct", server_url, "k"), ("gateway", gateway.base_url, gateway.timer)):
            dt, status = await _post(client, url, key)
            if status != 200:
                raise AssertionError(f"{name}: HTTP {status}")
            if i >= 5:
                samples[name].append(ms(dt))
    return samples


async def _wave(clients: list[httpx.AsyncClient], url: str, keys: list[str]) -> tuple[float, list[int]]:
    """Every student sends PER_STUDENT requests at once, each from their own client (as in a class)."""
    t0 = time.perf_counter()
    results = await asyncio.gather(*(_post(client, url, key) for client, key in zip(clients, keys)
                                     for _ in range(PER_STUDENT)))
    return time.perf_counter() - t0, [status for _, status in results]


def run(server: DemoServer, mode: Mode) -> list[Row]:
    reps, waves = mode.reps(200, 20), mode.reps(3, 1)
    latency = mode.seconds(1.0, 0.25)
    with tempfile.TemporaryDirectory(prefix="wisgate-b9-") as tmp:
        server.configure(latency=0.0, noise=False)
        gateway = _Gateway(Path(tmp), server.base_url, images_per_day=PER_STUDENT * waves + 1)
        loop = asyncio.new_event_loop()
        client = httpx.AsyncClient(timeout=120)
        students = [httpx.AsyncClient(timeout=120) for _ in range(STUDENTS)]
        try:
            lat = loop.run_until_complete(_latency(client, server.base_url, gateway, reps))
            server.configure(latency=latency)
            walls: dict[str, list[float]] = {"direct": [], "gateway": []}
            upstream_saw: list[int] = []
            for _ in range(waves):
                wall, codes = loop.run_until_complete(_wave(students, server.base_url, ["k"] * STUDENTS))
                assert codes == [200] * len(codes), codes
                walls["direct"].append(wall)
                server.configure(latency=latency)  # forget the direct requests: count the gateway's
                wall, codes = loop.run_until_complete(_wave(students, gateway.base_url, gateway.tokens))
                walls["gateway"].append(wall)
                upstream_saw.append(server.configure(latency=latency)["requests"])
                assert codes == [200] * len(codes), f"{codes.count(200)} of {len(codes)} ok"
            server.configure(latency=0.0)
            extra = loop.run_until_complete(_wave(students, gateway.base_url, gateway.tokens))[1]  # 1 left each...
            after = loop.run_until_complete(_wave(students, gateway.base_url, gateway.tokens))[1]  # ...then none
            refused_upstream = server.configure(latency=0.0)["requests"]
            usage = gateway.usage()
        finally:
            for c in (client, *students):
                loop.run_until_complete(c.aclose())
            loop.close()
            gateway.close()
    class_images = usage["class"]["images_today"] - next(s["images_today"] for s in usage["students"]
                                                         if s["student"] == "timer")
    per_student = {s["images_today"] for s in usage["students"] if s["student"] != "timer"}
    expected = PER_STUDENT * waves + 1
    exact = (upstream_saw == [STUDENTS * PER_STUDENT] * waves and per_student == {expected}
             and class_images == STUDENTS * expected and extra.count(200) == STUDENTS
             and after.count(429) == STUDENTS * PER_STUDENT and refused_upstream == STUDENTS)
    return _rows(lat, walls, latency, reps, exact, upstream_saw, sorted(per_student))


def _rows(lat, walls, latency, reps, exact, upstream_saw, per_student) -> list[Row]:
    p50 = {k: statistics.median(v) for k, v in lat.items()}
    p95 = {k: _p95(v) for k, v in lat.items()}
    added50, added95 = p50["gateway"] - p50["direct"], p95["gateway"] - p95["direct"]
    wall = {k: statistics.median(v) for k, v in walls.items()}
    load_ratio = ratio(wall["gateway"], wall["direct"])
    common = {"samples_ms": lat, "stats_ms": {k: stats(v) for k, v in lat.items()}}
    return [
        Row("B9", f"gateway added latency, n=1 1024² demo PNG, no server latency, p50 of {reps}", added50, "ms",
            baselines={"direct p50": p50["direct"], "gateway p50": p50["gateway"]},
            ratio=ratio(p50["gateway"], p50["direct"]), ratio_of="gateway / direct p50", target="added p50 ≤ 10 ms",
            met=added50 <= 10, extra=common),
        Row("B9", f"gateway added latency, n=1 1024² demo PNG, no server latency, p95 of {reps}", added95, "ms",
            baselines={"direct p95": p95["direct"], "gateway p95": p95["gateway"]},
            ratio=ratio(p95["gateway"], p95["direct"]), ratio_of="gateway / direct p95", target="added p95 ≤ 25 ms",
            met=added95 <= 25, extra=common),
        Row("B9", f"{STUDENTS} students × {PER_STUDENT} concurrent through the gateway, server latency {latency:g} s",
            wall["gateway"], "s", baselines={"direct": wall["direct"]}, ratio=load_ratio, ratio_of="gateway / direct",
            target="≤ 1.2× direct, quota counts exact", met=load_ratio is not None and load_ratio <= 1.2 and exact,
            extra={"walls_s": walls, "upstream_saw": upstream_saw, "counts_exact": exact, "per_student": per_student},
            note=f"quota counts {'exact' if exact else 'NOT exact'}: upstream saw {upstream_saw} per wave, each "
                 f"student {per_student} images, then {PER_STUDENT} refusals each (none sent upstream)"),
    ]


if __name__ == "__main__":  # python -m benchmarks.b9_gateway [--quick]
    sys.path.insert(0, str(REPO))
    with DemoServer() as srv:
        from benchmarks.common import table

        print(table(run(srv, Mode(quick="--quick" in sys.argv))))
