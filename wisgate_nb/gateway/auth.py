"""Who is calling: a student's token, the teacher's admin token, or (as a JupyterHub service) a hub token.

Standalone tokens look like ``wgs_<id>_<secret>``: ``id`` finds the row, and only the SHA-256 of
``secret`` is stored, compared with ``hmac.compare_digest``. The secret is 256 random bits, so a
fast hash is enough (nothing to brute-force). Tokens are never logged and never echoed.

As a JupyterHub service the bearer is the student's own hub token: JupyterHub's ``HubOAuth``
(which caches the hub's answers) says whose it is; it must carry ``access:services!service=<name>``,
and hub admins are teachers. A browser brings the same kind of token in the OAuth cookie that
``oauth`` sets after signing it in through the hub.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select

from . import db
from .env import hub_client_id
from .settings import GatewaySettings, HubService

__all__ = ["ADMIN_COOKIE", "ADMIN_SESSION_S", "AuthError", "Authenticator", "Caller", "LoginLimiter", "add_student",
           "check_name", "student_for_token"]

logger = logging.getLogger("wisgate_nb.gateway")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_TOKEN = re.compile(r"^wgs_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})$")
HUB_CACHE_S = 60  # how long the hub's answer about a token is trusted
ADMIN_COOKIE = "wisgate_gateway_admin"
ADMIN_SESSION_S = 12 * 3600  # a teacher's browser signs in again after this (the cookie's Max-Age too)
LOGIN_FAILURES = 10  # failed sign-ins per client address and LOGIN_WINDOW_S, then 429
LOGIN_WINDOW_S = 60.0


class AuthError(Exception):
    """A refused caller: the HTTP status, the error code and a message that never holds the token."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Caller:
    """An identified caller: a student (with a name) and/or a teacher."""

    name: str | None
    teacher: bool = False
    groups: tuple[str, ...] = ()  # JupyterHub groups (hub mode): they choose the quota overrides


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"a student name is 1-64 letters, digits and . _ @ - (starting with a letter or digit); "
                         f"got {name!r}")
    return name


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def add_student(engine: Engine, name: str) -> tuple[str, bool]:
    """Make (or replace) a student's token: (the token, whether an older one was replaced)."""
    check_name(name)
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    with db.write(engine) as conn:
        replaced = conn.execute(delete(db.students).where(db.students.c.name == name)).rowcount > 0
        conn.execute(insert(db.students).values(name=name, token_id=token_id, token_hash=_digest(secret),
                                                created_at=time.time()))
    return f"wgs_{token_id}_{secret}", replaced


