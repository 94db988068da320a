"""The gateway as a JupyterHub-managed service, with a real JupyterHub (dummy authenticator) and its real
configurable-http-proxy: students use their own hub tokens, the hub says who they are, admins are teachers.
The hub configuration is the README's ("Teaching a class"), plus what a test needs (ports, an admin client).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from bounds import FIRST_PARTIAL_BY
from browser import chromium_page, requires_browser
from gateway_helpers import HTTP, REPO, bearer, free_port
from reliability_helpers import wait_until

from wisgate_nb import ConfigurationError, PermissionDeniedError
from wisgate_nb.config import WisGate
from wisgate_nb.core.session import Session
from wisgate_nb.emulator import EmulatorConfig, serve
from wisgate_nb.gateway import quota_left

NODE_DIR = Path(os.environ.get("WISGATE_NODE_DIR") or Path.home() / ".cache" / "wisgate_nb" / "node")
SERVICE = "wisgate"
HUB_START_S = 60.0  # generous: the hub, its proxy and the service start on a shared 2-core machine
HUB_API_TOKEN = "hub-test-admin-client-0f1e2d3c4b5a"
HUB_KEY = "sk-wg-HUBTEST-4d3c2b1a0f9e-teacher"  # the teacher's key, only in a file the service command reads


def _proxy_command() -> str:
    found = shutil.which("configurable-http-proxy") or str(NODE_DIR / "node_modules" / ".bin" / "configurable-http-proxy")
    assert Path(found).exists(), (f"configurable-http-proxy is needed: npm install --prefix {NODE_DIR} "
                                  "configurable-http-proxy (.ci/run installs it)")
    return found


def _config(tmp: Path, hub_port: int, upstream: str) -> str:
    service_port, proxy_api, hub_api = free_port(), free_port(), free_port()
    service_env = {"WISGATE_BASE_URL": upstream, "PYTHONPATH": str(REPO)}
    key_file = tmp / "api_key"
    key_file.write_text(HUB_KEY, encoding="utf-8")
    key_file.chmod(0o600)
    gateway = ["sh", "-c", f"WISGATE_API_KEY=$(cat {key_file}) exec {sys.executable} -m wisgate_nb.cli gateway "
                           f"--config {tmp / 'gateway.toml'}"]
    student_env = {"WISGATE_HUB_AUTH": "1", "WISGATE_BASE_URL": f"http://127.0.0.1:{hub_port}/services/{SERVICE}/v1",
                   "WISGATE_HISTORY_DIR": str(tmp / "student-runs"), "WISGATE_PROBE_DIR": str(tmp),
                   "PYTHONPATH": str(REPO)}
    return f"""
c = get_config()  # noqa
# -- the README's configuration ----------------------------------------------------------------
c.JupyterHub.services = [{{
    "name": "{SERVICE}",
    "url": "http://127.0.0.1:{service_port}",
    "command": {gateway!r},
    "environment": {service_env!r},
    "oauth_no_confirm": True,
}}, {{"name": "test-admin", "api_token": {HUB_API_TOKEN!r}}}]
c.JupyterHub.load_roles = [
    {{"name": "user", "scopes": ["self", "access:services!service={SERVICE}"]}},
    {{"name": "server", "scopes": ["users:activity!user", "access:servers!server",
                                  "access:services!service={SERVICE}"]}},
    {{"name": "{SERVICE}-roster", "scopes": ["list:users", "read:users:name", "read:users:groups"],
      "services": ["{SERVICE}"]}},
    {{"name": "test-admin", "scopes": ["admin:users", "admin:servers", "tokens"], "services": ["test-admin"]}},
]
c.Spawner.environment = {student_env!r}
# -- the test's own ------------------------------------------------------------------------------
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {hub_port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_api}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.ConfigurableHTTPProxy.command = [{_proxy_command()!r}]
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {{"teacher"}}
c.JupyterHub.db_url = "sqlite:///{tmp / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = "{tmp / 'cookie_secret'}"
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{tmp}/home-{{username}}"
c.Spawner.cmd = [{sys.executable!r}, {str(REPO / 'tests' / 'gateway_hub_probe.py')!r}]
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
"""


def _stop(proc: subprocess.Popen, pid_file: Path) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if pid_file.exists():  # a proxy can outlive a hub that died early
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


@pytest.fixture(scope="module")
def upstream():
    """The images API behind the hub's gateway, with a key of its own."""
    with serve(EmulatorConfig(require_key=HUB_KEY)) as handle:
        yield handle


