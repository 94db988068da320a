"""Real-kernel tests (jupyter_client): Run All, interrupts, --bg display updates, notebook size, kill -9."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import nbformat
import pytest
from bounds import INTERRUPT_S, KERNEL_FREE_S, LIVE_LINE_S
from jupyter_client import KernelManager
from reliability_helpers import run_in_demo_kernel, wait_until

from wisgate_nb.emulator import EmulatorConfig, serve
from wisgate_nb.records import History


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("WISGATE_API_KEY", "WISDOM_GATE_KEY")}
    env.update(WISGATE_DEMO="1", WISGATE_HISTORY_DIR=str(tmp_path / "runs"), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture
def kernel(tmp_path):
    km = KernelManager(kernel_name="python3")
    km.kernel_cmd = None
    km.start_kernel(cwd=str(tmp_path), env=_env(tmp_path), extra_arguments=[])
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def _collect(kc, msg_ids, timeout=60.0):
    """Replies and iopub messages for the given requests: {msg_id: {"reply": ..., "iopub": [...]}}."""
    results = {m: {"reply": None, "iopub": [], "reply_at": None} for m in msg_ids}
    deadline = time.time() + timeout
    idle = set()
    while time.time() < deadline and (len(idle) < len(msg_ids) or any(r["reply"] is None for r in results.values())):
        try:
            msg = kc.get_iopub_msg(timeout=0.1)
            parent = msg["parent_header"].get("msg_id")
            if parent in results:
                results[parent]["iopub"].append(msg)
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    idle.add(parent)
        except Exception:
            pass
        try:
            while True:
                reply = kc.get_shell_msg(timeout=0.01)
                parent = reply["parent_header"].get("msg_id")
                if parent in results and results[parent]["reply"] is None:
                    results[parent]["reply"] = reply
                    results[parent]["reply_at"] = time.perf_counter()
        except Exception:
            pass
    return results


def _stdout(kc, code: str) -> str:
    """Run code in the kernel and return what it printed."""
    msg_id = kc.execute(code)
    out = _collect(kc, [msg_id])[msg_id]["iopub"]
    return "".join(m["content"].get("text", "") for m in out if m["msg_type"] == "stream")


def _until_html(kc, html: str, needle: str, timeout: float = 20.0) -> str:
    """Add display updates (as --bg sends them) to ``html`` until ``needle`` shows up."""
    deadline = time.time() + timeout
    while needle not in html and time.time() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=0.5)
        except Exception:  # queue.Empty
            continue
        if msg["msg_type"] == "update_display_data":
            html += msg["content"]["data"].get("text/html", "")
    return html


def _html(messages) -> str:
    return "".join(m["content"].get("data", {}).get("text/html", "") for m in messages
                   if m["msg_type"] in ("display_data", "execute_result", "update_display_data"))


def test_run_all_queued_cells_all_complete(kernel):
    km, kc = kernel
    cells = [
        "%load_ext wisgate_nb",
        "%%wisgate_image -s 128x128\na fox in the snow",
        "x = 41",
        "%%wisgate_image -s 128x128 -n 2\na cat on a roof\n---\na dog in a boat",
        "print(x + 1)",
        "%%wisgate_image -s 128x128 --stream 2\na comet",
        "import wisgate_nb as wg; print(len(wg.history()))",
    ]
    ids = [kc.execute(code) for code in cells]  # all queued at once, as Run All does
    results = _collect(kc, ids, timeout=120)
    for code, msg_id in zip(cells, ids):
        reply = results[msg_id]["reply"]
        assert reply is not None, f"no reply for {code!r}"
        assert reply["content"]["status"] == "ok", (code, reply["content"])
    for index in (1, 3, 5):
        assert "<img" in _html(results[ids[index]]["iopub"]), cells[index]
    streams = "".join(m["content"].get("text", "") for m in results[ids[4]]["iopub"] if m["msg_type"] == "stream")
    assert streams.strip() == "42"
    streams = "".join(m["content"].get("text", "") for m in results[ids[6]]["iopub"] if m["msg_type"] == "stream")
    assert streams.strip() == "4"


def test_interrupt_during_a_slow_generation_returns_within_half_a_second(kernel):
    km, kc = kernel
    with serve(EmulatorConfig(latency=10)) as srv:
        setup = kc.execute("%load_ext wisgate_nb\nimport wisgate_nb as wg\n"
                           f"wg.configure(demo=False, base_url={srv.base_url!r}, api_key='sk-kernel-test')")
        assert _collect(kc, [setup])[setup]["reply"]["content"]["status"] == "ok"
        slow = kc.execute("%%wisgate_image -s 128x128\na very slow fox")
        assert wait_until(lambda: srv.emulator.image_requests, timeout=30)  # the request is at the server
        interrupted_at = time.perf_counter()
        km.interrupt_kernel()
        result = _collect(kc, [slow], timeout=15)[slow]
    assert result["reply"]["content"]["status"] == "error"
    assert result["reply"]["content"]["ename"] == "Cancelled"  # a KeyboardInterrupt subclass, one line
    assert result["reply_at"] - interrupted_at < INTERRUPT_S
    assert "cancelled" in _stdout(kc, "print(wg.history().records[-1].status)")


def test_bg_returns_at_once_and_the_output_fills_in(kernel):
    km, kc = kernel
    setup = kc.execute("%load_ext wisgate_nb\nimport wisgate_nb as wg; wg.configure(demo_latency=5)")
    _collect(kc, [setup])
    sent = time.perf_counter()
    bg = kc.execute("%%wisgate_image -s 128x128 --bg --out later\na background fox")
    probe = kc.execute("1 + 1")
    results = _collect(kc, [bg, probe], timeout=30)
    # the probe is answered long before the 5 s generation ends
    assert results[probe]["reply_at"] - sent < KERNEL_FREE_S
    html = _until_html(kc, _html(results[bg]["iopub"]), "<img")
    assert "<img" in html and "a background fox" in html
    assert "Generation" in _stdout(kc, "print(type(later).__name__)")


def test_bg_with_several_prompts_names_the_failure_not_cancelled(kernel, tmp_path):
    """A --bg cell of several prompts whose work fails shows that failure, not "Cancelled"."""
    km, kc = kernel
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the history folder should be")
    setup = kc.execute(f"%load_ext wisgate_nb\nimport wisgate_nb as wg; wg.configure(history_dir={str(blocker)!r})")
    _collect(kc, [setup])
    bg = kc.execute("%%wisgate_image -s 64x64 --bg\na fox\n---\na cat")
    results = _collect(kc, [bg], timeout=30)
    assert results[bg]["reply"]["content"]["status"] == "ok"
    html = _until_html(kc, _html(results[bg]["iopub"]), "Error</b>")
    assert "NotADirectoryError" in html or "FileExistsError" in html, html
    assert "Cancelled" not in html


def test_bg_error_fills_in_where_the_result_would_be(kernel):
    km, kc = kernel
    setup = kc.execute("%load_ext wisgate_nb")
    _collect(kc, [setup])
    bg = kc.execute("%%wisgate_image -s 128x128 --bg\na forbidden fox")
    results = _collect(kc, [bg], timeout=30)
    assert results[bg]["reply"]["content"]["status"] == "ok"  # the cell itself returned at once
    html = _until_html(kc, _html(results[bg]["iopub"]), "ContentPolicyError")
    assert "ContentPolicyError" in html and "moderation_blocked" in html


def _timed_messages(kc, msg_id, timeout=30.0) -> tuple[list[tuple[float, dict]], float]:
    """Every iopub message of one request with its arrival time, and when the reply arrived.

    Reads on until the kernel says it is idle for this request: outputs sent just before the reply can
    still be on their way on the iopub channel when the reply comes."""
    start, messages, reply_at, idle = time.perf_counter(), [], None, False
    deadline = time.time() + timeout
    while time.time() < deadline and (reply_at is None or not idle):
        try:
            msg = kc.get_iopub_msg(timeout=0.05)
            if msg["parent_header"].get("msg_id") == msg_id:
                if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                    idle = True
                else:
                    messages.append((time.perf_counter() - start, msg))
        except Exception:  # queue.Empty
            pass
        if reply_at is None:
            try:
                reply = kc.get_shell_msg(timeout=0.01)
                if reply["parent_header"].get("msg_id") == msg_id:
                    reply_at = time.perf_counter() - start
            except Exception:
                pass
    return messages, reply_at


def test_the_blocking_magic_shows_a_live_line_that_the_result_replaces(kernel):
    km, kc = kernel
    latency = 3  # seconds the demo server takes: the cell replies after it, the line ticks meanwhile
    setup = kc.execute(f"%load_ext wisgate_nb\nimport wisgate_nb as wg; wg.configure(demo_latency={latency})")
    assert _collect(kc, [setup])[setup]["reply"]["content"]["status"] == "ok"
    cell = kc.execute("%%wisgate_image -s 128x128 -n 2\na slow lighthouse")
    messages, reply_at = _timed_messages(kc, cell)
    assert reply_at is not None and reply_at > latency
    shown = [(t, m) for t, m in messages if m["msg_type"] in ("display_data", "update_display_data")]
    waiting = [(t, m["content"]["data"].get("text/plain", "")) for t, m in shown
               if "generating" in m["content"]["data"].get("text/html", "")]
    # the line is there at once and moves on while the kernel waits, long before the cell's reply
    assert waiting and waiting[0][0] < LIVE_LINE_S, waiting[:1]
    assert "a slow lighthouse" in waiting[0][1] and "128x128" in waiting[0][1] and "n=2" in waiting[0][1]
    early = [text for t, text in waiting if t < reply_at - LIVE_LINE_S]
    assert len(early) >= 3 and len(set(early)) == len(early)  # 0.0 s, 1.0 s, 2.0 s: the seconds move on
    # the result replaces the line in the same output (its display id), and nothing comes after it
    ids = {m["content"].get("transient", {}).get("display_id") for _, m in shown} - {None}
    last = shown[-1][1]
    assert last["msg_type"] == "update_display_data" and len(ids) == 1
    assert last["content"]["transient"]["display_id"] in ids
    assert last["content"]["data"]["text/html"].count("<img") == 2
    assert last["content"]["metadata"]["text/html"]["wisgate_nb"]["prompt"] == "a slow lighthouse"


def test_executed_notebooks_keep_only_the_results_not_the_waiting_lines(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext wisgate_nb\nimport wisgate_nb as wg; wg.configure(demo_latency=1.5)"),
                nbformat.v4.new_code_cell("%%wisgate_image -s 128x128\na waiting fox"),
                nbformat.v4.new_code_cell("%%wisgate_image -s 128x128\na fox\n---\na cat")]
    run_in_demo_kernel(nb, tmp_path)
    single, several = nb.cells[1].outputs, nb.cells[2].outputs
    assert [o["output_type"] for o in single] == ["display_data", "display_data"]  # the demo notice, the result
    assert "demo mode" in single[0]["data"]["text/html"]
    assert single[1]["data"]["text/html"].count("<img") == 1 and "wisgate_nb" in single[1]["metadata"]["text/html"]
    assert [o["output_type"] for o in several] == ["display_data"]
    assert several[0]["data"]["text/html"].count("<img") == 2
    assert "generating" not in json.dumps([c.outputs for c in nb.cells])


def test_saved_notebook_with_four_large_images_stays_small(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext wisgate_nb"),
                nbformat.v4.new_code_cell("%%wisgate_image --size 1024x1024 -n 4\na detailed city at night")]
    run_in_demo_kernel(nb, tmp_path)
    path = tmp_path / "four.ipynb"
    nbformat.write(nb, path)
    html = "".join(o.get("data", {}).get("text/html", "") for o in nb.cells[1].outputs)
    assert html.count("<img") == 4
    assert path.stat().st_size < 400_000
    assert len(sorted((tmp_path / "runs").glob("*/*_?.png"))) == 4  # full-resolution files are on disk


def test_kill_9_mid_batch_loses_nothing_that_had_finished(kernel, tmp_path):
    km, kc = kernel
    setup = kc.execute("%load_ext wisgate_nb\nimport wisgate_nb as wg\n"
                       "wg.configure(demo_latency=0.4, max_concurrency=2)")
    _collect(kc, [setup])
    kc.execute("wg.sweep(prompts=[f'fox {i}' for i in range(10)], size=['64x64', '128x128'])")
    history_file = None
    deadline = time.time() + 30
    while time.time() < deadline:
        files = list((tmp_path / "runs").glob("*/history.jsonl"))
        if files and len(files[0].read_text().splitlines()) >= 4:
            history_file = files[0]
            break
        time.sleep(0.05)
    assert history_file is not None, "the batch did not start"
    os.kill(km.provisioner.process.pid, signal.SIGKILL)
    km.provisioner.process.wait(timeout=10)
    lines = history_file.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line parses
    assert 4 <= len(records) < 20
    assert len({r["id"] for r in records}) == len(records)
    loaded = History.load(history_file.parent)
    assert len(loaded) == len(records)
    for record in loaded:
        assert record.status == "ok"
        assert all(p.exists() for p in loaded.full_paths(record))


def test_kernel_python_is_this_python(kernel):
    km, kc = kernel
    text = _stdout(kc, "import sys; print(sys.executable)").strip()
    assert Path(text).resolve() == Path(sys.executable).resolve()


def test_a_request_waiting_for_the_rate_limit_says_so_and_leaves_the_kernel_free(kernel, server):
    from conftest import TEST_KEY

    km, kc = kernel
    config = server.emulator.config
    config.rpm, config.rate_window = 1, 4.0  # one request per 4 s window, with x-ratelimit-* headers
    try:
        setup = kc.execute(f"%load_ext wisgate_nb\nimport wisgate_nb as wg\nwg.configure(demo=False, "
                           f"base_url={server.base_url!r}, api_key={TEST_KEY!r})\n"
                           "wg.generate('the first of the window', size='64x64')")
        assert _collect(kc, [setup])[setup]["reply"]["content"]["status"] == "ok"
        sent = time.perf_counter()
        bg = kc.execute("%%wisgate_image -s 64x64 --bg --out later\nthe second waits for the next window")
        probe = kc.execute("1 + 1")
        results = _collect(kc, [bg, probe], timeout=30)
        assert results[probe]["reply_at"] - sent < KERNEL_FREE_S  # the wait is on the engine thread
        cell = kc.execute("%%wisgate_image -s 64x64\nthe third waits too")
        messages, reply_at = _timed_messages(kc, cell)
        assert reply_at is not None
        lines = [m["content"]["data"].get("text/plain", "") for _, m in messages
                 if m["msg_type"] in ("display_data", "update_display_data")]
        assert any("waiting for the rate limit (~" in line for line in lines), lines
        assert "Generation" in _stdout(kc, "print(type(later).__name__)")
        assert [r.status for r in server.emulator.image_requests] == [200, 200, 200]  # waited, never refused
    finally:
        config.rpm, config.rate_window = None, 60.0
