"""The classroom gateway (``wisgate-nb gateway``): the teacher's key on one server, a quota per student.

Modules, top to bottom:

- ``cli`` — ``wisgate-nb gateway`` / ``add-student`` / ``usage`` / ``reset`` / ``block`` / ``unblock`` / ``remove``;
- ``server`` — uvicorn: ``run`` (blocking, workers) and ``serve`` (a background thread, for tests);
  ``deadline`` — its protocol, with a deadline for a request's headers;
- ``app`` — the Starlette app: routes, refusals; ``state`` — what the routes share (``Gateway``);
- ``teacher`` — the CSV export, sums over a range, the management buttons (CSRF);
- ``attribution`` — ``safety_identifier`` / ``user`` upstream; ``lease`` — a live process's lease;
- ``page`` — the teacher's page; ``pages`` — the other pages (the service root, review): all the HTML, escaped
  there; ``home`` — the browser routes (service root, OAuth callback, review) and who may see a page;
- ``oauth`` — signing a browser in through JupyterHub; ``roster`` — the hub's users, for the teacher page;
- ``review`` — thumbnails of what students received (``store_images``); ``models`` — ``GET /v1/models``;
  ``files`` — files created 0600;
- ``intake`` — reading a student's request; ``relay`` — forwarding it and relaying the answer;
  ``upstream`` — the httpx client with the teacher's key; ``scrub`` — the key out of all that comes back;
- ``auth`` — student tokens, the admin token, JupyterHub tokens;
- ``manage`` — reset, block, remove; ``reports`` — CSV and sums over a range;
- ``ledger`` — atomic reservations and settlements (``statements``: its SQL; ``refusals``: why, in words);
  ``quotas`` — a student's quota and the class's usage report; ``db`` — tables;
- ``settings`` — gateway.toml and the gateway's settings; ``env`` — the gateway's own environment variables;
- ``terms`` — weeks, the term, assignments;

Importing this package loads neither SQLAlchemy nor Starlette: they load with the app.
"""

from __future__ import annotations

from ..http.quota import QuotaLeft, quota_left  # the student's side lives with the client

__all__ = ["QuotaLeft", "create_app", "quota_left", "serve", "settings_from_environment"]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "serve":
        from .server import serve

        return serve
    if name == "settings_from_environment":
        from .settings import settings_from_environment

        return settings_from_environment
    raise AttributeError(name)