def student_for_token(engine: Engine, token: str) -> str | None:
    """The student whose token this is, or None."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    token_id, secret = match.groups()
    with engine.connect() as conn:
        row = conn.execute(select(db.students.c.name, db.students.c.token_hash)
                           .where(db.students.c.token_id == token_id)).one_or_none()
    if row is None or not hmac.compare_digest(_digest(secret), row.token_hash):
        return None
    return row.name


def bearer(authorization: str) -> str | None:
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() in ("bearer", "token") and token else None


_MISSING = ("You didn't provide an API key. Use your student token as the key: "
            "%wisgate_key in a notebook, or Authorization: Bearer <token>.")
_UNKNOWN = "Incorrect API key provided: this is not a student token of this gateway. Ask your teacher for yours."


class Authenticator:
    """Identifies callers for one gateway (standalone tokens, or a JupyterHub service's hub tokens)."""

    def __init__(self, settings: GatewaySettings, engine: Engine):
        self.engine = engine
        self.admin_token = settings.admin_token
        self.hub = settings.hub
        self._hub_auth = _hub_auth(settings.hub) if settings.hub is not None else None
        self.signin = None
        if settings.hub is not None:
            from .oauth import HubSignIn

            self.signin = HubSignIn(self._hub_auth, settings.hub.prefix, settings.hub.api_token.get())
        self.logins = LoginLimiter()  # failed sign-ins per client address

    def is_admin_token(self, token: str) -> bool:
        return self.admin_token is not None and hmac.compare_digest(token.encode(), self.admin_token.get().encode())

    def admin_session(self, now: float | None = None) -> str | None:
        """A new cookie for the teacher's browser: ``<issued>.<hmac>``, derived from the admin token (never the
        token itself), good for ADMIN_SESSION_S."""
        if self.admin_token is None:
            return None
        issued = str(int(time.time() if now is None else now))
        return f"{issued}.{self._session_mac(issued)}"

    def _session_mac(self, issued: str) -> str:
        assert self.admin_token is not None
        message = b"wisgate-nb gateway admin session " + issued.encode()
        return hmac.new(self.admin_token.get().encode(), message, "sha256").hexdigest()

    def valid_session(self, cookie: str, now: float | None = None) -> bool:
        issued, _, mac = cookie.partition(".")
        if self.admin_token is None or not issued.isascii() or not issued.isdigit() or len(issued) > 12:
            return False
        age = (time.time() if now is None else now) - int(issued)
        return -60 <= age <= ADMIN_SESSION_S and hmac.compare_digest(mac.encode(), self._session_mac(issued).encode())

    async def identify(self, authorization: str, cookie: str | None = None, hub_cookie: str | None = None, *,
                       admin_allowed: bool = True) -> Caller:
        """The caller of a request; ``cookie`` (the admin cookie) and ``hub_cookie`` (OAuth) only for pages.
        ``admin_allowed=False``: the admin token is taken for any other unknown token (a limited address)."""
        token = bearer(authorization)
        if token is None and hub_cookie and self._hub_auth is not None:
            return await self._hub_user(hub_cookie)
        if token is None:
            if cookie and self.valid_session(cookie):
                return Caller(None, teacher=True)
            raise AuthError(401, "invalid_api_key", _MISSING)
        if admin_allowed and self.is_admin_token(token):
            return Caller(None, teacher=True)
        if self._hub_auth is not None:
            return await self._hub_user(token)
        name = await asyncio.to_thread(student_for_token, self.engine, token)  # a replaced token stops at once
        if name is None:
            raise AuthError(401, "invalid_api_key", _UNKNOWN)
        return Caller(name)

    async def identify_at(self, address: str, authorization: str, cookie: str | None = None,
                          hub_cookie: str | None = None) -> Caller:
        """``identify`` for a client at ``address``, where a bearer may be a guess at the admin token; students'
        own tokens are never held up.

        Standalone, a bearer not shaped like a student token counts as a failed sign-in when refused, and a
        limited address gets 429 for such bearers. On JupyterHub any refused bearer counts (a hub token cannot be
        told from a guess by its shape); a limited address's bearers all go to the hub, the admin token too, so
        that a guess that hits it is refused like every other (nothing tells it apart)."""
        token = bearer(authorization)
        on_hub = self.hub is not None
        counted = token is not None and (on_hub or _TOKEN.match(token) is None)
        limited = counted and self.logins.wait(address) is not None
        if limited and not on_hub:
            raise AuthError(429, "too_many_failures", "Too many failed sign-ins from your address; wait a minute.")
        try:
            return await self.identify(authorization, cookie, hub_cookie, admin_allowed=not limited)
        except AuthError as exc:
            if counted and exc.status == 401:
                self.logins.failed(address)
            raise

    async def _hub_user(self, token: str) -> Caller:
        from tornado.web import HTTPError

        assert self.hub is not None and self._hub_auth is not None
        try:
            user = await self._hub_auth.user_for_token(token, sync=False)
        except HTTPError as exc:  # the hub did not answer as it should
            logger.warning("could not check a token with JupyterHub: %s", exc.log_message or exc.status_code)
            raise AuthError(502, "hub_unavailable", "The gateway could not check your token with JupyterHub; "
                            "try again in a moment, and tell your teacher if it persists.") from None
        if not user:
            raise AuthError(401, "invalid_api_key", "Incorrect API key provided: JupyterHub does not know this "
                            "token. In a JupyterHub server, %config WisGate.hub_auth = True sends the right one.")
        if user.get("kind", "user") != "user":
            raise AuthError(403, "permission_denied", "Only JupyterHub users can use this gateway.")
        if not self._hub_auth.check_scopes({self.hub.scope}, user):
            raise AuthError(403, "permission_denied",
                            f"Your JupyterHub token does not grant access to this service ({self.hub.scope}). "
                            "Ask your teacher to add that scope to the 'user' and 'server' roles.")
        return Caller(str(user["name"]), teacher=bool(user.get("admin")),
                      groups=tuple(str(g) for g in user.get("groups") or ()))


class LoginLimiter:
    """Failed sign-ins per client address: LOGIN_FAILURES in LOGIN_WINDOW_S, then refused until one expires."""

    def __init__(self, clock=time.monotonic, max_addresses: int = 10000):
        self._clock, self._max = clock, max_addresses
        self._failures: dict[str, list[float]] = {}

    def _recent(self, address: str) -> list[float]:
        now = self._clock()
        times = [t for t in self._failures.get(address, ()) if now - t < LOGIN_WINDOW_S]
        if times:
            self._failures[address] = times
        else:
            self._failures.pop(address, None)
        return times

    def wait(self, address: str) -> float | None:
        """Seconds until ``address`` may try again, or None if it may now."""
        times = self._recent(address)
        if len(times) < LOGIN_FAILURES:
            return None
        return max(1.0, LOGIN_WINDOW_S - (self._clock() - times[-LOGIN_FAILURES]))

    def failed(self, address: str) -> None:
        if len(self._failures) >= self._max:  # many addresses: forget those with nothing recent
            for stale in [a for a, times in self._failures.items() if self._clock() - times[-1] >= LOGIN_WINDOW_S]:
                del self._failures[stale]
        self._failures.setdefault(address, []).append(self._clock())


def _hub_auth(hub: HubService):
    try:
        from jupyterhub.services.auth import HubOAuth
    except ImportError as exc:
        raise RuntimeError("running as a JupyterHub service needs jupyterhub installed: pip install jupyterhub") from exc
    client_id = hub_client_id(hub.name)
    return HubOAuth(api_token=hub.api_token.get(), api_url=hub.api_url, base_url=hub.prefix,
                    cache_max_age=HUB_CACHE_S, access_scopes={hub.scope}, oauth_client_id=client_id)
