"""The gateway's browser pages and small routes, standalone (a real gateway on a loopback port in front of the
demo server): the service root, ``GET /v1/models``, the admin sign-in form, and %wisgate_doctor against it.
The JupyterHub sign-in is in test_gateway_hub.py (a real hub and Chromium)."""

from __future__ import annotations

import httpx
from gateway_helpers import ADMIN_TOKEN, HTTP, bearer, classroom
from reliability_helpers import HOSTILE, assert_inert

from wisgate_nb.gateway import pages
from wisgate_nb.gateway.auth import Caller


def test_the_service_root_shows_a_student_their_quota_and_a_browser_how_to_use_it(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 5\nmax_concurrent = 2\n") as room:
        token = room.student("ada")
        HTTP.post(room.gw.base_url + "/images/generations", json={"prompt": "a fox", "size": "256x256", "n": 2},
                   headers=bearer(token), timeout=30).raise_for_status()
        mine = HTTP.get(room.gw.root + "/", headers=bearer(token), timeout=30)
        assert mine.status_code == 200 and mine.headers["content-type"].startswith("text/html")
        assert "ada, your images today" in mine.text
        assert "You have used 2 images today; 3 of 5 are left. The count resets at 2" in mine.text
        assert "at most 2 at once" in mine.text and room.gw.base_url in mine.text
        assert 'href="/admin/"' not in mine.text.replace("the teacher page", "")  # no teacher link for a student
        anonymous = HTTP.get(room.gw.root + "/", timeout=30)
        assert anonymous.status_code == 200 and "How to use it" in anonymous.text
        assert "your images today" not in anonymous.text and "%wisgate_key" in anonymous.text
        teacher = HTTP.get(room.gw.root + "/", headers=bearer(ADMIN_TOKEN), timeout=30)
        assert 'href="/admin/">Teacher page</a>' in teacher.text and "your images today" not in teacher.text
        wrong = HTTP.get(room.gw.root + "/", headers=bearer("wgs_0123456789abcdef_" + "x" * 43), timeout=30)
        assert wrong.status_code == 200 and "your images today" not in wrong.text  # a page, not a 401 JSON


def test_the_root_page_escapes_what_a_hub_names(tmp_path):
    view = {"student": HOSTILE[0], "resets_at": "2026-12-08T00:00:00Z", "used": {"images_today": 1},
            "limits": {"images_per_day": 3, "requests_per_minute": None, "max_concurrent": None},
            "remaining": {"images_today": 2}}
    html = pages.home_page(view, Caller(HOSTILE[0], teacher=True), "http://h/" + HOSTILE[1], hub=True,
                          root="/services/x/")
    assert_inert(html, shown=HOSTILE[:2], allow_style=True)


def test_models_lists_the_upstreams_models_for_students_and_teachers_only(server, tmp_path):
    with classroom(tmp_path, server.base_url) as room:
        token = room.student("ada")
        r = HTTP.get(room.gw.base_url + "/models", headers=bearer(token), timeout=30)
        assert r.status_code == 200, r.text
        ids = [m["id"] for m in r.json()["data"]]
        assert r.json()["object"] == "list" and "gpt-image-2" in ids and "dall-e-2" in ids
        assert all(set(m) <= {"id", "object", "created", "owned_by"} and m["object"] == "model" for m in r.json()["data"])
        assert HTTP.get(room.gw.base_url + "/models", headers=bearer(ADMIN_TOKEN), timeout=30).status_code == 200
        refused = HTTP.get(room.gw.base_url + "/models", timeout=30)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"


def test_models_says_so_when_the_upstream_does_not_list_them(tmp_path):
    with classroom(tmp_path, "http://127.0.0.1:9/v1") as room:  # nothing listens on port 9
        r = HTTP.get(room.gw.base_url + "/models", headers=bearer(room.student("ada")), timeout=30)
        assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_models_unavailable"


def test_standalone_keeps_the_token_form_and_has_no_oauth_callback(server, tmp_path):
    with classroom(tmp_path, server.base_url) as room:
        student = room.student("ada")
        form = HTTP.get(room.gw.root + "/admin/", timeout=30)
        assert form.status_code == 401 and 'action="/admin/login"' in form.text
        forbidden = HTTP.get(room.gw.root + "/admin/", headers=bearer(student), timeout=30)
        assert forbidden.status_code == 403 and forbidden.headers["content-type"].startswith("text/html")
        assert "signed in as ada" in forbidden.text
        assert HTTP.get(room.gw.root + "/oauth_callback?code=x&state=y", timeout=30).status_code == 404


def test_the_doctor_finds_the_gateway_answering_models(server, tmp_path):
    from wisgate_nb.core.doctor import report

    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 5\n") as room:
        session = room.session(room.student("jo"))
        try:
            rows = dict(report(session).rows)
        finally:
            session.close()
    assert rows["endpoint answers"].startswith("yes: HTTP 200"), rows["endpoint answers"]
    assert rows["quota"] == "quota: 5 of 5 images left today (resets 00:00 UTC)"


class _HubOAuth:
    """What HubSignIn uses of jupyterhub's HubOAuth (pure logic: the real hub is in test_gateway_hub.py)."""

    login_url = "/hub/api/oauth2/authorize?client_id=service-x&redirect_uri=%2Fservices%2Fx%2Foauth_callback"
    cookie_name, state_cookie_name = "service-x", "service-x-oauth-state"

    def __init__(self):
        self.verifiers: list[str] = []

    async def token_for_code(self, code, *, code_verifier=None, sync=True):
        self.verifiers.append(code_verifier)
        return f"token-for-{code}"


def test_the_oauth_state_is_signed_checked_and_carries_pkce():
    import asyncio
    import base64
    import hashlib
    from urllib.parse import parse_qs, urlsplit

    import pytest

    from wisgate_nb.gateway.oauth import HubSignIn, SignInError

    hub = _HubOAuth()
    signin = HubSignIn(hub, "/services/x/", "service-api-token")
    started = signin.start("/services/x/admin/")
    query = parse_qs(urlsplit(started.url).query)
    state = query["state"][0]
    assert query["client_id"] == ["service-x"] and query["code_challenge_method"] == ["S256"]
    token, back = asyncio.run(signin.finish("c0de", state, started.state_cookie))
    assert (token, back) == ("token-for-c0de", "/services/x/admin/")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(hub.verifiers[0].encode()).digest()).decode().rstrip("=")
    assert challenge == query["code_challenge"][0]
    other = signin.start("/services/x/")
    for code, arg, cookie in [("c", other.state_cookie.split("|")[0], started.state_cookie),  # another sign-in's state
                              ("c", state, started.state_cookie.replace("/admin/", "/evil/")),  # a tampered cookie
                              ("c", state, None), (None, state, started.state_cookie)]:
        with pytest.raises(SignInError):
            asyncio.run(signin.finish(code, arg, cookie))
    forged = HubSignIn(hub, "/services/x/", "another-secret").start("/services/x/admin/")
    with pytest.raises(SignInError):
        asyncio.run(signin.finish("c", forged.state_cookie.split("|")[0], forged.state_cookie))
    other_worker = HubSignIn(_HubOAuth(), "/services/x/", "service-api-token")  # same service, another process
    assert asyncio.run(other_worker.finish("c1", state, started.state_cookie)) == ("token-for-c1", "/services/x/admin/")
    assert [signin.safe_next(p) for p in ("/services/x/admin/", "//evil.example/", "/hub/home", "/services/x//e")] \
        == ["/services/x/admin/", "/services/x/", "/services/x/", "/services/x/"]


