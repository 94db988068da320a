"""The teacher's key stays in the gateway: in no response, header, log line (DEBUG on), database row or
error; student tokens are stored hashed and never logged or echoed; the teacher page is inert and
teacher-only.
"""

from __future__ import annotations

import httpx
import openai
import pytest
from gateway_helpers import ADMIN_TOKEN, HTTP, bearer, classroom
from reliability_helpers import HOSTILE, assert_inert, debug_logs, image_bytes

from wisgate_nb import WisGateError
from wisgate_nb.emulator import EmulatorConfig, Fault, serve
from wisgate_nb.gateway import page

KEY = "sk-wg-GATEWAY-8b7a6c5d4e3f-teacher-only"
KEY_CORE = "8b7a6c5d4e3f"
GENERATE = "/images/generations"


@pytest.fixture(scope="module")
def key_server():
    with serve(EmulatorConfig(require_key=KEY)) as handle:
        yield handle


@pytest.fixture
def all_logs():
    """Everything logged at DEBUG by wisgate_nb, httpx, httpcore and the servers, as text."""
    with debug_logs("sqlalchemy.engine") as lines:
        yield lines


def _texts(response: httpx.Response) -> list[str]:
    return [response.text, *(f"{k}: {v}" for k, v in response.headers.multi_items())]


def test_the_key_and_the_tokens_leak_nowhere(key_server, tmp_path, all_logs):
    key_server.emulator.reset()
    seen: list[str] = []
    with classroom(tmp_path, key_server.base_url, "[quota]\nimages_per_day = 8\n", key=KEY) as room:
        token = room.student("ann")
        secret_half = token.split("_", 2)[2]  # wgs_<id>_<secret>: the secret may hold "_" itself
        session = room.session(token)
        try:
            seen.append(repr(session.run(session.prepare("a fox", size="256x256"))))
            session.run(session.prepare("a comet", size="256x256", stream=True, partial_images=1))
            session.run(session.prepare("make it night", endpoint="edits", size="256x256",
                                        images=[image_bytes((128, 128))]))
            with pytest.raises(WisGateError) as caught:
                session.run(session.prepare("a forbidden thing", size="256x256"))  # moderation
            seen += [str(caught.value), repr(caught.value)]
            key_server.emulator.schedule(Fault("status", 500), Fault("status", 429, retry_after=1),
                                         Fault("status", 400, message=f"upstream says: bad key {KEY}"),
                                         Fault("stream_error"))
            for prompt, options in [("a", {}), ("b", {}), ("c", {}), ("d", {"stream": True, "partial_images": 1})]:
                session.config.rate_limit_wait = 0 if prompt == "b" else 600  # the 429 fails rather than waits
                with pytest.raises(WisGateError) as caught:
                    session.run(session.prepare(prompt, size="256x256", **options))
                seen += [str(caught.value), repr(caught.value)]
            with pytest.raises(WisGateError) as caught:  # over the quota now
                for _ in range(8):
                    session.run(session.prepare("again", size="256x256", n=2))
            seen += [str(caught.value), repr(caught.value)]
        finally:
            session.close()
        raw = [
            HTTP.post(room.gw.base_url + GENERATE, content=b"{not json", headers=bearer(token)),
            HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "x"}, headers=bearer("sk-typed-in-class-123")),
            HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "x"}, headers=bearer(token + "x")),
            HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "x"}),
            HTTP.get(room.gw.base_url + "/quota", headers=bearer(token)),
            room.admin("/admin/usage"), room.admin("/admin/"),
            HTTP.get(room.gw.root + "/admin/usage", headers=bearer(token)),
            HTTP.get(room.gw.root + "/nowhere", headers=bearer(token)),
        ]
        assert [r.status_code for r in raw] == [400, 401, 401, 401, 200, 200, 200, 403, 404]
        assert "sk-typed-in-class-123" not in raw[1].text and token not in raw[2].text  # never echoed
        official = openai.OpenAI(base_url=room.gw.base_url, api_key="wgs_0123456789abcdef_" + "z" * 43, max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            official.images.generate(prompt="x", model="gpt-image-2")
        assert "z" * 43 not in str(caught.value)
        seen += [repr(room.gw.gateway.settings), repr(room.gw.gateway.upstream), repr(room.gw.gateway.auth.admin_token)]
        for r in raw:
            seen += _texts(r)
        scrubbed = [r for r in key_server.emulator.image_requests if r.fault == "status"]
        assert len(scrubbed) == 3
    db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("gw.sqlite*"))
    assert db_bytes and b"a forbidden thing" in db_bytes  # the prompts are there...
    logs = "\n".join(all_logs)
    assert "a fox" in logs or "generations" in logs  # ...and the logs were captured
    for needle in (KEY, KEY_CORE):
        assert needle.encode() not in db_bytes
        assert needle not in logs, [line for line in all_logs if needle in line][:3]
        assert not [s for s in seen if needle in s]
    for needle in (token, secret_half):
        assert needle.encode() not in db_bytes  # only its hash is stored
        assert needle not in logs
        assert not [s for s in seen if needle in s]


