"""Helpers of the gateway tests: a gateway on a loopback port, students, a clock, subprocess gateways."""

from __future__ import annotations

import calendar
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
from conftest import TEST_KEY

from wisgate_nb._secret import Secret
from wisgate_nb.config import WisGate
from wisgate_nb.core.session import Session
from wisgate_nb.gateway.auth import add_student
from wisgate_nb.gateway.server import GatewayHandle, serve
from wisgate_nb.gateway.settings import GatewaySettings, Upstream

REPO = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "wg-admin-TEACHER-5f4e3d2c1b0a-token"
START = float(calendar.timegm((2025, 11, 24, 12, 0, 0)))  # noon UTC: far from midnight


class _NoCookies(DefaultCookiePolicy):
    def set_ok(self, cookie, request) -> bool:
        return False


# The tests' own requests: one client, so one TLS context (httpx.get() builds a client and loads the CA bundle every
# time, 35-150 ms, most of a poll every 50 ms). As httpx.get(): no keep-alive, and no cookie kept from an answer
# (a request's own cookies= are sent).
HTTP = httpx.Client(limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
                    cookies=CookieJar(_NoCookies()))


class Clock:
    """An injectable clock (epoch seconds) that moves only when told."""

    def __init__(self, t: float = START):
        self.t = t
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds


@dataclass
class Classroom:
    """A gateway in front of the loopback demo server, and how to make students for it."""

    gw: GatewayHandle
    tmp: Path
    config_path: Path

    @property
    def engine(self):
        return self.gw.gateway.ledger.engine

    def student(self, name: str) -> str:
        return add_student(self.engine, name)[0]

    def session(self, token: str, **settings) -> Session:
        settings.setdefault("max_retries", 0)
        config = WisGate(api_key=token, base_url=self.gw.base_url, demo=False,
                         history_dir=str(self.tmp / "runs"), **settings)
        return Session(config)

    def admin(self, path: str = "/admin/usage") -> httpx.Response:
        return HTTP.get(self.gw.root + path, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)

    def quota(self, token: str) -> dict:
        r = HTTP.get(self.gw.base_url + "/quota", headers={"authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def usage(self, name: str) -> dict:
        rows = [s for s in self.admin().json()["students"] if s["student"] == name]
        assert rows, name
        return rows[0]


def settings_for(tmp: Path, upstream_url: str, *, db_url: str | None = None, key: str = TEST_KEY) -> GatewaySettings:
    return GatewaySettings(config_path=tmp / "gateway.toml", db_url=db_url or f"sqlite:///{tmp / 'gw.sqlite'}",
                           upstream=Upstream(upstream_url, Secret(key)), admin_token=Secret(ADMIN_TOKEN))


@contextmanager
def classroom(tmp: Path, upstream_url: str, config: str = "", *, clock=time.time, **kw) -> Iterator[Classroom]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "gateway.toml").write_text(config, encoding="utf-8")
    with serve(settings_for(tmp, upstream_url, **kw), clock=clock) as gw:
        yield Classroom(gw, tmp, tmp / "gateway.toml")


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            HTTP.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url} within {timeout} s")