def test_the_database_and_its_wal_and_shm_are_for_the_owner_only(server, tmp_path):
    import os
    import stat

    old = tmp_path / "old"
    old.mkdir()
    (old / "gw.sqlite").touch(mode=0o644)  # a database from before: tightened at start
    os.chmod(old / "gw.sqlite", 0o644)
    for where in (tmp_path / "new", old):
        with classroom(where, server.base_url) as room:
            token = room.student("ada")
            HTTP.post(room.gw.base_url + "/images/generations", json={"prompt": "a fox", "size": "256x256"},
                       headers=bearer(token), timeout=30).raise_for_status()
            files = sorted(p.name for p in where.iterdir() if p.name.startswith("gw.sqlite"))
            assert files == ["gw.sqlite", "gw.sqlite-shm", "gw.sqlite-wal"]
            modes = {name: stat.S_IMODE((where / name).stat().st_mode) for name in files}
            assert modes == dict.fromkeys(files, 0o600), modes


def test_the_roster_follows_the_hubs_pages_and_says_which_scopes_it_lacks():
    import asyncio

    from wisgate_nb._secret import Secret
    from wisgate_nb.gateway.roster import Roster, RosterError
    from wisgate_nb.gateway.settings import HubService

    seen = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        offset = int(request.url.params["offset"])
        names = [f"u{i:03d}" for i in range(offset, min(offset + 200, 450))]
        items = [{"kind": "user", "name": n, "admin": n == "u007", "groups": ["advanced"] if n == "u001" else []}
                 for n in names] + [{"kind": "service", "name": "not-a-user"}]
        following = {"offset": offset + 200, "limit": 200} if offset + 200 < 450 else None
        return httpx.Response(200, json={"items": items, "_pagination": {"next": following}})

    service = HubService("wisgate", "http://hub.invalid/hub/api", "/services/wisgate/", "", Secret("svc-token-1"))
    users = asyncio.run(Roster(service, transport=httpx.MockTransport(hub)).users())
    assert len(users) == 450 and [u.name for u in users][:2] == ["u000", "u001"]
    assert users[1].groups == ("advanced",) and users[7].admin and not users[8].admin
    assert [int(r.url.params["offset"]) for r in seen] == [0, 200, 400]
    assert seen[0].headers["authorization"] == "token svc-token-1"
    assert "pagination" in seen[0].headers["accept"]
    refused = Roster(service, transport=httpx.MockTransport(lambda r: httpx.Response(403, json={})))
    try:
        asyncio.run(refused.users())
        raise AssertionError("a refusal must raise")
    except RosterError as exc:
        assert "list:users, read:users:name, read:users:groups" in str(exc)


