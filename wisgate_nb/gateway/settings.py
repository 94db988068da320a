"""The gateway's settings: ``gateway.toml`` (limits, re-read when it changes) and its own environment.

``gateway.toml``, every key optional::

    store_prompts = true        # record each request's prompt (false: never stored)
    store_images = false        # keep a thumbnail of each image a student received (/admin/images)
    upstream_timeout = 300      # seconds the upstream may stay silent; reservations expire after twice that
    max_body_mb = 50            # larger request bodies are refused (413) without calling the upstream
    allow_judge = false         # true: forward /v1/chat/completions (grading images), a request each
    lease_s = 30                # a stopped gateway's reservations are released this long after it stopped

    [quota]                     # every student (a request must fit every limit that applies; times are UTC)
    images_per_day = 20
    images_per_week = 60        # ISO weeks
    images_total = 300          # the whole term
    requests_per_minute = 10    # per calendar minute
    max_concurrent = 2
    [quota.groups.advanced]     # members of a JupyterHub group (hub mode)
    images_per_day = 40
    [quota.students.alice]      # one student's overrides (before their groups')
    images_per_day = 40
    [class]
    images_per_day = 500        # the whole class together
    [[assignments]]             # while its window is open, each student also has this budget
    name = "lab3"
    start = 2027-02-01T09:00:00Z
    end = 2027-02-01T11:00:00Z
    images = 10

The ``[quota]``, ``[quota.*.*]``, ``[class]``, ``[[assignments]]`` tables, ``store_prompts``, ``store_images`` and
``allow_judge`` are re-read when the file changes, so a teacher raises a limit during a class without a restart;
the other keys are read once at start. A file that no longer parses keeps the last good limits (the teacher page
shows the error).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._secret import Secret
from ..config import env_base_url, env_demo, env_key, hub_api_token
from . import env
from .terms import Assignment, most_generous, parse_assignments

try:
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "ConfigError",
    "ConfigFile",
    "GatewayConfig",
    "GatewaySettings",
    "HubService",
    "Limits",
    "Upstream",
    "default_db_url",
    "parse_config",
    "settings_from_environment",
]

logger = logging.getLogger("wisgate_nb.gateway")
DEFAULT_CONFIG = "gateway.toml"
DB_FILENAME = "wisgate_gateway.sqlite"
_LIMIT_KEYS = ("images_per_day", "images_per_week", "images_total", "requests_per_minute", "max_concurrent")
_TOP_KEYS = {"store_prompts", "store_images", "upstream_timeout", "max_body_mb", "lease_s", "quota", "class", "assignments",
             "allow_judge"}
MAX_LEASE_S = 60.0  # the contract: a stopped gateway's reservations are released within a minute
_RECHECK_S = 1.0  # how often the file's modification time is looked at


class ConfigError(ValueError):
    """gateway.toml is not what the gateway understands (the message says where)."""


@dataclass(frozen=True)
class Limits:
    """One student's limits; None means no limit."""

    images_per_day: int | None = None
    images_per_week: int | None = None
    images_total: int | None = None
    requests_per_minute: int | None = None
    max_concurrent: int | None = None

    def merged(self, override: dict[str, int]) -> Limits:
        return replace(self, **override)

    def as_dict(self) -> dict[str, int | None]:
        return {key: getattr(self, key) for key in _LIMIT_KEYS}



@dataclass(frozen=True)
class GatewayConfig:
    """What gateway.toml says (defaults when there is no file)."""

    quota: Limits = Limits()
    students: dict[str, dict[str, int]] = field(default_factory=dict)
    groups: dict[str, dict[str, int]] = field(default_factory=dict)
    class_images_per_day: int | None = None
    store_prompts: bool = True
    store_images: bool = False
    upstream_timeout: float = 300.0
    max_body_mb: float = 50.0
    allow_judge: bool = False
    lease_s: float = 30.0
    assignments: tuple[Assignment, ...] = ()

    def limits_for(self, student: str, groups: tuple[str, ...] = ()) -> Limits:
        """The default, then the student's hub groups' overrides (the most generous where several set a key),
        then the student's own."""
        from_groups = most_generous([self.groups[g] for g in sorted(groups) if g in self.groups])
        return self.quota.merged(from_groups).merged(self.students.get(student, {}))


def _limit(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where} must be a whole number >= 0, got {value!r}")
    return value


def _limits(table: Any, where: str, allowed: tuple[str, ...] = _LIMIT_KEYS) -> dict[str, int]:
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown key(s) in [{where}]: {', '.join(unknown)}; known: {', '.join(allowed)}")
    return {key: _limit(table[key], f"{where}.{key}") for key in allowed if key in table}


