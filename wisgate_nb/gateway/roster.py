"""The class list of a gateway that is a JupyterHub service: every hub user, from the hub's API.

The teacher page shows it beside the usage, so a teacher sees who has not started. The service's
hub token needs the ``list:users``, ``read:users:name`` and ``read:users:groups`` scopes (the
README's ``jupyterhub_config.py`` grants them in a role of the service). The hub's answer is kept
for ``CACHE_S``; pages of users are followed (JupyterHub's pagination).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from ..http.tls import tls_context
from . import db
from .settings import HubService

__all__ = ["HubUser", "Roster", "RosterError", "first_requests", "roster_rows"]

logger = logging.getLogger("wisgate_nb.gateway")
CACHE_S = 30.0
_PAGE = 200
_PAGINATED = "application/jupyterhub-pagination+json"
SCOPES = ("list:users", "read:users:name", "read:users:groups")


class RosterError(Exception):
    """The hub did not give the list of its users (the message says what to do)."""


@dataclass(frozen=True)
class HubUser:
    name: str
    admin: bool
    groups: tuple[str, ...]


def _user(item: Any) -> HubUser | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or item.get("kind", "user") != "user":
        return None
    groups = item.get("groups") if isinstance(item.get("groups"), list) else []
    return HubUser(item["name"], bool(item.get("admin")), tuple(str(g) for g in groups))


class Roster:
    """Every user of the hub, asked with the service's own hub token."""

    def __init__(self, hub: HubService, *, transport: httpx.AsyncBaseTransport | None = None, clock=time.monotonic):
        self.hub, self._transport, self._clock = hub, transport, clock
        self._cached: list[HubUser] | None = None
        self._at = float("-inf")

    async def users(self) -> list[HubUser]:
        """The hub's users by name; RosterError if the hub refuses or does not answer."""
        if self._cached is not None and self._clock() - self._at < CACHE_S:
            return self._cached
        found: list[HubUser] = []
        headers = {"authorization": f"token {self.hub.api_token.get()}", "accept": _PAGINATED}
        async with httpx.AsyncClient(transport=self._transport, timeout=10.0, headers=headers,
                                     verify=tls_context()) as http:
            offset = 0
            while True:
                try:
                    r = await http.get(f"{self.hub.api_url.rstrip('/')}/users",
                                       params={"offset": offset, "limit": _PAGE})
                except httpx.HTTPError as exc:
                    raise RosterError(f"JupyterHub did not answer ({type(exc).__name__}).") from None
                if r.status_code == 403:
                    raise RosterError("JupyterHub does not let this service list its users: grant the service "
                                      f"the scopes {', '.join(SCOPES)} (see the README's jupyterhub_config.py).")
                if r.status_code != 200:
                    raise RosterError(f"JupyterHub answered HTTP {r.status_code} to the list of its users.")
                doc = r.json()
                items = doc.get("items", []) if isinstance(doc, dict) else doc
                found += [u for u in map(_user, items if isinstance(items, list) else []) if u is not None]
                following = doc.get("_pagination", {}).get("next") if isinstance(doc, dict) else None
                if not following or not items:
                    break
                offset = int(following.get("offset", offset + len(items)))
        self._cached, self._at = sorted(found, key=lambda u: u.name), self._clock()
        return self._cached


def first_requests(engine: Engine) -> dict[str, float]:
    """When each student sent their first request (students who never did are absent)."""
    r = db.requests.c
    with engine.connect() as conn:
        return dict(conn.execute(select(r.student, func.min(r.started_at)).group_by(r.student)).all())


async def roster_rows(roster: Roster, engine: Engine, report: dict[str, Any]) -> list[dict[str, Any]] | str:
    """For the teacher page: each hub user with their images today and first request, or why there is no list."""
    try:
        users = await roster.users()
    except RosterError as exc:
        return str(exc)
    first = await asyncio.to_thread(first_requests, engine)
    today = {s["student"]: s["images_today"] for s in report["students"]}
    return [{"name": u.name, "teacher": u.admin, "groups": ", ".join(u.groups), "images_today": today.get(u.name, 0),
             "first_request": first.get(u.name)} for u in users]
