"""The engine thread, the session and the Python API against the demo server on loopback."""

from __future__ import annotations

import _thread
import asyncio
import concurrent.futures
import subprocess
import sys
import threading
import time

import pytest
from bounds import CANCEL_S, FIRST_PARTIAL_BY, INTERRUPT_S
from conftest import TEST_KEY
from reliability_helpers import wait_until

import wisgate_nb
from wisgate_nb.config import Secret, WisGate
from wisgate_nb.core.engine import Engine
from wisgate_nb.errors import BudgetExceededError, ConfigurationError, InternalServerError


def test_exported_names_are_pinned():
    assert sorted(wisgate_nb.__all__) == sorted([
        "APIConnectionError", "APIStatusError", "APITimeoutError", "AuthenticationError", "BadRequestError",
        "BudgetExceededError", "ConfigurationError", "ContentPolicyError", "Generation", "History",
        "InternalServerError", "NotFoundError", "PermissionDeniedError", "QuotaExceededError", "RateLimitError",
        "ResponseFormatError",
        "experiment", "grade",
        "WisGate", "WisGateError", "__version__", "agenerate", "compare_slider", "configure", "edit", "generate",
        "history", "load_ipython_extension", "mask_painter", "panel", "provenance", "sessions", "sweep", "templates",
        "unload_ipython_extension",
    ])
    for name in wisgate_nb.__all__:
        assert hasattr(wisgate_nb, name), name


def test_error_tree():
    e = wisgate_nb
    assert issubclass(e.ConfigurationError, (e.WisGateError, ValueError))
    assert issubclass(e.APITimeoutError, e.APIConnectionError)
    assert issubclass(e.ContentPolicyError, e.BadRequestError)
    assert issubclass(e.QuotaExceededError, e.RateLimitError)
    for cls in (e.BadRequestError, e.AuthenticationError, e.PermissionDeniedError, e.NotFoundError,
                e.RateLimitError, e.InternalServerError):
        assert issubclass(cls, e.APIStatusError)