def test_the_panel_quota_line_follows_magic_cells_and_a_refusal_is_not_a_rate_limit(server, tmp_path, session, shell):
    from reliability_helpers import wait_until

    from wisgate_nb import QuotaExceededError
    from wisgate_nb.widgets import Panel
    from wisgate_nb.widgets.words import explain

    with classroom(tmp_path / "gw", server.base_url, "[quota]\nimages_per_day = 3\n") as room:
        session.config.base_url, session.config.api_key = room.gw.base_url, room.student("kim")
        session.config.max_retries = 0
        panel = Panel(session)
        try:
            assert wait_until(lambda: "quota: 3 of 3 images left today" in panel._totals.value, timeout=10)
            shell.run("%%wisgate_image --size 64x64 -n 2\na fox in the snow")  # a magic cell, not the panel
            assert wait_until(lambda: "quota: 1 of 3 images left today" in panel._totals.value, timeout=10), \
                panel._totals.value
            assert "2 images" in panel._totals.value  # the session's totals moved too
            panel.generate("a comet", size="64x64", n=2)
            panel.wait(30)
            refusal = panel.slots[-1].error
            assert isinstance(refusal, QuotaExceededError)
            words = explain(refusal)
            assert "waiting a moment will not help" in words and "Wait a moment" not in words
            assert "rate limit" not in words.split("(")[0]
            assert words in panel._status.value.replace("&#x27;", "'")
        finally:
            panel.close()


def test_the_review_page_escapes_what_students_wrote():
    entries = [{"file": "gw_0123456789abcdef01234567-0.jpg", "student": HOSTILE[0], "started_at": "2026-12-07T10:00:00Z",
                "prompt": HOSTILE[1], "model": HOSTILE[2], "size": "1024x1024"}]
    blocked = [{"student": HOSTILE[3], "started_at": "2026-12-07T10:00:00Z", "prompt": HOSTILE[4], "error": HOSTILE[5]}]
    assert_inert(pages.review_page(entries, blocked, True), shown=[HOSTILE[0], HOSTILE[1], *HOSTILE[3:6]],
                 allow_style=True)
