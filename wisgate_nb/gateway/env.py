"""The gateway's own environment: what JupyterHub hands a hub service, the admin token, the worker hand-over.

The notebook user's settings (the key, the base URL, demo mode) are read in ``config.py``; the gateway reads
those there too and everything that concerns only the gateway here. This module and ``config.py`` are the only
readers of ``os.environ``, and this one its only writer (``export_gateway_paths``, for uvicorn's workers).
"""

from __future__ import annotations

import os

from .._secret import Secret
from ..config import hub_api_token

_GATEWAY_PATHS = ("WISGATE_GATEWAY_CONFIG", "WISGATE_GATEWAY_DB")


def _get(name: str) -> str:
    return os.environ.get(name, "").strip()


def gateway_admin_token() -> Secret | None:
    """$WISGATE_GATEWAY_ADMIN_TOKEN: the teacher's token for the gateway's /admin pages."""
    value = _get("WISGATE_GATEWAY_ADMIN_TOKEN")
    return Secret(value) if value else None


def hub_service_env() -> dict[str, str] | None:
    """The JupyterHub service environment (name, api_url, prefix, url), or None outside a hub service."""
    name = _get("JUPYTERHUB_SERVICE_NAME")
    if not name or hub_api_token() is None:
        return None
    return {
        "name": name,
        "api_url": _get("JUPYTERHUB_API_URL") or "http://127.0.0.1:8081/hub/api",
        "prefix": _get("JUPYTERHUB_SERVICE_PREFIX") or f"/services/{name}/",
        "url": _get("JUPYTERHUB_SERVICE_URL"),
    }


def hub_client_id(service_name: str) -> str:
    """$JUPYTERHUB_CLIENT_ID, the hub service's OAuth client, else JupyterHub's default for the service."""
    return _get("JUPYTERHUB_CLIENT_ID") or f"service-{service_name}"


def gateway_paths() -> tuple[str | None, str | None]:
    """The config file and database URL handed to gateway worker processes (see export_gateway_paths)."""
    return tuple(_get(name) or None for name in _GATEWAY_PATHS)  # type: ignore[return-value]


def export_gateway_paths(config: str, db: str) -> None:
    """Hand the config file and database URL to the worker processes that uvicorn starts."""
    for name, value in zip(_GATEWAY_PATHS, (config, db)):
        os.environ[name] = value
