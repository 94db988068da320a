"""Several gateway processes on one real PostgreSQL (Debian's server, started here as the postgres user in a
temporary data directory): concurrent students across processes never overspend a quota.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
from collections import Counter

import httpx
import pytest
from gateway_helpers import bearer, check_expiry, check_old_schema, check_term, free_port, gateway_env, gateway_process
from sqlalchemy import create_engine, func, select

from wisgate_nb.gateway import db
from wisgate_nb.gateway.auth import add_student

INSTALL = "PostgreSQL's server is needed: apt-get install -y postgresql (.ci/run installs it)"


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    assert found, INSTALL
    return found


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on a free loopback port, in a data directory that is removed afterwards."""
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = tempfile.mkdtemp(prefix="wisgate-pg-")
    if as_postgres:
        shutil.chown(folder, "postgres", "postgres")
    data, port = os.path.join(folder, "data"), free_port()
    subprocess.run([*as_postgres, _pg_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync",
                    "-E", "UTF8"], check=True, capture_output=True, timeout=120)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run([*as_postgres, _pg_bin("pg_ctl"), "-D", data, "-o", options, "-l", os.path.join(folder, "log"),
                    "-w", "-t", "60", "start"], check=True, capture_output=True, timeout=90)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, _pg_bin("pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(folder, ignore_errors=True)


async def _class(urls: list[str], tokens: list[str], per_student: int) -> list[tuple[int, int]]:
    """(student index, status) of every request; each student's requests alternate between the gateways."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        async def one(student: int, i: int) -> tuple[int, int]:
            url = urls[(student + i) % len(urls)] + "/images/generations"
            r = await client.post(url, json={"prompt": f"a fox {i}", "size": "256x256"}, headers=bearer(tokens[student]))
            if r.status_code == 429:
                assert r.json()["error"]["code"] == "quota_exceeded" and r.headers["x-should-retry"] == "false"
            return student, r.status_code

        return await asyncio.gather(*(one(s, i) for s in range(len(tokens)) for i in range(per_student)))


def test_two_gateway_processes_on_one_postgres_never_overspend(postgres, server, tmp_path):
    server.emulator.config.latency = 0.3  # the requests overlap in both gateways
    (tmp_path / "gateway.toml").write_text("[quota]\nimages_per_day = 3\n[class]\nimages_per_day = 20\n",
                                           encoding="utf-8")
    engine = db.connect(postgres)
    try:
        tokens = [add_student(engine, f"pupil{i}")[0] for i in range(8)]
        env = gateway_env(server.base_url)
        with gateway_process("--db", postgres, "--workers", "2", env=env, cwd=tmp_path, log=tmp_path / "a.log") as (
                _a, url_a), gateway_process("--db", postgres, env=env, cwd=tmp_path, log=tmp_path / "b.log") as (
                _b, url_b):
            results = asyncio.run(_class([url_a, url_b], tokens, 6))
        ok = Counter(student for student, status in results if status == 200)
        statuses = Counter(status for _, status in results)
        assert statuses == {200: 20, 429: 28}, statuses
        assert max(ok.values()) <= 3 and sum(ok.values()) == 20
        assert len(server.emulator.image_requests) == 20
        with engine.connect() as conn:
            assert conn.execute(select(db.class_days.c.images)).scalar() == 20
            assert conn.execute(select(func.sum(db.days.c.images))).scalar() == 20
            assert conn.execute(select(func.sum(db.state.c.in_flight))).scalar() == 0
            outcomes = Counter(conn.execute(select(db.requests.c.outcome)).scalars())
        assert outcomes == {"ok": 20, "refused": 28}
        for log in ("a.log", "b.log"):  # both processes answered students (the quota may all go to one of them:
            text = (tmp_path / log).read_text()  # a slow start of a's workers leaves it only refusals to give)
            assert " -> 200 ok" in text or " refused: " in text, text[-2000:]
    finally:
        engine.dispose()


def test_the_tables_can_be_created_by_several_processes_at_once(postgres):
    engines = [create_engine(postgres) for _ in range(2)]
    try:
        for engine in engines:
            db.metadata.drop_all(engine)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: db.connect(postgres).dispose(), range(4)))
        with engines[0].connect() as conn:
            assert conn.execute(select(func.count()).select_from(db.requests)).scalar() == 0
    finally:
        for engine in engines:
            engine.dispose()


def _on_empty_tables(url: str, check) -> None:
    engine = db.connect(url)
    try:
        for table in reversed(db.metadata.sorted_tables):
            with engine.begin() as conn:
                conn.execute(table.delete())
        check(engine)
    finally:
        engine.dispose()


def test_reservations_expire_and_settle_once_on_postgres(postgres):
    _on_empty_tables(postgres, check_expiry)


def test_limits_over_a_term_reset_block_and_the_lease_on_postgres(postgres):
    _on_empty_tables(postgres, check_term)


def test_a_database_of_an_older_version_gains_the_new_columns_on_postgres(postgres):
    check_old_schema(postgres)