def _positive(doc: dict, key: str, default: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{key} must be a positive number, got {value!r}")
    return float(value)


def _flag(doc: dict, key: str, default: bool) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    return value


def parse_config(text: str, source: str = "gateway.toml") -> GatewayConfig:
    """Parse and check gateway.toml; ConfigError names what is wrong."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) in {source}: {', '.join(unknown)}; known: {', '.join(sorted(_TOP_KEYS))}")
    quota = dict(doc.get("quota", {}))
    students = quota.pop("students", {})
    if not isinstance(students, dict):
        raise ConfigError("[quota.students] must hold one table per student, e.g. [quota.students.alice]")
    overrides = {str(name): _limits(table, f"quota.students.{name}") for name, table in students.items()}
    groups = quota.pop("groups", {})
    if not isinstance(groups, dict):
        raise ConfigError("[quota.groups] must hold one table per JupyterHub group, e.g. [quota.groups.advanced]")
    group_limits = {str(name): _limits(table, f"quota.groups.{name}") for name, table in groups.items()}
    lease = _positive(doc, "lease_s", 30.0)
    if lease > MAX_LEASE_S:
        raise ConfigError(f"lease_s must be at most {MAX_LEASE_S:g} (seconds), got {lease!r}")
    class_table = _limits(doc.get("class", {}), "class", ("images_per_day",))
    return GatewayConfig(
        quota=Limits(**_limits(quota, "quota")),
        students=overrides,
        groups=group_limits,
        class_images_per_day=class_table.get("images_per_day"),
        store_prompts=_flag(doc, "store_prompts", True),
        store_images=_flag(doc, "store_images", False),
        upstream_timeout=_positive(doc, "upstream_timeout", 300.0),
        max_body_mb=_positive(doc, "max_body_mb", 50.0),
        allow_judge=_flag(doc, "allow_judge", False),
        lease_s=lease,
        assignments=parse_assignments(doc.get("assignments", []), ConfigError),
    )


class ConfigFile:
    """gateway.toml, re-read when its modification time changes (looked at once a second at most)."""

    def __init__(self, path: Path, *, clock=time.monotonic):
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked = float("-inf")
        self.error: str | None = None
        self.loaded_at: float | None = None
        self.current = self._read()  # a broken file at start is an error: nothing to fall back on
        if self.error is not None:
            raise ConfigError(self.error)

    def _signature(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def _read(self) -> GatewayConfig:
        self._stamp = self._signature()
        self.loaded_at = time.time()
        if self._stamp is None:
            self.error = None
            return GatewayConfig()
        try:
            config = parse_config(self.path.read_text(encoding="utf-8"), str(self.path))
        except (ConfigError, OSError, UnicodeDecodeError) as exc:
            self.error = str(exc)
            return getattr(self, "current", GatewayConfig())
        self.error = None
        return config

    def get(self) -> GatewayConfig:
        """The limits now: re-read first if the file changed."""
        now = self._clock()
        if now - self._checked < _RECHECK_S:
            return self.current
        with self._lock:
            self._checked = now
            if self._signature() != self._stamp:
                before = self.current
                self.current = self._read()
                if self.error:
                    logger.warning("gateway.toml changed but cannot be used (keeping the last good limits): %s",
                                   self.error)
                elif self.current != before:
                    logger.info("gateway.toml re-read: new limits in force")
        return self.current


@dataclass(frozen=True)
class Upstream:
    """Where the gateway sends images requests, with the teacher's key (masked in repr)."""

    base_url: str
    key: Secret | None
    demo: bool = False


@dataclass(frozen=True)
class HubService:
    """Running as a JupyterHub service: who we are and how to reach the hub."""

    name: str
    api_url: str
    prefix: str
    url: str
    api_token: Secret

    @property
    def scope(self) -> str:
        return f"access:services!service={self.name}"


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the gateway reads once at start."""

    config_path: Path
    db_url: str
    upstream: Upstream
    admin_token: Secret | None = None
    hub: HubService | None = None


def default_db_url(config_path: Path) -> str:
    """A SQLite file beside the config."""
    return f"sqlite:///{(Path(config_path).resolve().parent / DB_FILENAME).as_posix()}"


def settings_from_environment(config: str | None = None, db: str | None = None) -> GatewaySettings:
    """Settings from the command line's --config / --db and the gateway's own environment."""
    saved_config, saved_db = env.gateway_paths()
    config_path = Path(config or saved_config or DEFAULT_CONFIG)
    demo = env_demo()
    key, _ = env_key()
    upstream = Upstream("http://demo.wisgate.invalid/v1", None, True) if demo else Upstream(
        env_base_url().rstrip("/"), key)
    hub = env.hub_service_env()
    service = None
    if hub is not None:
        token = hub_api_token()
        assert token is not None  # hub_service_env() checked it
        prefix = "/" + hub["prefix"].strip("/") + "/"
        service = HubService(hub["name"], hub["api_url"], prefix, hub["url"], token)
    return GatewaySettings(config_path, db or saved_db or default_db_url(config_path), upstream,
                           env.gateway_admin_token(), service)
