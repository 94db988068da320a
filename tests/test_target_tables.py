"""Table tests of where a request goes and with which settings — core/targets.py (the base URL, key, demo mode)
and core/profiles.py (named settings from the project's config file) — written so that mutation testing
(README, "Mutation testing") finds no change they miss. Plain settings objects and config files in a temporary
folder; no server, no kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from wisgate_nb._secret import Secret
from wisgate_nb.core.profiles import Profile, active_profile, find_config_files, get_profile, load_profiles
from wisgate_nb.core.targets import DEMO_BASE_URL, HUB_AUTH_MESSAGE, NO_KEY_MESSAGE, Target, resolve_target
from wisgate_nb.errors import ConfigurationError

KEY = "sk-target-tables-0123456789"


@dataclass
class Settings:
    """The settings resolve_target reads, as a notebook user sets them."""

    api_key: Secret | None = None
    base_url: str = "https://api.example/v1"
    demo: bool = False
    timeout: float = 30.0
    max_retries: int = 2
    demo_latency: float = 0.25
    rate_limit_wait: float = 120.0
    hub_auth: bool = False
    profile: str | None = None


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder (the working folder) whose config files the test writes."""
    monkeypatch.chdir(tmp_path)
    for name in ("STAGING_KEY", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


# ---- core/targets.py ----


def test_a_key_and_a_url_make_a_real_target():
    target = resolve_target(Settings(api_key=Secret(KEY), base_url=" https://api.example/v1/ "))
    assert target == Target("https://api.example/v1", Secret(KEY), False, 30.0, 2, 0.0, None, 120.0)
    assert target.where == "https://api.example/v1"


def test_demo_mode_needs_no_key_and_keeps_the_demo_settings():
    target = resolve_target(Settings(demo=True))
    assert target == Target(DEMO_BASE_URL, None, True, 30.0, 2, 0.25, None, 120.0)
    assert target.where == "demo"


@pytest.mark.parametrize(("setting", "asked", "demo"), [
    (False, True, True),   # asked for this request
    (True, False, False),  # the request's own choice wins over the setting
    (True, None, True),    # not asked: the setting
    (False, None, False),
])
def test_a_requests_demo_choice_wins_over_the_setting(setting, asked, demo):
    target = resolve_target(Settings(api_key=Secret(KEY), demo=setting), demo=asked)
    assert target.demo is demo
    assert target.base_url == (DEMO_BASE_URL if demo else "https://api.example/v1")


def test_where_drops_a_trailing_slash():
    assert Target("https://api.example/v1/", None, False, 1.0, 0).where == "https://api.example/v1"


def test_without_a_key_or_demo_the_three_ways_on_are_named(project):
    with pytest.raises(ConfigurationError) as info:
        resolve_target(Settings())
    assert str(info.value) == NO_KEY_MESSAGE


def test_hub_auth_sends_the_hubs_token_as_the_key(project, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token-42")
    target = resolve_target(Settings(hub_auth=True))
    assert target.api_key == Secret("hub-token-42")
    assert not target.demo


def test_hub_auth_outside_a_hub_says_so(project):
    with pytest.raises(ConfigurationError) as info:
        resolve_target(Settings(hub_auth=True))
    assert str(info.value) == HUB_AUTH_MESSAGE


def test_a_set_key_wins_over_hub_auth(project, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token-42")
    assert resolve_target(Settings(api_key=Secret(KEY), hub_auth=True)).api_key == Secret(KEY)


def test_the_clients_checks_run_before_anything_is_sent():
    with pytest.raises(ConfigurationError, match="base_url must be an http"):
        resolve_target(Settings(api_key=Secret(KEY), base_url="ftp://nowhere"))
    with pytest.raises(ConfigurationError, match="timeout must be a positive"):
        resolve_target(Settings(api_key=Secret(KEY), timeout=0))
    with pytest.raises(ConfigurationError) as info:
        resolve_target(Settings(api_key=Secret("sk-pasted with a space")))
    assert str(info.value) == "the API key must be printable ASCII text without spaces"


# ---- core/profiles.py, and a profile as the target reads it ----

PYPROJECT = """
[tool.wisgate_nb.profiles.staging]
base_url = "https://staging.example/v1"
key_env = "STAGING_KEY"
model = "gpt-image-2"
size = "512x512"
max_images = 20
cache = true
description = "the staging server"

[tool.wisgate_nb.profiles.offline]
demo = true
"""


def test_a_profile_is_read_with_its_own_fields_and_checked_options(project):
    (project / "pyproject.toml").write_text(PYPROJECT)
    profiles = load_profiles()
    assert sorted(profiles) == ["offline", "staging"]
    source = str(project / "pyproject.toml")
    assert profiles["staging"] == Profile(name="staging", source=source, base_url="https://staging.example/v1",
                                          key_env="STAGING_KEY", max_images=20, cache=True, demo=False,
                                          defaults={"model": "gpt-image-2", "size": "512x512"})
    assert profiles["offline"] == Profile(name="offline", source=source, demo=True)


def test_wisgate_nb_toml_wins_over_pyproject(project):
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "wisgate_nb.toml").write_text('[profiles.staging]\nsize = "256x256"\n')
    assert find_config_files() == [project / "wisgate_nb.toml", project / "pyproject.toml"]
    staging = get_profile("staging")
    assert (staging.source, staging.defaults, staging.base_url) == (str(project / "wisgate_nb.toml"),
                                                                   {"size": "256x256"}, None)
    assert get_profile("offline").demo is True  # pyproject's other profiles stay


def test_the_nearest_folder_with_a_config_file_is_used(project):
    (project / "wisgate_nb.toml").write_text("[profiles.top]\n")
    inner = project / "a" / "b"
    inner.mkdir(parents=True)
    assert find_config_files(inner) == [project / "wisgate_nb.toml"]
    (inner / "pyproject.toml").write_text("[tool.other]\n")
    assert find_config_files(inner) == [inner / "pyproject.toml"]
    assert load_profiles(inner) == {}  # the nearer file has none: the farther one is not read
    with pytest.raises(ConfigurationError, match="Known profiles: none defined"):
        get_profile("top", inner)
    assert get_profile("top").source == str(project / "wisgate_nb.toml")


def test_a_pyproject_reads_only_its_own_table(project):
    (project / "pyproject.toml").write_text('[profiles.stray]\n[tool.other.profiles.x]\n')
    assert load_profiles() == {}
    (project / "pyproject.toml").write_text('[project]\nname = "no-tool-table"\n')
    assert load_profiles() == {}


@pytest.mark.parametrize(("text", "message"), [
    ('[profiles.p]\napi_key = "sk-1"\n', "profile 'p' in {src} has 'api_key': profiles never hold keys. "
     'Name the environment variable instead: key_env = "MY_KEY_VAR".'),
    ('[profiles.p]\nToken = "x"\n', "profile 'p' in {src} has 'Token': profiles never hold keys."),
    ('[profiles.p]\ncolour = "red"\nshade = 1\n', "profile 'p' in {src}: unknown field(s) colour, shade; known: "),
    ('[profiles.p]\nsize = "13x7"\n', "profile 'p' in {src}: "),
    ("[profiles.p\n", "{src} is not valid TOML: "),
])
def test_a_bad_profile_says_where_and_what(project, text, message):
    (project / "wisgate_nb.toml").write_text(text)
    with pytest.raises(ConfigurationError) as info:
        load_profiles()
    assert str(info.value).startswith(message.format(src=project / "wisgate_nb.toml"))


def test_the_unknown_field_message_lists_every_known_field(project):
    (project / "wisgate_nb.toml").write_text('[profiles.p]\ncolour = "red"\n')
    with pytest.raises(ConfigurationError) as info:
        load_profiles()
    known = str(info.value).split("known: ")[1].split(", ")
    assert known == sorted(known)
    assert {"base_url", "key_env", "max_images", "cache", "demo", "description", "model", "size"} <= set(known)


def test_an_unknown_profile_names_the_nearest_and_the_known(project):
    (project / "pyproject.toml").write_text(PYPROJECT)
    with pytest.raises(ConfigurationError) as info:
        get_profile("stagin")
    assert str(info.value) == "unknown profile 'stagin'. Did you mean 'staging'? Known profiles: offline, staging."
    with pytest.raises(ConfigurationError) as info:
        get_profile("zzz")
    assert str(info.value) == "unknown profile 'zzz'. Known profiles: offline, staging."


def test_with_no_profiles_the_error_says_how_to_add_one(project):
    with pytest.raises(ConfigurationError) as info:
        get_profile("staging")
    assert str(info.value) == ("unknown profile 'staging'. Known profiles: none defined "
                               "(add [tool.wisgate_nb.profiles.NAME] to pyproject.toml).")


def test_the_active_profile_is_the_requests_else_the_sessions(project):
    (project / "pyproject.toml").write_text(PYPROJECT)
    assert active_profile(Settings()) is None
    assert active_profile(Settings(profile="offline")).name == "offline"
    assert active_profile(Settings(profile="offline"), "staging").name == "staging"


def test_a_profile_key_comes_from_its_variable_else_the_sessions(project, monkeypatch):
    session_key = Settings(api_key=Secret(KEY))
    assert Profile("p", "s").key(session_key) == Secret(KEY)
    with pytest.raises(ConfigurationError) as info:
        Profile("p", "s", key_env="STAGING_KEY").key(session_key)
    assert str(info.value) == ("profile 'p' reads its key from the environment variable STAGING_KEY, which is not set. "
                               "Set STAGING_KEY before starting Jupyter, or choose another profile.")
    monkeypatch.setenv("STAGING_KEY", " sk-staging-key ")
    assert Profile("p", "s", key_env="STAGING_KEY").key(session_key) == Secret("sk-staging-key")


def test_a_profile_sets_the_url_key_and_name_of_the_target(project, monkeypatch):
    (project / "pyproject.toml").write_text(PYPROJECT)
    monkeypatch.setenv("STAGING_KEY", "sk-staging-key")
    target = resolve_target(Settings(api_key=Secret(KEY)), profile="staging")
    assert target == Target("https://staging.example/v1", Secret("sk-staging-key"), False, 30.0, 2, 0.0, "staging",
                            120.0)
    same = resolve_target(Settings(api_key=Secret(KEY)), profile=get_profile("staging"))  # a Profile read already
    assert same == target


def test_a_profile_without_a_url_keeps_the_sessions(project):
    (project / "wisgate_nb.toml").write_text("[profiles.plain]\nmodel = \"gpt-image-2\"\n")
    target = resolve_target(Settings(api_key=Secret(KEY), profile="plain"))
    assert (target.base_url, target.api_key, target.profile) == ("https://api.example/v1", Secret(KEY), "plain")


def test_a_demo_profile_is_demo_whatever_is_asked(project):
    (project / "pyproject.toml").write_text(PYPROJECT)
    target = resolve_target(Settings(), demo=False, profile="offline")
    assert target == Target(DEMO_BASE_URL, None, True, 30.0, 2, 0.25, "offline", 120.0)