def test_import_is_light():
    code = ("import sys, wisgate_nb; heavy = [m for m in ('pandas', 'ipywidgets', 'anywidget', 'starlette', 'PIL', 'httpx') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_settings_precedence_and_environment(monkeypatch):
    monkeypatch.setenv("WISGATE_MODEL", "env-model")
    monkeypatch.setenv("WISGATE_BASE_URL", "http://example.invalid/v1")
    monkeypatch.setenv("WISDOM_GATE_KEY", "sk-alias-key-0123456789abcdef")
    monkeypatch.delenv("WISGATE_API_KEY", raising=False)
    monkeypatch.setenv("WISGATE_DEMO", "1")
    config = WisGate()
    assert config.model == "env-model" and config.base_url == "http://example.invalid/v1" and config.demo
    assert config.api_key.get() == "sk-alias-key-0123456789abcdef"
    assert "WISDOM_GATE_KEY" in config.key_source()
    monkeypatch.setenv("WISGATE_API_KEY", "sk-main-key-0123456789abcdef")
    assert WisGate().api_key.get() == "sk-main-key-0123456789abcdef"
    config.model = "set-model"  # %config / configure() beat the environment
    assert config.model == "set-model"


def test_key_never_in_repr_or_str():
    config = WisGate(api_key=TEST_KEY)
    for text in (repr(config), str(config.api_key), repr(config.api_key), repr(config.settings())):
        assert TEST_KEY not in text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(Secret(TEST_KEY))


def test_configure_rejects_unknown_and_bad_settings(session):
    with pytest.raises(ConfigurationError, match="unknown setting"):
        wisgate_nb.configure(modle="x")
    with pytest.raises(ConfigurationError):
        wisgate_nb.configure(n=0)
    wisgate_nb.configure(size="256x256")
    assert session.config.size == "256x256"


def test_generate_returns_a_generation(session, server):
    g = wisgate_nb.generate("a red fox", size="256x256", n=2)
    assert isinstance(g, wisgate_nb.Generation)
    assert len(g.images) == 2 and g.images[0].size == (256, 256)
    assert all(p.exists() for p in g.paths)
    assert g.prompt == "a red fox" and g.params["n"] == 2 and g.latency_s > 0
    assert g.request_id and g.request_id.startswith("req_")
    assert g.usage["total_tokens"] > 0
    data, meta = g._repr_mimebundle_()
    assert "<img" in data["text/html"] and meta["text/html"]["wisgate_nb"]["model"] == "gpt-image-2"
    assert server.emulator.image_requests[0].headers["authorization"] == "Bearer [REDACTED]"


def test_generation_html_is_small_and_full_embeds_the_original(session):
    g = wisgate_nb.generate("a big picture", size="1024x1024")
    assert len(g.html()) < 100_000
    full = wisgate_nb.generate("a big picture", size="1024x1024", full=True)
    assert len(full.html()) > len(g.html())


def test_agenerate_in_an_event_loop(session):
    async def main():
        started = time.perf_counter()
        results = await asyncio.gather(*(wisgate_nb.agenerate(f"fox {i}", size="128x128") for i in range(3)))
        return results, time.perf_counter() - started

    results, _ = asyncio.run(main())
    assert [r.prompt for r in results] == ["fox 0", "fox 1", "fox 2"]
    assert len(session.history) == 3


def test_generate_in_a_plain_script(tmp_path):
    script = ("import wisgate_nb as wg\n"
              "wg.configure(demo=True, history_dir='runs')\n"
              "g = wg.generate('a script fox', size='128x128')\n"
              "print(g.paths[0])\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / out.stdout.strip()).exists()


def test_interrupt_cancels_within_half_a_second_and_records_cancelled(session, server):
    server.emulator.config.latency = 5.0
    request = session.prepare("a slow fox", size="128x128")
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        session.run(request)
    returned_after = time.perf_counter() - started - 0.5
    assert returned_after < INTERRUPT_S
    (record,) = session.history.records
    assert record.status == "cancelled"


def test_background_submit_and_cancel(session, server):
    server.emulator.config.latency = 5.0
    future = session.submit(session.prepare("bg fox", size="128x128"))
    assert wait_until(lambda: server.emulator.image_requests)  # the request is at the server
    assert not future.done()
    assert future.cancel()
    concurrent.futures.wait([future], timeout=CANCEL_S)
    assert future.cancelled()  # done only once recorded: the history row is already there
    assert [r.status for r in session.history.records] == ["cancelled"]


def test_errors_are_recorded_with_request_id(session, server):
    from wisgate_nb.emulator import Fault

    server.emulator.schedule(*[Fault("status", status=503)] * 3)
    with pytest.raises(InternalServerError) as info:
        wisgate_nb.generate("busy", size="128x128")
    record = session.history.records[-1]
    assert record.status == "error" and record.error_type == "InternalServerError"
    assert record.request_id == info.value.request_id and record.request_id
    assert len(server.emulator.image_requests) == 3


def test_budget_max_images_refuses_before_sending(session, server):
    session.config.max_images = 3
    wisgate_nb.generate("one", size="128x128", n=2)
    with pytest.raises(BudgetExceededError, match=r"asks for 2 images, but only 1 of .*max_images=3 are left"
                                                  r" \(2 used\): ask for n=1 or fewer") as refused:
        wisgate_nb.generate("two", size="128x128", n=2)
    assert "used up" not in str(refused.value)  # 2 of 3: not used up (tutorial 06 said so at 4 of 8)
    assert len(server.emulator.image_requests) == 1
    assert len(session.history) == 1
    wisgate_nb.generate("three", size="128x128")
    with pytest.raises(BudgetExceededError, match=r"image budget is used up: 3 of max_images=3"):
        wisgate_nb.generate("four", size="128x128")


def test_max_cost_with_a_price_table(session, server):
    session.config.prices = {"gpt-image-2": {"per_image": 0.5}}
    session.config.max_cost = 1.0
    wisgate_nb.generate("one", size="128x128", n=2)
    assert session.history.totals(session.config.prices)["cost"] == 1.0
    with pytest.raises(BudgetExceededError, match="max_cost"):
        wisgate_nb.generate("two", size="128x128")
    assert len(server.emulator.image_requests) == 1


def test_cache_reuses_an_identical_result_without_sending(session, server):
    first = wisgate_nb.generate("cached fox", size="128x128", cache=True)
    again = wisgate_nb.generate("cached fox", size="128x128", cache=True)
    other = wisgate_nb.generate("cached fox", size="256x256", cache=True)
    assert len(server.emulator.image_requests) == 2
    assert again.reused and not first.reused and not other.reused
    assert again.images[0].tobytes() == first.images[0].tobytes()
    assert [r.reused for r in session.history.records] == [False, True, False]
    assert session.history.totals()["images"] == 2  # the reused one cost nothing


def test_no_cache_by_default(session, server):
    wisgate_nb.generate("fox", size="128x128")
    wisgate_nb.generate("fox", size="128x128")
    assert len(server.emulator.image_requests) == 2


def test_engine_survives_and_closes():
    engine = Engine()

    async def add(a, b):
        await asyncio.sleep(0.01)
        return a + b

    assert engine.run(add(1, 2)) == 3
    thread = engine._thread
    engine.close()
    assert not thread.is_alive()
    assert engine.run(add(2, 2)) == 4  # restarts on demand
    engine.close()


def test_session_close_leaves_no_thread(tmp_path):
    from wisgate_nb.core.session import Session

    before = {t.name for t in threading.enumerate()}
    s = Session(WisGate(demo=True, history_dir=str(tmp_path)))
    s.run(s.prepare("a fox", size="128x128"))
    s.close()  # joins the engine thread and its worker threads
    assert {t.name for t in threading.enumerate()} - before == set()


def test_cli_generate_demo_prints_paths(tmp_path):
    out = subprocess.run(["wisgate-nb", "generate", "a lighthouse", "--demo", "-n", "2", "--size", "128x128",
                          "--out", "imgs"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    paths = out.stdout.split()
    assert len(paths) == 2 and all((tmp_path / p).exists() for p in paths)


def test_cli_without_key_explains(tmp_path):
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("WISGATE_API_KEY", "WISDOM_GATE_KEY", "WISGATE_DEMO")}
    out = subprocess.run(["wisgate-nb", "generate", "a lighthouse"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 2
    assert "WISGATE_API_KEY" in out.stderr and "demo" in out.stderr
    assert not (tmp_path / "wisgate_runs").exists()  # nothing written


def test_cli_bad_size(tmp_path):
    out = subprocess.run(["wisgate-nb", "generate", "a lighthouse", "--demo", "--size", "10x10"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "64 to 4096" in out.stderr


def test_demo_mode_streams_partials_before_the_final_image(demo_session):
    demo_session.config.demo_latency = 1.5
    started = time.perf_counter()
    arrivals = []
    g = wisgate_nb.generate("a comet", size="128x128", stream=2,
                            on_partial=lambda i, blob: arrivals.append(time.perf_counter() - started))
    total = time.perf_counter() - started
    assert len(arrivals) == 2 and g.images[0].size == (128, 128)
    assert arrivals[0] < FIRST_PARTIAL_BY * total  # the first preview comes well before the final image


def test_demo_transport_reports_a_dropped_body(demo_session):
    import asyncio

    import httpx

    from wisgate_nb.emulator.transport import StreamingASGITransport

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("boom")

    async def main():
        async with httpx.AsyncClient(transport=StreamingASGITransport(app)) as client:
            response = await client.get("http://demo/x")
            return response

    with pytest.raises(httpx.ReadError):
        asyncio.run(main())


def test_max_concurrency_bounds_every_front_door(session, server):
    session.config.max_concurrency = 2
    server.emulator.config.latency = 0.5
    futures = [session.submit(session.prepare(f"fox {i}", size="64x64")) for i in range(4)]
    for f in futures:
        f.result(timeout=30)
    starts = sorted(r.timestamp for r in server.emulator.image_requests)
    # two start at once; the other two only after a slot frees, a latency later
    assert starts[1] - starts[0] < 0.25 and starts[2] - starts[0] > 0.4


@pytest.mark.parametrize("name, value", [("size", "huge"), ("quality", 3), ("output_format", "bmp"),
                                         ("thumbnail_px", 0), ("max_images", -1), ("max_concurrency", 0)])
def test_bad_default_settings_are_refused_when_set(session, name, value):
    with pytest.raises(ConfigurationError):
        wisgate_nb.configure(**{name: value})


def test_cli_emulator_serves_the_images_api(tmp_path):
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["wisgate-nb", "emulator", "--port", str(port), "--require-key", "sk-cli-emulator-key"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                httpx.get(f"{base}/models", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        denied = httpx.post(f"{base}/images/generations", json={"prompt": "a fox"}, timeout=30)
        assert denied.status_code == 401
        ok = httpx.post(f"{base}/images/generations", json={"prompt": "a fox", "size": "64x64"}, timeout=30,
                        headers={"Authorization": "Bearer sk-cli-emulator-key"})
        assert ok.status_code == 200 and ok.json()["data"][0]["b64_json"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_one_connection_pool_per_session(session, server):
    """Changing a setting (timeout, key, retries) opens no second pool: one socket serves them all."""
    from reliability_helpers import client_sockets

    wisgate_nb.generate("first", size="64x64")
    pool = session._clients.pool
    session.config.timeout = 30.0
    session.config.max_retries = 1
    wisgate_nb.generate("second", size="64x64")
    assert session._clients.pool is pool
    assert len(client_sockets(server.port)) == 1  # the keep-alive connection was reused


def test_a_cancelled_job_is_done_only_once_recorded(session, server):
    server.emulator.config.latency = 5.0
    jobs = [session.submit(session.prepare(f"fox {i}", size="64x64")) for i in range(3)]
    for job in jobs:  # the first is at the server, the others may not have started: all end recorded
        job.cancel()
    concurrent.futures.wait(jobs, timeout=CANCEL_S)
    assert all(job.cancelled() for job in jobs)
    assert [r.status for r in session.history.records] == ["cancelled"] * 3
