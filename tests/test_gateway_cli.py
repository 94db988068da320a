"""``wisgate-nb gateway`` as a teacher runs it: add-student, serve (its own process), usage; and a gateway
killed with SIGKILL in the middle of a request, then restarted on the same database.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
from gateway_helpers import HTTP, bearer, cli, gateway_env, gateway_process, wait_http
from reliability_helpers import wait_until

GENERATE = "/images/generations"
RESERVATION_S = 10.0  # how long the killed gateway's reservation lasts (generous: two process starts fit in it)


def _ok(done) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_add_student_serve_and_usage(server, tmp_path):
    env = gateway_env(server.base_url)
    (tmp_path / "gateway.toml").write_text("[quota]\nimages_per_day = 5\n", encoding="utf-8")
    out = _ok(cli("add-student", "alice", env=env, cwd=tmp_path)).splitlines()
    token = out[-1]
    assert token.startswith("wgs_") and " " not in token and "given" not in token
    assert "shown only now" in out[-2]
    assert (tmp_path / "wisgate_gateway.sqlite").exists()  # the default database, beside the config
    with gateway_process(env=env, cwd=tmp_path, log=tmp_path / "gw.log") as (_proc, base_url):
        r = HTTP.post(base_url + GENERATE, json={"prompt": "a fox", "size": "256x256", "n": 2}, headers=bearer(token),
                       timeout=30)
        assert r.status_code == 200 and len(r.json()["data"]) == 2
        again = _ok(cli("add-student", "alice", env=env, cwd=tmp_path)).splitlines()
        assert "no longer works" in again[0] and again[-1] != token
        assert HTTP.post(base_url + GENERATE, json={"prompt": "x"}, headers=bearer(token), timeout=30).status_code == 401
        assert HTTP.post(base_url + GENERATE, json={"prompt": "a fox", "size": "256x256"}, headers=bearer(again[-1]),
                          timeout=30).status_code == 200
    table = _ok(cli("usage", env=env, cwd=tmp_path)).splitlines()
    assert table[1].split() == ["student", "images", "limit", "requests", "refused", "blocked", "errors", "last",
                                "request", "(UTC)"]
    assert table[3].split()[:7] == ["alice", "3", "5", "2", "0", "0", "0"]
    assert "class: 3 images of no limit" in table[0]
    log = (tmp_path / "gw.log").read_text()
    assert "alice generations -> 200 ok: 2 image(s)" in log and token not in log and again[-1] not in log


def test_bad_input_on_the_command_line_is_a_clear_error(tmp_path):
    env = gateway_env("http://127.0.0.1:9/v1")
    done = cli("add-student", "<bob>", env=env, cwd=tmp_path)
    assert done.returncode == 2 and "a student name is 1-64 letters" in done.stderr
    (tmp_path / "gateway.toml").write_text("[quota]\nimages_per_dya = 3\n", encoding="utf-8")
    done = cli("usage", env=env, cwd=tmp_path)
    assert done.returncode == 2 and "unknown key(s) in [quota]: images_per_dya" in done.stderr
    done = cli("--port", "0", env={k: v for k, v in env.items() if k != "WISGATE_API_KEY"}, cwd=tmp_path / "..")
    assert done.returncode == 2 and "no upstream key" in done.stderr


def test_a_gateway_killed_mid_request_leaves_a_database_a_restarted_gateway_uses(server, tmp_path):
    env = gateway_env(server.base_url)
    # reservations last 2 x upstream_timeout: long enough to see this one held after the restart
    (tmp_path / "gateway.toml").write_text(f"upstream_timeout = {RESERVATION_S / 2}\n[quota]\nimages_per_day = 2\n"
                                           "max_concurrent = 1\n", encoding="utf-8")
    token = _ok(cli("add-student", "kim", env=env, cwd=tmp_path)).splitlines()[-1]
    server.emulator.config.latency = 30.0
    failures: list[BaseException] = []
    with gateway_process(env=env, cwd=tmp_path, log=tmp_path / "gw.log") as (proc, base_url):
        def student():
            try:
                HTTP.post(base_url + GENERATE, json={"prompt": "a fox", "size": "256x256"}, headers=bearer(token),
                           timeout=30)
            except httpx.HTTPError as exc:
                failures.append(exc)

        thread = threading.Thread(target=student)
        thread.start()
        assert wait_until(lambda: len(server.emulator.image_requests) == 1, timeout=10)  # it is upstream now
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        thread.join(10)
    assert failures and isinstance(failures[0], httpx.TransportError)  # the student saw the connection drop
    db = sqlite3.connect(tmp_path / "wisgate_gateway.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT outcome, reserved FROM gateway_requests").fetchall() == [("reserved", 1)]
    finally:
        db.close()
    server.emulator.config.latency = 0.0
    with gateway_process(env=env, cwd=tmp_path, log=tmp_path / "gw2.log") as (_proc, base_url):
        wait_http(base_url + "/quota")
        quota = HTTP.get(base_url + "/quota", headers=bearer(token), timeout=30).json()
        assert quota["used"]["in_flight"] == 1 and quota["used"]["images_today"] == 1  # held until it expires
        refused = HTTP.post(base_url + GENERATE, json={"prompt": "a fox", "size": "256x256"}, headers=bearer(token),
                             timeout=30)
        assert refused.status_code == 429 and "max_concurrent is 1" in refused.json()["error"]["message"]

        def released() -> bool:
            used = HTTP.get(base_url + "/quota", headers=bearer(token), timeout=30).json()["used"]
            return used["in_flight"] == 0 and used["images_today"] == 0

        assert wait_until(released, timeout=RESERVATION_S + 20, interval=0.5)  # expired, then the next sweep
        codes = [HTTP.post(base_url + GENERATE, json={"prompt": "a fox", "size": "256x256"}, headers=bearer(token),
                            timeout=30).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
    assert len(server.emulator.image_requests) == 3  # the killed one and two after the restart
    table = _ok(cli("usage", env=env, cwd=tmp_path)).splitlines()
    assert table[3].split()[:7] == ["kim", "2", "2", "5", "2", "0", "1"]  # 5 requests: 2 ok, 2 refused, 1 expired


def test_a_killed_gateways_reservations_are_released_by_another_within_its_lease(server, tmp_path):
    from bounds import LEASE_RELEASE_S

    from wisgate_nb.gateway.lease import SWEEP_S
    from wisgate_nb.gateway.settings import GatewayConfig

    assert GatewayConfig().lease_s + min(SWEEP_S, GatewayConfig().lease_s / 3) <= LEASE_RELEASE_S  # the default
    env = gateway_env(server.base_url)
    # the reservations alone would last 600 s: only the lease can release them in time
    (tmp_path / "gateway.toml").write_text("lease_s = 3\nupstream_timeout = 300\n[quota]\nmax_concurrent = 2\n",
                                           encoding="utf-8")
    token = _ok(cli("add-student", "zoe", env=env, cwd=tmp_path)).splitlines()[-1]
    server.emulator.config.latency = 60.0
    with gateway_process(env=env, cwd=tmp_path, log=tmp_path / "gw.log") as (proc, base_url):
        threads = [threading.Thread(target=lambda: _quietly(base_url, token)) for _ in range(2)]
        for thread in threads:
            thread.start()
        assert wait_until(lambda: len(server.emulator.image_requests) == 2, timeout=10)
        os.killpg(proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait(10)
    db = sqlite3.connect(tmp_path / "wisgate_gateway.sqlite")
    try:
        assert db.execute("SELECT outcome, count(*) FROM gateway_requests GROUP BY outcome").fetchall() == [
            ("reserved", 2)]
    finally:
        db.close()
    server.emulator.config.latency = 0.0
    with gateway_process(env=env, cwd=tmp_path, log=tmp_path / "gw2.log") as (_proc, base_url):
        def served() -> bool:
            return HTTP.post(base_url + GENERATE, json={"prompt": "a fox", "size": "256x256"},
                              headers=bearer(token), timeout=30).status_code == 200

        assert wait_until(served, timeout=LEASE_RELEASE_S, interval=0.5)
        waited = time.monotonic() - killed_at
    assert waited < LEASE_RELEASE_S
    db = sqlite3.connect(tmp_path / "wisgate_gateway.sqlite")
    try:
        errors = db.execute("SELECT error FROM gateway_requests WHERE outcome = 'expired'").fetchall()
    finally:
        db.close()
    assert errors == [("released: the gateway holding it stopped",)] * 2
    print(f"served {waited:.1f} s after the kill (lease_s = 3)")


def _quietly(base_url: str, token: str) -> None:
    try:
        HTTP.post(base_url + GENERATE, json={"prompt": "a fox", "size": "256x256"}, headers=bearer(token), timeout=90)
    except httpx.HTTPError:
        pass  # the gateway was killed under it


def test_the_readmes_tokens_file_is_for_the_teacher_alone(tmp_path):
    """The README's line that hands out tokens, run as written: three tokens in a file of mode 0600."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    [line] = [x for x in readme.splitlines() if x.rstrip().endswith("> tokens.txt)")]
    assert shutil.which("wisgate-nb"), "the README's commands need the installed wisgate-nb command"
    env = gateway_env("http://127.0.0.1:9/v1")
    done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    tokens = tmp_path / "tokens.txt"
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"
    rows = [row.split() for row in tokens.read_text().splitlines()]
    assert [r[0] for r in rows] == ["alice", "bob", "carol"] and all(r[1].startswith("wgs_") for r in rows)
