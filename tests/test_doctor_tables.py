"""Table tests of %wisgate_doctor's findings (core/doctor.py): what it says about streaming, the endpoint, the
key and the session, as a table and as text — written so that mutation testing (README, "Mutation testing";
tools/mutation.sh) finds no change these tests miss. No socket: the session's demo is the in-process server.
"""

from __future__ import annotations

import platform
from types import SimpleNamespace

import pytest

from wisgate_nb._version import __version__
from wisgate_nb.config import WisGate
from wisgate_nb.core import doctor
from wisgate_nb.core.session import Session
from wisgate_nb.records import Record

TARGET = SimpleNamespace(base_url="https://api.example/v1")


def record(status="ok", stream=True, fallback=None, error_type=None, error=None) -> Record:
    return Record(id="r", session="s", started_at="t", prompt="p", model="m", status=status,
                  params={"stream": True} if stream else {}, stream_fallback=fallback, error_type=error_type,
                  error=error)


def seen(records, fallback=None, target=TARGET) -> str:
    session = SimpleNamespace(stream_fallback=lambda t: fallback if t is target else "asked of another target",
                              history=SimpleNamespace(records=records))
    return doctor.streaming(session, target)


@pytest.mark.parametrize(("records", "said"), [
    ([], "not tried yet this session (try %%wisgate_image --stream)"),
    ([record(stream=False)], "not tried yet this session (try %%wisgate_image --stream)"),
    ([record()], "yes (a streamed request succeeded this session)"),
    ([record(fallback="JSON came"), record()], "yes (a streamed request succeeded this session)"),
    ([record(status="error", error_type="APIError", error="x")], "failing: 1 streamed request failed this session "
                                                                  "(last: APIError: x)"),
    ([record(status="error", error_type="A", error="first"), record(status="error", error_type="B", error="last")],
     "failing: 2 streamed requests failed this session (last: B: last)"),
    ([record(status="error", error_type="A")], "failing: 1 streamed request failed this session (last: A: )"),
    ([record(fallback="one"), record(status="error", fallback="two"), record(fallback="three")],
     "no: streamed requests came without streaming this session (three)"),  # the last one
    ([record(status="cancelled")], "not tried yet this session (try %%wisgate_image --stream)"),
])
def test_what_the_session_saw_of_streaming(records, said):
    assert seen(records) == said


def test_a_long_error_is_shortened():
    said = seen([record(status="error", error_type="E", error="x" * 500)])
    assert said == f"failing: 1 streamed request failed this session (last: E: {'x' * 159}…)"


def test_an_endpoint_that_did_not_stream_says_so_first():
    assert seen([record()], fallback="it sent JSON") == (
        "no: this endpoint did not stream (it sent JSON); streamed requests are sent without streaming this session "
        "and show the final images only")
    assert seen([record()], fallback="it sent JSON", target=None) == "yes (a streamed request succeeded this session)"


@pytest.fixture
def session(tmp_path, monkeypatch):
    for name in ("WISGATE_API_KEY", "WISDOM_GATE_KEY", "WISGATE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    session = Session(WisGate(demo=True, history_dir="runs", size="256x256"))
    yield session
    session.close()


def test_a_demo_session_s_findings(session):
    tokens = session.run(session.prepare("a fox", n=2)).record.total_tokens
    rows = dict(doctor.checks(session))
    assert list(rows)[:3] == ["wisgate_nb", "Python", "frontend"] and rows["wisgate_nb"] == __version__
    assert rows["Python"] == platform.python_version() and rows["API key"] == session.config.key_source()
    assert rows["profile"] == "none" and rows["demo mode"] == "on: embedded demo server, no key, no network"
    assert rows["endpoint"] == "http://demo.wisgate.invalid/v1 (in-process)" and rows["model"] == session.config.model
    assert rows["endpoint answers"].startswith("yes") and "quota" not in rows
    assert rows["history folder"] == str(session.history.folder.relative_to(session.history.folder.parents[1]))
    assert rows["this session"] == f"1 requests, 2 images, {tokens} tokens" and tokens > 0
    session.config.prices = {session.config.model: {"per_image": 0.5}}
    assert dict(doctor.checks(session))["this session"] == f"1 requests, 2 images, {tokens} tokens, estimated cost 1.00"


def test_a_session_whose_endpoint_did_not_stream_says_so(session):
    session._clients.no_stream[session.target().base_url] = "it sent JSON"
    assert dict(doctor.checks(session))["streaming"].startswith("no: this endpoint did not stream (it sent JSON)")


def test_without_a_key_the_endpoint_is_not_checked_and_says_why(session, tmp_path):
    session.config.demo = False
    session.config.history_dir = str(tmp_path / "abs")
    rows = dict(doctor.checks(session))
    assert rows["demo mode"] == "off" and rows["endpoint"].startswith("not checked: No API key is set.")
    assert "model" not in rows and rows["streaming"].startswith("not tried yet")
    assert rows["history folder"] == str(session.history.folder)  # an absolute setting is shown whole
    assert session.history.folder.parent == tmp_path / "abs"


def test_a_real_endpoint_reports_its_quota(session, monkeypatch):
    session.config.demo, session.config.api_key = False, "sk-doctor-tables-0123456789abcdef"
    monkeypatch.setattr(session, "check_endpoint", lambda target: "yes")
    monkeypatch.setattr(session, "quota", lambda target: SimpleNamespace(text=f"12 of 20 images left at {target.base_url}"))
    rows = dict(doctor.checks(session))
    assert rows["endpoint"] == session.config.base_url and rows["quota"] == f"12 of 20 images left at {session.config.base_url}"
    monkeypatch.setattr(session, "quota", lambda target: None)
    assert dict(doctor.checks(session))["quota"] == "none reported (not a classroom gateway)"
    assert "0123456789abcdef" not in str(doctor.report(session))


def test_a_broken_profile_is_a_finding_not_an_error(session, tmp_path):
    session.config.profile = "nowhere"
    assert dict(doctor.checks(session))["profile"].startswith("problem: unknown profile 'nowhere'")
    (tmp_path / "wisgate_nb.toml").write_text('[profiles.nowhere]\nsize = "512x512"\n')
    assert dict(doctor.checks(session))["profile"] == f"nowhere (from {tmp_path / 'wisgate_nb.toml'})"


def test_the_report_is_a_table_and_aligned_text():
    report = doctor.Report([("a", "1"), ("longer", "2 <b>")])
    assert str(report) == repr(report) == "a       1\nlonger  2 <b>"
    assert "<table" in report._repr_html_() and "2 &lt;b&gt;" in report._repr_html_()


def test_the_frontend_is_named_from_what_the_process_shows(monkeypatch):
    monkeypatch.setattr(doctor, "frontend_hint", lambda: None)
    monkeypatch.delitem(__import__("sys").modules, "google.colab", raising=False)
    for shell, said in [(None, "plain Python (no IPython)"), (SimpleNamespace(), "IPython terminal"),
                        (SimpleNamespace(kernel=None), "IPython terminal"),
                        (SimpleNamespace(kernel=object()), "Jupyter (JupyterLab or Notebook; the kernel cannot tell which)")]:
        monkeypatch.setattr("IPython.get_ipython", lambda shell=shell: shell)
        assert doctor.frontend() == said
    monkeypatch.setattr(doctor, "frontend_hint", lambda: "VS Code")
    assert doctor.frontend() == "VS Code"
    monkeypatch.setitem(__import__("sys").modules, "google.colab", SimpleNamespace())
    assert doctor.frontend() == "Google Colab"
