"""Settings: one traitlets Configurable, ``WisGate``, filled from the environment.

Precedence: explicit argument > ``%config WisGate.x`` / ``configure()`` > environment > default.
This module reads the notebook user's environment; the gateway's own variables are read in ``gateway/env.py``.
No other module reads ``os.environ``, and this one never writes it.
"""

from __future__ import annotations

import os

from traitlets import Bool, Dict, Float, Int, TraitType, Unicode, default, validate
from traitlets.config import Configurable

from ._secret import Secret
from .errors import ConfigurationError

KEY_ENV_VARS = ("WISGATE_API_KEY", "WISDOM_GATE_KEY")


class SecretTrait(TraitType):
    """A trait holding a Secret; assigning a plain string wraps it."""

    default_value = None
    info_text = "an API key (kept in memory, shown masked)"

    def validate(self, obj, value):
        if value is None or isinstance(value, Secret):
            return value
        if isinstance(value, str):
            value = value.strip()
            return Secret(value) if value else None
        self.error(obj, type(value).__name__)


def env_key() -> tuple[Secret | None, str | None]:
    """The key from the environment and the variable it came from."""
    for name in KEY_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return Secret(value), name
    return None, None


def env_var(name: str) -> str | None:
    """An environment variable's value (for profiles that name their key variable)."""
    value = os.environ.get(name, "").strip()
    return value or None


def frontend_hint() -> str | None:
    """The notebook frontend, where its environment variables tell (Colab, VS Code, Binder)."""
    env = os.environ
    if env.get("COLAB_RELEASE_TAG"):
        return "Google Colab"
    if env.get("VSCODE_PID") or env.get("VSCODE_CWD"):
        return "VS Code"
    if env.get("BINDER_SERVICE_HOST") or env.get("BINDER_LAUNCH_HOST"):
        return "Binder (JupyterLab / Notebook)"
    return None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def env_base_url() -> str:
    """$WISGATE_BASE_URL, else WisGate's API."""
    return os.environ.get("WISGATE_BASE_URL", "").strip() or "https://api.wisgate.ai/v1"


def env_demo() -> bool:
    """$WISGATE_DEMO=1: the embedded demo server."""
    return _env_flag("WISGATE_DEMO")


def hub_api_token() -> Secret | None:
    """$JUPYTERHUB_API_TOKEN: this server's token from JupyterHub (sent as the key with ``hub_auth``; a hub
    service such as the gateway has one too)."""
    value = os.environ.get("JUPYTERHUB_API_TOKEN", "").strip()
    return Secret(value) if value else None


