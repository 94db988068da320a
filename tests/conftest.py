"""Shared fixtures: the demo server on a real loopback socket, an isolated session, a test shell."""

from __future__ import annotations

from pathlib import Path

import pytest
from secrets_scan import files_holding, key_needles

from wisgate_nb.config import WisGate
from wisgate_nb.core.session import Session, set_current
from wisgate_nb.emulator import EmulatorConfig, serve

TEST_KEY = "sk-wisgate-test-KEY-0123456789-do-not-leak"
_REPO = Path(__file__).resolve().parent.parent


def pytest_sessionfinish(session, exitstatus):
    """After the last test, whatever the order: no file the run wrote holds the test key.

    Scans the run's whole temporary folder and the repository's notebooks, artifacts and history folder.
    A leak fails the run and names the file.
    """
    factory = getattr(session.config, "_tmp_path_factory", None)
    roots = [_REPO / "notebooks", _REPO / "test-artifacts", _REPO / "wisgate_runs", _REPO / "binder"]
    if factory is not None:
        try:
            roots.append(factory.getbasetemp())
        except (OSError, ValueError):
            pass
    leaks = files_holding(roots, key_needles(TEST_KEY))
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = "\n".join(f"  {leak}" for leak in leaks)
        message = f"a file this run wrote holds the test key:\n{text}"
        reporter.write_line(message, red=True) if reporter else print(message)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def chromium_is_installed():
    """The browser tests need Debian's Chromium and the Playwright package (.ci/run installs both)."""
    from browser import CHROMIUM, browser_available

    if not browser_available():
        pytest.fail(f"the browser tests need {CHROMIUM} (sudo apt-get install -y chromium) and playwright "
                    "(pip install -e '.[dev]'); .ci/run installs them", pytrace=False)


@pytest.fixture(scope="session")
def demo_server():
    """One demo server per test run (loopback, uvicorn); reset before each use by `server`."""
    with serve(EmulatorConfig(require_key=TEST_KEY)) as handle:
        yield handle


@pytest.fixture
def server(demo_server):
    demo_server.emulator.reset()
    demo_server.emulator.config.latency = 0.0
    yield demo_server
    demo_server.emulator.reset()


def _as_current(session: Session):
    """Make a session the kernel's session for one test, then close it and put the old one back."""
    previous = set_current(session)
    try:
        yield session
    finally:
        session.close()
        set_current(previous)


@pytest.fixture
def session(server, tmp_path):
    """A fresh kernel session talking to the loopback demo server with a key, history in tmp_path."""
    config = WisGate(api_key=TEST_KEY, base_url=server.base_url, demo=False, history_dir=str(tmp_path / "runs"),
                     max_retries=2)
    yield from _as_current(Session(config))


@pytest.fixture
def short_backoff(monkeypatch):
    """Retries after 10 ms instead of 0.5 s, for tests that count attempts and check what each ends in, not the
    backoff's length (tests/test_wire_tables.py checks that; a Retry-After still sets its own wait)."""
    from wisgate_nb.http import wire

    monkeypatch.setattr(wire, "INITIAL_RETRY_DELAY", 0.01)


@pytest.fixture
def demo_session(tmp_path):
    """A fresh session in demo mode (in-process demo server, no key, no network)."""
    yield from _as_current(Session(WisGate(demo=True, history_dir=str(tmp_path / "runs"), api_key=None)))


@pytest.fixture
def input_png(tmp_path):
    """A 128x128 PNG to edit."""
    from reliability_helpers import write_image

    return write_image(tmp_path / "input.png", (128, 128))


class _Shell:
    """An IPython shell whose run_cell re-raises the cell's exception, so magic tests fail loudly."""

    def __init__(self, ip):
        self.ip = ip

    def run(self, code: str):
        result = self.ip.run_cell(code, store_history=False)
        if result.error_before_exec is not None:
            raise result.error_before_exec
        if result.error_in_exec is not None:
            raise result.error_in_exec
        return result.result

    @property
    def ns(self) -> dict:
        return self.ip.user_ns


@pytest.fixture
def shell(session):
    """An InteractiveShell with wisgate_nb loaded, bound to the `session` fixture."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "wisgate_nb")
    try:
        yield _Shell(ip)
    finally:
        ip.run_line_magic("unload_ext", "wisgate_nb")
        for name in [n for n in ip.user_ns if not n.startswith("_") and n not in ip.user_ns_hidden]:
            ip.user_ns.pop(name, None)