def gateway_env(upstream_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WISGATE_", "WISDOM_", "JUPYTERHUB_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(WISGATE_API_KEY=TEST_KEY, WISGATE_BASE_URL=upstream_url, WISGATE_GATEWAY_ADMIN_TOKEN=ADMIN_TOKEN)
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wisgate_nb.cli", "gateway", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


@contextmanager
def gateway_process(*args: str, env: dict[str, str], cwd: Path, log: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """``wisgate-nb gateway`` in its own process on a free port; yields (process, base_url)."""
    port = free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "wisgate_nb.cli", "gateway", "--port", str(port), *args],
                                env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/quota", proc=proc)
        yield proc, f"http://127.0.0.1:{port}/v1"
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the workers go too
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def check_expiry(engine) -> None:
    """A reservation expires once, gives its images back, and a late answer still counts what it made."""
    from wisgate_nb.gateway.auth import add_student
    from wisgate_nb.gateway.ledger import Ledger, Refusal
    from wisgate_nb.gateway.quotas import quota_view
    from wisgate_nb.gateway.settings import Limits

    clock = Clock()
    ledger = Ledger(engine, clock)
    limits = Limits(images_per_day=4, max_concurrent=1)
    rid = ledger.reserve("hal", limits, None, 3, {"route": "generations"}, ttl=30)
    assert isinstance(rid, str)
    refused = ledger.reserve("hal", limits, None, 1, {"route": "generations"}, ttl=30)
    assert isinstance(refused, Refusal) and refused.limit == "max_concurrent"
    clock.advance(29)
    assert ledger.sweep() == 0
    clock.advance(2)
    assert ledger.sweep() == 1 and ledger.sweep() == 0  # released once
    second = ledger.reserve("hal", limits, None, 4, {"route": "generations"}, ttl=30)
    assert isinstance(second, str)  # all 4 images were given back
    assert ledger.settle(rid, outcome="ok", images=1) is False  # the expired one answers late: not settled again...
    assert ledger.settle(second, outcome="ok", images=2) is True
    assert ledger.settle(second, outcome="ok", images=2) is False
    view = quota_view(engine, "hal", limits, None, clock())
    assert view["used"] == {"images_today": 3, "requests_this_minute": 2, "in_flight": 0}  # ...but its image counts
    token, replaced = add_student(engine, "hal")
    assert not replaced and add_student(engine, "hal")[1] is True


def check_term(engine) -> None:
    """Week, term and assignment limits hold under concurrent reservations; reset, block and the lease work."""
    from concurrent.futures import ThreadPoolExecutor

    from wisgate_nb.gateway.lease import Lease
    from wisgate_nb.gateway.ledger import Ledger, Refusal
    from wisgate_nb.gateway.manage import block, reset
    from wisgate_nb.gateway.settings import Limits
    from wisgate_nb.gateway.terms import Assignment

    clock = Clock()
    ledger = Ledger(engine, clock)
    limits = Limits(images_per_week=5, images_total=7)
    lab = Assignment("lab1", START - 3600, START + 3600, 3)

    def burst(assignment=None) -> list:
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda _: ledger.reserve("wes", limits, None, 1, {"route": "generations"}, 60,
                                                         assignment), range(16)))
        for rid in got:
            if isinstance(rid, str):
                assert ledger.settle(rid, outcome="ok", images=1)
        return sorted(r.limit for r in got if isinstance(r, Refusal)), sum(isinstance(r, str) for r in got)

    assert burst(lab) == (["assignment lab1"] * 13, 3)
    assert burst() == (["images_per_week"] * 14, 2)
    clock.advance(7 * 86400)
    assert burst() == (["images_total"] * 14, 2)
    assert "the term's images given back" in reset(ledger, "wes", "total")
    block(engine, "wes")
    refused = ledger.reserve("wes", limits, None, 1, {"route": "generations"}, 60)
    assert isinstance(refused, Refusal) and refused.limit == "blocked" and refused.status == 403
    block(engine, "wes", False)
    other = Ledger(engine, clock)  # another gateway process, which stops renewing its lease
    Lease(other, 3).start()
    held = other.reserve("wes", limits, None, 2, {"route": "generations"}, 600)
    assert isinstance(held, str) and ledger.sweep() == 0
    clock.advance(4)
    assert ledger.sweep() == 1 and ledger.sweep() == 0  # released once, though its own 600 s have not passed
    assert burst() == (["images_per_week"] * 13, 3)  # this week had 2: nothing is held any more
    mine = Lease(ledger, 3)  # a live process never releases its own reservations, whatever its clock says
    mine.start()
    own = ledger.reserve("ola", limits, None, 1, {"route": "generations"}, 600)
    clock.advance(10)
    assert isinstance(own, str) and ledger.sweep() == 0 and ledger.settle(own, outcome="ok", images=1)


def check_old_schema(url: str) -> None:
    """Tables as the previous version made them (no blocked, week, assignment, safety_id, process): connect()
    adds the columns, keeps the rows, and the ledger works on them."""
    from sqlalchemy import create_engine, inspect, text

    from wisgate_nb.gateway import db
    from wisgate_nb.gateway.ledger import Ledger
    from wisgate_nb.gateway.settings import Limits

    old = create_engine(url)
    try:
        db.metadata.drop_all(old)
        with old.begin() as conn:
            conn.execute(text("CREATE TABLE gateway_state (student VARCHAR(128) PRIMARY KEY, in_flight INTEGER NOT "
                              "NULL, minute INTEGER NOT NULL, minute_requests INTEGER NOT NULL)"))
            conn.execute(text("INSERT INTO gateway_state VALUES ('old', 0, 0, 0)"))
            conn.execute(text("CREATE TABLE gateway_requests (id VARCHAR(40) PRIMARY KEY, student VARCHAR(128) NOT "
                              "NULL, day VARCHAR(10) NOT NULL, started_at FLOAT NOT NULL, route VARCHAR(16) NOT NULL, "
                              "model TEXT, size TEXT, n INTEGER NOT NULL, stream BOOLEAN NOT NULL, prompt TEXT, "
                              "outcome VARCHAR(12) NOT NULL, reserved INTEGER NOT NULL, expires_at FLOAT, images "
                              "INTEGER NOT NULL, total_tokens INTEGER, status INTEGER, latency_ms FLOAT, request_id "
                              "TEXT, error_code TEXT, error TEXT)"))
        engine = db.connect(url)
        try:
            columns = {c["name"] for c in inspect(engine).get_columns("gateway_requests")}
            assert {"week", "assignment", "safety_id", "process"} <= columns
            ledger = Ledger(engine, Clock())
            rid = ledger.reserve("old", Limits(images_per_week=2), None, 2, {"route": "generations"}, 60)
            assert isinstance(rid, str) and ledger.settle(rid, outcome="ok", images=1)
        finally:
            engine.dispose()
    finally:
        old.dispose()
