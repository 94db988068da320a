"""Profiles from pyproject.toml / wisgate_nb.toml, the reuse cache across Run All, usage, %wisgate_doctor."""

from __future__ import annotations

import pytest
from conftest import TEST_KEY

import wisgate_nb
from wisgate_nb.core.profiles import load_profiles
from wisgate_nb.errors import BudgetExceededError, ConfigurationError


@pytest.fixture
def project(tmp_path, monkeypatch, server):
    """A project folder with profiles in pyproject.toml, as the working directory."""
    (tmp_path / "pyproject.toml").write_text(f"""
[project]
name = "class-project"

[tool.wisgate_nb.profiles.staging]
base_url = "{server.base_url}"
key_env = "STAGING_IMAGES_KEY"
model = "gpt-image-2"
size = "128x128"
max_images = 3

[tool.wisgate_nb.profiles.demo]
demo = true
size = "64x64"
cache = true
""")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_profiles_from_pyproject(project):
    profiles = load_profiles()
    assert set(profiles) == {"staging", "demo"}
    assert profiles["staging"].key_env == "STAGING_IMAGES_KEY"
    assert profiles["staging"].defaults == {"size": "128x128", "model": "gpt-image-2"}


def test_profiles_from_wisgate_nb_toml_win_over_pyproject(project):
    (project / "wisgate_nb.toml").write_text('[profiles.staging]\nsize = "256x256"\n')
    assert load_profiles()["staging"].defaults == {"size": "256x256"}


def test_profile_chosen_by_config_sends_to_its_endpoint_with_its_key(project, session, server, monkeypatch):
    monkeypatch.setenv("STAGING_IMAGES_KEY", TEST_KEY)
    session.config.api_key = None
    session.config.base_url = "http://127.0.0.1:9/v1"  # would fail: the profile's base_url must win
    session.config.profile = "staging"
    g = wisgate_nb.generate("a staged fox")
    assert g.images[0].size == (128, 128)
    assert g.record.profile == "staging" and "profile staging" in g.html()
    assert wisgate_nb.history().df.loc[0, "profile"] == "staging"


def test_profile_key_variable_not_set_is_a_clear_error(project, session, server, monkeypatch):
    monkeypatch.delenv("STAGING_IMAGES_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="STAGING_IMAGES_KEY"):
        wisgate_nb.generate("a fox", profile="staging")
    assert server.emulator.image_requests == []


def test_profile_max_images(project, session, monkeypatch):
    monkeypatch.setenv("STAGING_IMAGES_KEY", TEST_KEY)
    wisgate_nb.configure(profile="staging")
    wisgate_nb.generate("a fox", n=2)
    with pytest.raises(BudgetExceededError):
        wisgate_nb.generate("a fox", n=2)


def test_unknown_profile_suggests_the_near_one(project, session):
    with pytest.raises(ConfigurationError, match="Did you mean 'staging'"):
        wisgate_nb.generate("a fox", profile="stagin")


def test_a_profile_never_holds_a_key(tmp_path, monkeypatch):
    (tmp_path / "wisgate_nb.toml").write_text('[profiles.bad]\napi_key = "sk-in-a-file"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="never hold keys") as info:
        load_profiles()
    assert "sk-in-a-file" not in str(info.value)


def test_demo_profile_cache_makes_run_all_free(project, session, server, shell):
    cell = "%%wisgate_image --profile demo --no-display\na tutorial fox\n---\na tutorial cat"
    shell.run(cell)
    shell.run(cell)  # "Run All" again
    records = session.history.records
    assert [r.reused for r in records] == [False, False, True, True]
    assert all(r.demo and r.profile == "demo" for r in records)
    assert session.history.totals()["images"] == 2
    usage = session.history.usage(by="profile")
    assert usage.loc[0, "requests"] == 4 and usage.loc[0, "images"] == 2 and usage.loc[0, "reused"] == 2


def test_cached_rerun_sends_zero_requests(session, server):
    wisgate_nb.generate("a fox", size="64x64", cache=True)
    server.emulator.reset()
    again = wisgate_nb.generate("a fox", size="64x64", cache=True)
    assert server.emulator.image_requests == []
    assert again.reused and "reused" in again.html()


def test_doctor_reports_without_the_key(session, shell):
    from wisgate_nb.core.doctor import report

    text = str(report(session))
    for label in ("frontend", "profile", "API key", "endpoint answers", "history folder", "streaming"):
        assert label in text
    assert TEST_KEY not in text and "****" in text
    assert "yes" in text.split("endpoint answers", 1)[1].splitlines()[0]


def test_doctor_says_when_the_endpoint_does_not_answer(tmp_path):
    from wisgate_nb.config import WisGate
    from wisgate_nb.core.doctor import report
    from wisgate_nb.core.session import Session

    s = Session(WisGate(api_key=TEST_KEY, base_url="http://127.0.0.1:9/v1", history_dir=str(tmp_path), max_retries=0))
    try:
        text = str(report(s))
    finally:
        s.close()
    assert "no: APIConnectionError" in text and TEST_KEY not in text