@pytest.fixture(scope="module")
def hub(tmp_path_factory, upstream):
    tmp = tmp_path_factory.mktemp("hub")
    (tmp / "gateway.toml").write_text("[quota]\nimages_per_day = 5\n", encoding="utf-8")
    port = free_port()
    (tmp / "jupyterhub_config.py").write_text(_config(tmp, port, upstream.base_url), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WISGATE_", "WISDOM_", "JUPYTERHUB_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    log = open(tmp / "hub.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(tmp / "jupyterhub_config.py")], cwd=tmp,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    root = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            assert proc.poll() is None, (tmp / "hub.log").read_text()[-3000:]
            try:  # the service answers (401 without a token) through the hub's proxy
                return HTTP.get(f"{root}/services/{SERVICE}/v1/quota", timeout=2).status_code == 401
            except httpx.HTTPError:
                return False

        assert wait_until(up, timeout=HUB_START_S, interval=0.2), (tmp / "hub.log").read_text()[-3000:]
        yield root, tmp
    finally:
        _stop(proc, tmp / "jupyterhub-proxy.pid")
        log.close()


def _hub_api(root: str, method: str, path: str, **kw) -> httpx.Response:
    r = HTTP.request(method, f"{root}/hub/api{path}", headers={"authorization": f"token {HUB_API_TOKEN}"},
                      timeout=30, **kw)
    assert r.status_code < 300, r.text
    return r


def _token(root: str, user: str, scopes: list[str]) -> str:
    _hub_api(root, "POST", f"/users/{user}") if user != "teacher" else None
    return _hub_api(root, "POST", f"/users/{user}/tokens", json={"scopes": scopes, "note": "test"}).json()["token"]


def test_a_student_hub_token_works_with_hub_auth_and_an_admin_reads_the_usage(hub, upstream, tmp_path, monkeypatch):
    root, _tmp = hub
    upstream.emulator.reset()
    base_url = f"{root}/services/{SERVICE}/v1"
    student = _token(root, "student1", [f"access:services!service={SERVICE}"])
    for name in ("WISGATE_API_KEY", "WISDOM_GATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", student)
    monkeypatch.setenv("WISGATE_HUB_AUTH", "1")
    monkeypatch.setenv("WISGATE_BASE_URL", base_url)
    session = Session(WisGate(history_dir=str(tmp_path / "runs"), demo=False))
    assert session.config.hub_auth is True and session.config.api_key is None
    partials: list[float] = []
    try:
        g = session.run(session.prepare("a fox in the snow", size="256x256"))
        upstream.emulator.config.latency = 2.4
        t0 = time.monotonic()
        s = session.run(session.prepare("a comet", size="256x256", stream=True, partial_images=2),
                        on_partial=lambda i, blob: partials.append(time.monotonic() - t0))
        done = time.monotonic() - t0
    finally:
        upstream.emulator.config.latency = 0.0
        session.close()
    assert g.images and g.request_id == upstream.emulator.image_requests[0].request_id
    assert s.images and len(partials) == 2 and partials[0] < FIRST_PARTIAL_BY * done  # streamed through the hub's proxy
    left = quota_left(base_url, student)
    assert left is not None and left.text == "quota: 3 of 5 images left today (resets 00:00 UTC)"
    teacher = _token(root, "teacher", [f"access:services!service={SERVICE}"])
    usage = HTTP.get(f"{root}/services/{SERVICE}/admin/usage", headers=bearer(teacher), timeout=30)
    assert usage.status_code == 200
    assert [(s["student"], s["images_today"]) for s in usage.json()["students"]] == [("student1", 2)]
    refused = HTTP.get(f"{root}/services/{SERVICE}/admin/usage", headers=bearer(student), timeout=30)
    assert refused.status_code == 403 and "Only the teacher" in refused.json()["error"]["message"]


def test_tokens_without_the_service_scope_or_unknown_to_the_hub_are_refused(hub, upstream, tmp_path):
    root, _tmp = hub
    upstream.emulator.reset()
    base_url = f"{root}/services/{SERVICE}/v1"
    narrow = _token(root, "student2", ["users:activity!user"])
    session = Session(WisGate(api_key=narrow, base_url=base_url, demo=False, history_dir=str(tmp_path / "r"),
                              max_retries=0))
    try:
        with pytest.raises(PermissionDeniedError, match=rf"access:services!service={SERVICE}"):
            session.run(session.prepare("a fox", size="256x256"))
    finally:
        session.close()
    bogus = HTTP.post(base_url + "/images/generations", json={"prompt": "a fox"}, timeout=30,
                       headers=bearer("0123456789abcdef0123456789abcdef"))
    assert bogus.status_code == 401 and bogus.json()["error"]["code"] == "invalid_api_key"
    assert "0123456789abcdef" not in bogus.text
    assert upstream.emulator.image_requests == []


def test_a_students_server_spawned_by_the_hub_generates_with_the_readme_settings(hub, upstream):
    root, tmp = hub
    upstream.emulator.reset()
    _hub_api(root, "POST", "/users/student3")
    _hub_api(root, "POST", "/users/student3/server")
    out = tmp / "student3.json"
    try:
        assert wait_until(out.exists, timeout=60, interval=0.2), (tmp / "hub.log").read_text()[-3000:]
        result = json.loads(out.read_text())
    finally:
        HTTP.delete(f"{root}/hub/api/users/student3/server", headers={"authorization": f"token {HUB_API_TOKEN}"},
                     timeout=30)
    assert result["ok"], result
    assert result["images"] == 1 and result["request_id"] == upstream.emulator.image_requests[0].request_id
    assert result["quota"] == "quota: 4 of 5 images left today (resets 00:00 UTC)"


def test_the_teachers_key_is_in_neither_the_hubs_database_nor_its_log(hub):
    _root, tmp = hub
    for name in ("jupyterhub.sqlite", "hub.log", "jupyterhub_config.py"):
        assert HUB_KEY.encode() not in (tmp / name).read_bytes(), name
    assert "wisgate_nb.cli gateway" in (tmp / "hub.log").read_text()  # the log is the service's too


def test_hub_auth_without_a_hub_token_says_so_and_an_explicit_key_wins(monkeypatch, tmp_path):
    for name in ("WISGATE_API_KEY", "WISDOM_GATE_KEY", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WISGATE_HUB_AUTH", "1")
    session = Session(WisGate(history_dir=str(tmp_path / "runs"), demo=False))
    try:
        with pytest.raises(ConfigurationError, match="JUPYTERHUB_API_TOKEN is not set"):
            session.target()
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token-of-this-server-123")
        assert session.target().api_key.get() == "hub-token-of-this-server-123"
        session.config.api_key = "wgs_explicit_key_set_by_the_student"
        assert session.target().api_key.get() == "wgs_explicit_key_set_by_the_student"
        session.config.api_key = None
        session.config.hub_auth = False
        with pytest.raises(ConfigurationError, match="No API key is set"):
            session.target()
    finally:
        session.close()


def _sign_in_through_the_hub(page, url: str, user: str) -> None:
    """Open a page of the service, land on the hub's login, log in, and come back (no server is spawned)."""
    page.goto(url)
    assert "/hub/login" in page.url, page.url
    page.fill("#username_input", user)
    page.fill("#password_input", "any password (dummy authenticator)")
    page.click("#login_submit")
    page.wait_for_url(url)


@requires_browser
def test_a_hub_admin_opens_the_teacher_page_in_a_browser_and_a_student_gets_403(hub):
    root, tmp = hub
    _hub_api(root, "POST", "/users/student4")
    admin_page = f"{root}/services/{SERVICE}/admin/"
    away = HTTP.get(admin_page, timeout=30)  # not logged in: off to the hub's OAuth, which asks for the hub login
    assert away.status_code == 302 and away.headers["location"].startswith("/hub/api/oauth2/authorize?")
    assert "code_challenge=" in away.headers["location"] and "state=" in away.headers["location"]
    stale = httpx.get(admin_page, cookies={f"service-{SERVICE}": "a-token-the-hub-does-not-know"}, timeout=30)
    assert stale.status_code == 302 and stale.headers["location"].startswith("/hub/api/oauth2/authorize?")
    forged = HTTP.get(f"{root}/services/{SERVICE}/oauth_callback?code=c0de&state=not-ours", timeout=30)
    assert forged.status_code == 400 and "open the page again" in forged.text and "set-cookie" not in forged.headers
    landed = HTTP.get(admin_page, timeout=30, follow_redirects=True)
    assert landed.url.path == "/hub/login" and "Classroom gateway" not in landed.text
    with chromium_page() as page:
        _sign_in_through_the_hub(page, admin_page, "teacher")
        assert page.locator("h1").inner_text() == "Classroom gateway"
        assert page.get_by_role("heading", name="Students today").count() == 1
        hub_users = page.locator("h2:text('Hub users') + p + table tbody tr")  # the roster, from the hub's API
        rows = {r.split("\t")[0]: r.split("\t") for r in hub_users.all_inner_texts()}
        assert rows["teacher"][1] == "teacher" and rows["student4"][1:] == ["-", "-", "0", "not started"], rows
        cookies = {c["name"]: c for c in page.context.cookies()}
        signed_in = cookies[f"service-{SERVICE}"]  # the hub's OAuth token for this service, for 12 hours at most
        assert signed_in["httpOnly"] and signed_in["path"] == f"/services/{SERVICE}/"
        assert 0 < signed_in["expires"] - time.time() <= 12 * 3600
        assert not any(name.endswith("-oauth-state") for name in cookies)  # the round trip's state is cleared
        page.goto(f"{root}/services/{SERVICE}/")  # the service root: a teacher gets the link to the page
        assert page.get_by_role("link", name="Teacher page").count() == 1
    with chromium_page() as page:
        _sign_in_through_the_hub(page, f"{root}/services/{SERVICE}/", "student4")
        response = page.goto(admin_page)
        assert response.status == 403 and "signed in as student4" in page.content()
        assert "Students today" not in page.content()
        page.goto(f"{root}/services/{SERVICE}/")  # the service root: their own quota, no teacher link
        assert "student4, your images today" in page.content()
        quota = page.locator("p.quota").inner_text()
        assert "5 of 5 are left" in quota, quota
        assert page.get_by_role("link", name="Teacher page").count() == 0
    assert HUB_KEY.encode() not in (tmp / "hub.log").read_bytes()