class WisGate(Configurable):
    """wisgate_nb settings. Set with ``%config WisGate.NAME = value`` or ``wisgate_nb.configure(NAME=value)``."""

    api_key = SecretTrait(
        allow_none=True,
        help="API key (default: $WISGATE_API_KEY, alias $WISDOM_GATE_KEY). Shown masked; never saved.",
    ).tag(config=True)
    base_url = Unicode(help="OpenAI-compatible API root (default: $WISGATE_BASE_URL or "
                       "https://api.wisgate.ai/v1).").tag(config=True)
    model = Unicode(help="Image model (default: $WISGATE_MODEL or gpt-image-2).").tag(config=True)
    demo = Bool(help="Use the embedded demo server: no key, no network (default: $WISGATE_DEMO=1).").tag(
        config=True
    )
    history_dir = Unicode(help="Folder for the history and image files (default: $WISGATE_HISTORY_DIR or "
                          "./wisgate_runs).").tag(config=True)
    size = Unicode("1024x1024", help="Default image size, WIDTHxHEIGHT or auto.").tag(config=True)
    n = Int(1, help="Default number of images per request (1-10).").tag(config=True)
    quality = Unicode(None, allow_none=True, help="Default quality (low, medium, high, auto); "
                      "unset = server default.").tag(config=True)
    output_format = Unicode(None, allow_none=True, help="Default output format (png, jpeg, webp); "
                            "unset = server default.").tag(config=True)
    timeout = Float(180.0, help="Seconds to wait for one HTTP request before giving up.").tag(config=True)
    max_retries = Int(2, help="Retries on connection errors, timeouts, 408, 409 and 5xx.").tag(config=True)
    rate_limit_wait = Float(600.0, help="Seconds a request may wait for a rate limit (429) before it fails; "
                            "rate-limit waits use no retries.").tag(config=True)
    max_concurrency = Int(4, help="Requests in flight at once for multi-prompt cells, sweeps and batches.").tag(
        config=True
    )
    max_images = Int(0, help="Stop after this many images in this session (0 = no limit).").tag(config=True)
    max_cost = Float(0.0, help="Stop when the estimated cost reaches this (0 = no limit; needs prices).").tag(
        config=True
    )
    prices = Dict(help="Price table per model, e.g. {'gpt-image-2': {'per_image': 0.04}} or "
                  "{'gpt-image-2': {'per_1k_tokens': 0.01}}. No prices are built in.").tag(config=True)
    thumbnail_px = Int(512, help="Long side, in pixels, of the thumbnails shown in the notebook.").tag(config=True)
    demo_latency = Float(0.0, help="Seconds the embedded demo server takes per request (for realism).").tag(
        config=True
    )
    profile = Unicode(None, allow_none=True, help="Name of a profile from pyproject.toml "
                      "[tool.wisgate_nb.profiles.NAME] or wisgate_nb.toml.").tag(config=True)
    cache = Bool(False, help="Reuse an identical earlier result from the history instead of sending.").tag(
        config=True
    )
    hub_auth = Bool(help="On JupyterHub, send this server's $JUPYTERHUB_API_TOKEN as the key, for a classroom "
                    "gateway run as a hub service (default: $WISGATE_HUB_AUTH=1). A key set explicitly wins.").tag(
        config=True
    )

    judge = Unicode(help="Vision chat model that grades images (grade(), experiment(), --grade) on the same endpoint "
                    "and key (default: $WISGATE_JUDGE or gpt-4.1-mini).").tag(config=True)

    @default("api_key")
    def _default_api_key(self):
        return env_key()[0]

    @default("base_url")
    def _default_base_url(self):
        return env_base_url()

    @default("model")
    def _default_model(self):
        return os.environ.get("WISGATE_MODEL", "").strip() or "gpt-image-2"

    @default("judge")
    def _default_judge(self):
        return os.environ.get("WISGATE_JUDGE", "").strip() or "gpt-4.1-mini"

    @default("demo")
    def _default_demo(self):
        return env_demo()

    @default("hub_auth")
    def _default_hub_auth(self):
        return _env_flag("WISGATE_HUB_AUTH")

    @default("history_dir")
    def _default_history_dir(self):
        return os.environ.get("WISGATE_HISTORY_DIR", "").strip() or "wisgate_runs"

    @validate("n")
    def _check_n(self, proposal):
        if not 1 <= proposal["value"] <= 10:
            raise ConfigurationError(f"n must be between 1 and 10, got {proposal['value']}")
        return proposal["value"]

    @validate("size", "quality", "output_format")
    def _check_image_option(self, proposal):
        from .options import validate_options

        name, value = proposal["trait"].name, proposal["value"]
        if value is None:
            return value
        return validate_options(**{name: value})[name]

    @validate("thumbnail_px")
    def _check_thumbnail_px(self, proposal):
        if not 16 <= proposal["value"] <= 4096:
            raise ConfigurationError(f"thumbnail_px must be from 16 to 4096, got {proposal['value']}")
        return proposal["value"]

    @validate("max_images", "rate_limit_wait")
    def _check_max_images(self, proposal):
        if not proposal["value"] >= 0:
            raise ConfigurationError(f"{proposal['trait'].name} must be 0 or more, got {proposal['value']}")
        return proposal["value"]

    @validate("max_concurrency", "max_retries")
    def _check_positive(self, proposal):
        if proposal["value"] < (1 if proposal["trait"].name == "max_concurrency" else 0):
            raise ConfigurationError(f"{proposal['trait'].name} must be positive, got {proposal['value']}")
        return proposal["value"]

    def key_source(self) -> str:
        """Where the key comes from, in words (never the key itself)."""
        if self.api_key is None:
            hub = hub_api_token() if self.hub_auth else None
            return f"$JUPYTERHUB_API_TOKEN, the hub's token for this server ({hub.masked()})" if hub else "no key"
        env_value, name = env_key()
        if env_value is not None and env_value == self.api_key:
            return f"${name} ({self.api_key.masked()})"
        return f"set in this session ({self.api_key.masked()})"

    def settings(self) -> dict:
        """Every setting's current value, the key masked."""
        return {name: getattr(self, name) for name in sorted(self.class_trait_names(config=True))}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"WisGate({inner})"


SETTING_NAMES = tuple(sorted(WisGate.class_trait_names(config=True)))


def apply_settings(config: WisGate, settings: dict) -> None:
    """Set several settings at once; an unknown name is refused before any is changed."""
    unknown = sorted(set(settings) - set(SETTING_NAMES))
    if unknown:
        raise ConfigurationError(
            f"unknown setting(s) {', '.join(unknown)}; known settings: {', '.join(SETTING_NAMES)}"
        )
    try:
        with config.hold_trait_notifications():
            for name, value in settings.items():
                setattr(config, name, value)
    except ConfigurationError:
        raise
    except Exception as exc:  # traitlets.TraitError and friends
        raise ConfigurationError(f"bad setting: {exc}") from None
