"""Where a request goes: the base URL, the key, demo mode and the profile, resolved from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from .._secret import Secret
from ..config import hub_api_token
from ..errors import ConfigurationError
from ..http.checks import check_settings
from .profiles import Profile, active_profile

DEMO_BASE_URL = "http://demo.wisgate.invalid/v1"
NO_KEY_MESSAGE = (
    "No API key is set. Three ways to go on:\n"
    "  1. set WISGATE_API_KEY (or WISDOM_GATE_KEY) in the environment before starting Jupyter;\n"
    "  2. run %wisgate_key in a cell and paste the key (kept in memory only);\n"
    "  3. use demo mode, no key needed: WISGATE_DEMO=1, wisgate_nb.configure(demo=True) or --demo."
)

HUB_AUTH_MESSAGE = (
    "hub_auth is on (WISGATE_HUB_AUTH=1) but $JUPYTERHUB_API_TOKEN is not set: it works only inside a "
    "JupyterHub server. Set a key with %wisgate_key, or %config WisGate.hub_auth = False."
)


@dataclass(frozen=True)
class Target:
    """Where a request goes: never shows the key."""

    base_url: str
    api_key: Secret | None
    demo: bool
    timeout: float
    max_retries: int
    demo_latency: float = 0.0
    profile: str | None = None
    rate_limit_wait: float = 600.0

    @property
    def where(self) -> str:
        """The endpoint as the history and the cache know it: "demo" or the base URL."""
        return "demo" if self.demo else self.base_url.rstrip("/")


def resolve_target(config, *, demo: bool | None = None, profile: str | Profile | None = None) -> Target:
    """Where requests go now; ConfigurationError (with the three ways on) when there is neither key nor demo.

    The client's own checks (URL, key form, timeout) run here too, before anything is sent or recorded.
    """
    chosen = profile if isinstance(profile, Profile) else active_profile(config, profile)  # a Profile: read already
    name = chosen.name if chosen else None
    demo = config.demo if demo is None else demo
    if chosen is not None and chosen.demo:
        demo = True
    if demo:
        return Target(DEMO_BASE_URL, None, True, config.timeout, config.max_retries, config.demo_latency, name,
                      config.rate_limit_wait)
    key, url = config.api_key, config.base_url
    if chosen is not None:
        key = chosen.key(config)
        url = chosen.base_url or url
    if key is None and config.hub_auth:  # a classroom gateway run as a JupyterHub service
        key = hub_api_token()
        if key is None:
            raise ConfigurationError(HUB_AUTH_MESSAGE)
    if key is None:
        raise ConfigurationError(NO_KEY_MESSAGE)
    base_url, _ = check_settings(url, key.get(), config.timeout, config.max_retries)
    return Target(base_url, key, False, config.timeout, config.max_retries, profile=name,
                  rate_limit_wait=config.rate_limit_wait)
