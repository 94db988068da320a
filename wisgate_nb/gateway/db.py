"""The gateway's tables (SQLAlchemy Core) and its database engine: SQLite by default, PostgreSQL for several processes.

Tables:

- ``gateway_students``: standalone students; the token is stored as a SHA-256 hash only.
- ``gateway_state``: one row per student: requests in flight and this minute's request count.
- ``gateway_days``: images used (reserved + settled) per student and day (UTC).
- ``gateway_class_days``: images used by the whole class per day.
- ``gateway_periods``: images used per student over longer periods: ``week:2026-W49`` (ISO week),
  ``total`` (the term), ``assignment:NAME``.
- ``gateway_requests``: one row per request, from its reservation to its end (what the teacher sees).
- ``gateway_processes``: one row per live gateway process, its lease renewed while it runs.
- ``gateway_meta``: the gateway's own values (the key of the students' upstream identifiers).

A database made by an older version gains the new columns at start (:func:`connect` adds them).

Every write that must not race is a single conditional statement (``INSERT ... ON CONFLICT DO UPDATE SET
used = used + n WHERE used + n <= limit``) inside a short transaction opened with :func:`write`. On
SQLite a write transaction is ``BEGIN IMMEDIATE`` (the write lock first: no read-to-write upgrade to
fail), the writers of one process take turns on a lock (SQLite's own busy wait sleeps in coarse
steps, which stalls a burst of requests), and WAL mode lets readers go on meanwhile.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from .files import private_sqlite

__all__ = ["class_days", "connect", "days", "meta", "metadata", "periods", "processes", "requests", "state",
           "students", "upsert", "write"]

metadata = MetaData()

students = Table(
    "gateway_students", metadata,
    Column("name", String(128), primary_key=True),
    Column("token_id", String(32), nullable=False, unique=True),  # the public half of the token: the lookup key
    Column("token_hash", String(64), nullable=False),  # sha256 of the secret half
    Column("created_at", Float, nullable=False),
)

state = Table(
    "gateway_state", metadata,
    Column("student", String(128), primary_key=True),
    Column("in_flight", Integer, nullable=False, default=0),
    Column("minute", Integer, nullable=False, default=0),  # epoch minute of minute_requests
    Column("minute_requests", Integer, nullable=False, default=0),
    Column("blocked", Boolean, nullable=False, default=False),  # the teacher blocked the student
    Column("groups", Text),  # the student's hub groups at their last request, one per line (their limits)
)

days = Table(
    "gateway_days", metadata,
    Column("student", String(128), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("images", Integer, nullable=False, default=0),
)

periods = Table(
    "gateway_periods", metadata,
    Column("student", String(128), primary_key=True),
    Column("period", String(80), primary_key=True),
    Column("images", Integer, nullable=False, default=0),
)

processes = Table(
    "gateway_processes", metadata,
    Column("id", String(40), primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("lease_until", Float, nullable=False),  # renewed while the process lives
)

meta = Table(
    "gateway_meta", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

class_days = Table(
    "gateway_class_days", metadata,
    Column("day", String(10), primary_key=True),
    Column("images", Integer, nullable=False, default=0),
)

requests = Table(
    "gateway_requests", metadata,
    Column("id", String(40), primary_key=True),
    Column("student", String(128), nullable=False),
    Column("day", String(10), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("route", String(16), nullable=False),  # generations | edits
    Column("model", Text),
    Column("size", Text),
    Column("n", Integer, nullable=False, default=1),
    Column("stream", Boolean, nullable=False, default=False),
    Column("prompt", Text),  # NULL when store_prompts = false
    # reserved (in flight) | ok | error | cancelled (the student went away) | expired (a crashed gateway's)
    # | refused (over a quota) | invalid (refused by the gateway before any reservation)
    Column("outcome", String(12), nullable=False),
    Column("reserved", Integer, nullable=False, default=0),  # images held while in flight
    Column("expires_at", Float),
    Column("images", Integer, nullable=False, default=0),  # images the student received
    Column("total_tokens", Integer),
    Column("status", Integer),  # the HTTP status the student got
    Column("latency_ms", Float),
    Column("request_id", Text),  # the upstream's x-request-id, else the gateway's own
    Column("error_code", Text),
    Column("error", Text),
    Column("week", String(10)),  # the ISO week it counted in, 2026-W49
    Column("assignment", String(64)),  # the assignment whose budget it counted against, or NULL
    Column("safety_id", String(64)),  # what the upstream got as safety_identifier / user
    Column("process", String(40)),  # the gateway process that holds its reservation
    Index("ix_gateway_requests_student_started", "student", "started_at"),
    Index("ix_gateway_requests_outcome_expires", "outcome", "expires_at"),
)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL: consistent after a crash, no fsync per commit
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


_WRITE = "wisgate_write"
_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A write transaction: committed at the end, rolled back by an exception."""
    lock = _LOCKS.get(engine)
    if lock is not None:
        lock.acquire()
    try:
        with engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn
    finally:
        if lock is not None:
            lock.release()


def connect(url: str) -> Engine:
    """An engine for ``url`` with the tables created (safe when several processes start at once)."""
    if url.startswith("sqlite"):
        private_sqlite(make_url(url).database)  # mode 0600, -wal and -shm too
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=8, max_overflow=16)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        _LOCKS[engine] = threading.Lock()
    else:
        engine = create_engine(url, pool_size=10, max_overflow=30, pool_pre_ping=True)
    for attempt in range(5):
        try:
            metadata.create_all(engine)
            _add_new_columns(engine)
            break
        except DBAPIError:  # another process created the same table a moment ago
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    return engine


def _add_new_columns(engine: Engine) -> None:
    """Columns added since a table was first created (all nullable or with a default): ALTER TABLE ADD."""
    from sqlalchemy import inspect

    inspector = inspect(engine)
    with engine.begin() as conn:
        for table in (state, requests):
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    kind = column.type.compile(engine.dialect)
                    default = " NOT NULL DEFAULT FALSE" if isinstance(column.type, Boolean) else ""
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}{default}")


def _insert(engine: Engine):
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def upsert(engine: Engine, table: Table, values: dict | list[dict], *, set_, where):
    """``INSERT ... ON CONFLICT (primary key) DO UPDATE SET ... WHERE ...``: one atomic statement, in the
    engine's dialect. It changes each of its rows (inserted, or updated because ``where`` held) or not.
    ``set_`` and ``where`` may be functions of the row that would have been inserted (``excluded``)."""
    statement = _insert(engine)(table).values(values) if isinstance(values, list) else \
        _insert(engine)(table).values(**values)
    if callable(set_):
        set_, where = set_(statement.excluded), where(statement.excluded)
    return statement.on_conflict_do_update(index_elements=list(table.primary_key.columns), set_=set_, where=where)