def test_the_teacher_page_is_inert_and_for_the_teacher_only(server, tmp_path):
    with classroom(tmp_path, server.base_url, "[quota]\nimages_per_day = 20\n") as room:
        token = room.student("obrien")
        for prompt in HOSTILE:
            HTTP.post(room.gw.base_url + GENERATE, json={"prompt": prompt, "size": "256x256"}, headers=bearer(token),
                       timeout=30).raise_for_status()
        HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "x", "model": HOSTILE[1]}, headers=bearer(token),
                   timeout=30)
        shown = room.admin("/admin/")
        assert shown.status_code == 200 and shown.headers["content-type"].startswith("text/html")
        assert_inert(shown.text, shown=[*HOSTILE, "obrien"], allow_style=True, allow_forms=True)
        # hub user names are the hub's to choose: the page escapes them too
        report = room.admin("/admin/usage").json()
        report["students"][0]["student"] = HOSTILE[0]
        recent = [{"student": HOSTILE[2], "time": None, "route": "generations", "model": HOSTILE[3],
                   "size": HOSTILE[4], "n": 1, "images": 0, "outcome": "error", "status": 400, "latency_s": 0.001,
                   "request_id": HOSTILE[5], "assignment": HOSTILE[1], "error": HOSTILE[6], "prompt": HOSTILE[7]}]
        assert_inert(page.page(report, recent, csrf="c", done=HOSTILE[1]), shown=HOSTILE, allow_style=True,
                     allow_forms=True)
        # who may see it
        assert HTTP.get(room.gw.root + "/admin/", headers=bearer(token)).status_code == 403
        assert HTTP.get(room.gw.root + "/admin/usage", headers=bearer(token)).status_code == 403
        assert HTTP.get(room.gw.root + "/admin/usage").status_code == 401
        browser = httpx.Client(base_url=room.gw.root)
        sign_in = browser.get("/admin/")
        assert sign_in.status_code == 401 and 'name="token"' in sign_in.text and "images" not in sign_in.text
        assert browser.post("/admin/login", data={"token": "guess"}).status_code == 401
        signed = browser.post("/admin/login", data={"token": ADMIN_TOKEN})
        assert signed.status_code == 303 and signed.headers["location"] == "/admin/"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert ADMIN_TOKEN not in cookie
        assert browser.get("/admin/").status_code == 200
        assert "obrien" in browser.get("/admin/").text
        # the admin token is not a student
        r = HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "x"}, headers=bearer(ADMIN_TOKEN))
        assert r.status_code == 403 and "add-student" in r.json()["error"]["message"]


def test_prompts_are_not_stored_when_store_prompts_is_false(server, tmp_path):
    with classroom(tmp_path, server.base_url, "store_prompts = false\n") as room:
        token = room.student("pia")
        HTTP.post(room.gw.base_url + GENERATE, json={"prompt": "my secret diary drawing", "size": "256x256"},
                   headers=bearer(token), timeout=30).raise_for_status()
        assert "my secret diary" not in room.admin("/admin/").text
        assert room.usage("pia")["ok_today"] == 1
    assert b"my secret diary" not in b"".join(p.read_bytes() for p in tmp_path.glob("gw.sqlite*"))
