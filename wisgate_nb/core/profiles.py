"""Profiles: named sets of settings from the project's config file.

    # pyproject.toml                         # or wisgate_nb.toml
    [tool.wisgate_nb.profiles.staging]       [profiles.staging]
    base_url = "https://staging.example/v1"  key_env = "STAGING_KEY"
    key_env = "STAGING_KEY"                  model = "gpt-image-2"
    model = "gpt-image-2"
    size = "512x512"
    max_images = 20

A profile names the environment variable holding its key; it never holds a key itself.
Chosen with ``%config WisGate.profile = "staging"`` or ``configure(profile="staging")``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from .._secret import Secret
from ..config import env_var
from ..errors import ConfigurationError
from ..options import PROFILE_KEYS, validate_options

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

_OWN_FIELDS = {"base_url", "key_env", "max_images", "cache", "demo", "description"}
_FIELDS = _OWN_FIELDS | set(PROFILE_KEYS)  # every image option a profile may set comes from the registry
_SECRET_WORDS = ("api_key", "key", "token", "secret", "password")


@dataclass(frozen=True)
class Profile:
    name: str
    source: str
    base_url: str | None = None
    key_env: str | None = None
    max_images: int | None = None
    cache: bool | None = None
    demo: bool = False
    defaults: dict = field(default_factory=dict)

    def key(self, config) -> Secret | None:
        """The key for this profile: from its key_env variable, else the session's key."""
        if not self.key_env:
            return config.api_key
        value = env_var(self.key_env)
        if value is None:
            raise ConfigurationError(
                f"profile {self.name!r} reads its key from the environment variable {self.key_env}, which is not set. "
                f"Set {self.key_env} before starting Jupyter, or choose another profile."
            )
        return Secret(value)


def find_config_files(start: Path | None = None) -> list[Path]:
    """wisgate_nb.toml and pyproject.toml in the working folder or the nearest parent that has one."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        files = [candidate / n for n in ("wisgate_nb.toml", "pyproject.toml") if (candidate / n).is_file()]
        if files:
            return files
    return []


def load_profiles(start: Path | None = None) -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    for path in reversed(find_config_files(start)):  # wisgate_nb.toml wins over pyproject.toml
        with open(path, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
        table = data.get("tool", {}).get("wisgate_nb", {}) if path.name == "pyproject.toml" else data
        for name, values in (table.get("profiles") or {}).items():
            profiles[name] = _parse(name, values, str(path))
    return profiles


def _parse(name: str, values: dict, source: str) -> Profile:
    secret = [k for k in values if k.lower() in _SECRET_WORDS]
    if secret:
        raise ConfigurationError(
            f"profile {name!r} in {source} has {secret[0]!r}: profiles never hold keys. "
            "Name the environment variable instead: key_env = \"MY_KEY_VAR\"."
        )
    unknown = sorted(set(values) - _FIELDS)
    if unknown:
        raise ConfigurationError(f"profile {name!r} in {source}: unknown field(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(sorted(_FIELDS))}")
    try:
        defaults = validate_options(**{k: values[k] for k in PROFILE_KEYS if k in values})
    except ConfigurationError as exc:
        raise ConfigurationError(f"profile {name!r} in {source}: {exc}") from None
    return Profile(name=name, source=source, base_url=values.get("base_url"), key_env=values.get("key_env"),
                   max_images=values.get("max_images"), cache=values.get("cache"), demo=bool(values.get("demo")),
                   defaults=defaults)


def get_profile(name: str, start: Path | None = None) -> Profile:
    profiles = load_profiles(start)
    if name not in profiles:
        near = difflib.get_close_matches(name, profiles, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        known = ", ".join(sorted(profiles)) or "none defined (add [tool.wisgate_nb.profiles.NAME] to pyproject.toml)"
        raise ConfigurationError(f"unknown profile {name!r}.{hint} Known profiles: {known}.")
    return profiles[name]


def active_profile(config, name: str | None = None) -> Profile | None:
    """The profile named for this request, else the session's (%config WisGate.profile), else none."""
    name = name or config.profile
    return get_profile(name) if name else None


